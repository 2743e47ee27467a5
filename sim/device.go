package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pushlab/pushlab/relay"
)

// DeviceConfig is who a device is and what its app knows.
type DeviceConfig struct {
	ID       string
	User     string
	Platform string
	// Locale is the phone's language, which the app's login sends (a BCP 47 tag; empty: none).
	Locale   string
	SDKAppID uint64
	// AppSecret signs the app's UserSigs (in reality the app's server does that).
	AppSecret string
	// CertificateID is the push certificate the app reports its token for.
	CertificateID int64
	// SenderID and Package are what the FCM SDK registers with.
	SenderID string
	Package  string
	// Heartbeat is how often the app pings while connected (30 s when zero); it gives up on a
	// connection silent for twice that.
	Heartbeat time.Duration
	// Token, when set, is a fixed FCM token (a real phone's, which a person watches): the app
	// reports it instead of registering with FCM, and the phone has no FCM channel, so no push is
	// observed on it. Refresh and uninstall leave it as it is.
	Token string
	// Installed is whether the app is installed at the start.
	Installed bool
	// Lean keeps no observation log (observations still reach the Env; a push's Data is then
	// the delivered message's own map, to be read only).
	Lean bool
}

// Device is a simulated Android phone with the IM app and the FCM SDK: the app's lifecycle, its
// relay protocol (login, token report after every login, heartbeat, sync, ack, auto-reconnect
// and relogin while it runs), and the phone's FCM side (token, channel, notification tray).
// Everything it sees goes into its observation log. It is driven through an Env; it is not safe
// for concurrent use (sim/live serialises calls).
type Device struct {
	cfg DeviceConfig
	env Env
	rng *rand.Rand
	// sigKey signs the app's UserSigs with cfg.AppSecret: the virtual world's, shared by its
	// phones, or the device's own, made at its first login.
	sigKey *relay.UserSigKey

	installed    bool
	token        string
	tokens       []string // every token the device has had
	fcm          FCMLink
	app          AppState
	forceStopped bool
	netUp        bool

	link      RelayLink
	linkState linkState
	creds     bool // the user is logged in on this phone (cached credentials)
	reportTok bool // report the token after login
	loggedIn  bool // the relay accepted the login on the current connection
	lastSeq   uint64
	nextID    int64
	pending   []pendingRequest // the requests waiting for their replies, in no order
	// pendingIn holds pending's first few, in the device's own memory: at 100,000 phones an
	// array of its own is one more cold read for every request a phone makes.
	pendingIn  [4]pendingRequest
	lastHeard  time.Time
	pingCancel func()
	// pingLink is the link the heartbeat timer pings on; pingTick (the ping method, made once)
	// runs it, so that the day's millions of heartbeats allocate no closure each.
	pingLink RelayLink
	pingTick func()
	backoff  time.Duration
	retry    func()

	unread int
	// tray counts the notifications in the tray: a tap takes the newest, and nothing reads what
	// they said (the observation of each push has it), so a count is all the phone keeps.
	tray      int
	obs       []Observation
	syncedNow []uint64 // seqs received by sync since the latest login

	// The app stores a message when it acknowledges it (or when it came by sync): stored is the
	// newest seq it stored. While holdingAcks (HoldAcks) it takes msg frames in but keeps their
	// acks in heldAcks, oldest first, until ReleaseAcks.
	holdingAcks bool
	heldAcks    []uint64
	stored      uint64
}

type linkState uint8

const (
	linkNone linkState = iota
	linkDialing
	linkOpen
)

// NewDevice builds a device; call Start to bring it to its initial state.
func NewDevice(cfg DeviceConfig, env Env, rng *rand.Rand) *Device {
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 30 * time.Second
	}
	if cfg.Platform == "" {
		cfg.Platform = "android"
	}
	d := &Device{cfg: cfg, env: env, rng: rng, app: AppNotRunning, netUp: true}
	d.pending = d.pendingIn[:0]
	return d
}

// Start installs the app if the device starts with it installed.
func (d *Device) Start() {
	if d.cfg.Installed {
		d.Install()
	}
}

// ID is the device's ID.
func (d *Device) ID() string { return d.cfg.ID }

// User is the device's user.
func (d *Device) User() string { return d.cfg.User }

// Config returns the device's configuration.
func (d *Device) Config() DeviceConfig { return d.cfg }

// Token is the device's current FCM token ("" before install).
func (d *Device) Token() string { return d.token }

// Tokens lists every token the device has had, oldest first.
func (d *Device) Tokens() []string { return d.tokens }

// PendingRequests counts the app's requests to the relay still waiting for their answers.
func (d *Device) PendingRequests() int { return len(d.pending) }

// App is the app's state.
func (d *Device) App() AppState { return d.app }

// LoggedIn reports whether the app is logged in on a live connection.
func (d *Device) LoggedIn() bool { return d.loggedIn }

// Credentials reports whether the user is logged in on this phone (the app would log in again).
func (d *Device) Credentials() bool { return d.creds }

// NetUp reports whether the phone has network.
func (d *Device) NetUp() bool { return d.netUp }

// Observations returns the observation log (the device's own slice: do not modify).
func (d *Device) Observations() []Observation { return d.obs }

// SyncedSinceLogin returns the seqs the app received by sync since its latest login.
func (d *Device) SyncedSinceLogin() []uint64 { return d.syncedNow }

// LastSeq is the last sequence number the app has.
func (d *Device) LastSeq() uint64 { return d.lastSeq }

// State is the device's state now.
func (d *Device) State() DeviceState {
	return DeviceState{Installed: d.installed, App: d.app, ForceStopped: d.forceStopped, Credentials: d.creds,
		LoggedIn: d.loggedIn, NetUp: d.netUp}
}

// observe records an observation with the time and the device's state. Where what is observed
// changes the device (a lifecycle step, a kick, a closed connection, a refused login), the
// observation is made once the change is done (deferred), so that its state is the one the change
// left.
func (d *Device) observe(o Observation) {
	o.At = d.env.Now()
	o.State = d.State()
	if !d.cfg.Lean {
		d.obs = append(d.obs, o)
	}
	d.env.Observe(d, o)
}

// lifecycle observes a lifecycle step; each step defers it, to observe the state it leaves.
func (d *Device) lifecycle(what string) { d.observe(Observation{Kind: ObsLifecycle, Detail: what}) }

// Install installs the app: the FCM SDK gets a token.
func (d *Device) Install() {
	defer d.lifecycle("install")
	if d.installed {
		return
	}
	d.installed = true
	if d.cfg.Token != "" {
		d.OnToken(d.cfg.Token, nil)
		return
	}
	d.env.FCMRegister(d)
}

// OnToken is FCM's answer to a registration or a refresh.
func (d *Device) OnToken(token string, err error) {
	if err != nil {
		d.observe(Observation{Kind: ObsRefused, Detail: "FCM registration failed: " + err.Error()})
		return
	}
	d.token = token
	d.tokens = append(d.tokens, token)
	d.observe(Observation{Kind: ObsToken, Detail: shortToken(token)})
	d.connectFCM()
	// The app hears of a new token through onNewToken and reports it if it is logged in.
	if d.loggedIn && d.reportTok {
		d.request(relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: d.cfg.CertificateID, Token: d.token})
	}
}

func shortToken(t string) string {
	if len(t) > 12 {
		return t[:12] + "…"
	}
	return t
}

// connectFCM opens the phone's FCM channel if it can.
func (d *Device) connectFCM() {
	if d.fcm != nil || !d.installed || d.token == "" || !d.netUp || d.cfg.Token != "" {
		return
	}
	d.fcm = d.env.FCMConnect(d, d.token)
}

func (d *Device) closeFCM() {
	if d.fcm != nil {
		d.fcm.Close()
		d.fcm = nil
	}
}

// Launch starts the app in the foreground; with cached credentials it logs in by itself.
func (d *Device) Launch() {
	defer d.lifecycle("launch")
	d.launch()
}

func (d *Device) launch() {
	if !d.installed || d.app != AppNotRunning {
		if d.app == AppBackground {
			d.Foreground()
		}
		return
	}
	d.app = AppForeground
	if d.forceStopped {
		// Relaunching ends a force-stop: FCM delivers again once the app's channel is back.
		d.forceStopped = false
		d.closeFCM()
		d.connectFCM()
	}
	if d.creds {
		d.connect()
	}
}

// Relaunch starts the app again after a kill or a force-stop (auto-login with cached credentials).
func (d *Device) Relaunch() {
	defer d.lifecycle("relaunch")
	d.launch()
}

// Login has the user log in (launching the app if needed); reportToken false skips the token
// report after the login.
func (d *Device) Login(reportToken bool) {
	defer d.lifecycle("login")
	if !d.installed {
		d.observe(Observation{Kind: ObsRefused, Detail: "login: the app is not installed"})
		return
	}
	d.creds, d.reportTok = true, reportToken
	if d.app == AppNotRunning {
		d.app = AppForeground
		if d.forceStopped {
			d.forceStopped = false
			d.closeFCM()
			d.connectFCM()
		}
	}
	if d.linkState == linkNone {
		d.connect()
	} else if d.linkState == linkOpen && !d.loggedIn && !d.awaiting(relay.OpLogin) {
		d.sendLogin()
	}
}

// ReportToken reports the token now (the app does it after every login anyway).
func (d *Device) ReportToken() {
	defer d.lifecycle("reportToken")
	d.reportTok = true
	if d.loggedIn && d.token != "" {
		d.request(relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: d.cfg.CertificateID, Token: d.token})
	}
}

// Foreground brings the app to the foreground.
func (d *Device) Foreground() {
	defer d.lifecycle("foreground")
	if d.app == AppNotRunning {
		d.launch()
		return
	}
	d.app = AppForeground
	if d.loggedIn {
		d.request(relay.ClientFrame{Op: relay.OpForeground})
	}
}

// Background sends the app to the background, telling the relay its unread count.
func (d *Device) Background(unread int) {
	defer d.lifecycle(fmt.Sprintf("background (unread %d)", unread))
	if d.app == AppNotRunning {
		return
	}
	d.app, d.unread = AppBackground, unread
	if d.loggedIn {
		d.request(relay.ClientFrame{Op: relay.OpBackground, Unread: unread})
	}
}

// Kill swipes the app away: its process dies and its connection with it, without a logout.
func (d *Device) Kill() {
	defer d.lifecycle("kill")
	d.stopApp()
}

func (d *Device) stopApp() {
	d.app = AppNotRunning
	d.dropLink()
	if d.retry != nil {
		d.retry()
		d.retry = nil
	}
	d.backoff = 0
}

// ForceStop force-stops the app: like a kill, and FCM delivers nothing until the app runs again.
func (d *Device) ForceStop() {
	defer d.lifecycle("forceStop")
	d.stopApp()
	if d.installed && d.token != "" && d.cfg.Token == "" {
		d.forceStopped = true
		d.env.FCMForceStop(d, d.token)
	}
}

// NetLoss cuts the phone's network without closing anything: the relay is not told (its view of
// the app's connection goes half-open), and the FCM channel breaks.
func (d *Device) NetLoss() {
	defer d.lifecycle("netLoss")
	if k, ok := d.link.(beatKeeper); ok {
		k.unsteady()
	}
	d.netUp = false
	d.closeFCM()
}

// NetRestore brings the network back: the FCM channel reconnects and a running app reconnects
// and logs in again.
func (d *Device) NetRestore() {
	defer d.lifecycle("netRestore")
	if d.netUp {
		return
	}
	d.netUp = true
	d.connectFCM()
	if d.app != AppNotRunning && d.creds {
		// The phone's old connection is dead; the OS tears it down as the network returns.
		d.dropLink()
		d.connect()
	}
}

// Logout logs the user out; the app stays running.
func (d *Device) Logout() {
	defer d.lifecycle("logout")
	d.creds = false
	if d.loggedIn {
		d.request(relay.ClientFrame{Op: relay.OpLogout})
	}
	d.loggedIn = false
	d.dropAcks()
}

// SwitchUser hands the phone to another user, as a shared phone changes hands: the app's next
// login is user's. Only a phone on which nobody is logged in can change hands; otherwise the
// refusal is observed and returned. The app forgets what it kept for the previous user (the last
// sequence number it took in, what it synced since its login, the unread count, answers still
// due to the previous user's requests), and keeps the install, the FCM token and channel, and its
// connection to the relay if one is open: the next login reports the same token for the new
// user, and the relay must move it. Its lifecycle observation ("switchUser (USER)") is made only
// when the phone changed hands.
func (d *Device) SwitchUser(user string) error {
	var why string
	switch {
	case user == "":
		why = "no user given"
	case user == d.cfg.User:
		why = user + " is already the phone's user"
	case d.creds:
		why = d.cfg.User + " is logged in on the app (log out first)"
	case d.loggedIn || d.awaiting(relay.OpLogin):
		why = d.cfg.User + "'s login is still on the app's connection"
	}
	if why != "" {
		d.observe(Observation{Kind: ObsRefused, Detail: "switchUser: " + why})
		return fmt.Errorf("switchUser %s on %s: %s", user, d.cfg.ID, why)
	}
	defer d.lifecycle(fmt.Sprintf("switchUser (%s)", user))
	d.cfg.User = user
	d.forgetMessages()
	d.syncedNow, d.unread = nil, 0
	// A reply to the previous user's request (a sync, say) is not the new user's to take in.
	d.pending = d.pending[:0]
	return nil
}

// Uninstall removes the app: the process dies and the token is deleted at FCM.
func (d *Device) Uninstall() {
	defer d.lifecycle("uninstall")
	d.stopApp()
	d.closeFCM()
	if d.token != "" && d.cfg.Token == "" {
		d.env.FCMUnregister(d, d.token)
	}
	d.forgetMessages()
	d.installed, d.token, d.creds, d.tray = false, "", false, 0
}

// forgetMessages drops what the app kept of its user's messages (the app's data goes with an
// uninstall, and with a change of user): its next login syncs from the first again.
func (d *Device) forgetMessages() { d.lastSeq, d.stored = 0, 0 }

// TokenRefresh has FCM rotate the token; a running, logged-in app reports the new one.
func (d *Device) TokenRefresh() {
	defer d.lifecycle("tokenRefresh")
	if d.token == "" || d.cfg.Token != "" {
		return
	}
	old := d.token
	d.closeFCM()
	d.token = ""
	d.env.FCMRefresh(d, old)
}

// Tap taps the newest notification in the tray: the app launches (or comes to the foreground).
func (d *Device) Tap() {
	defer d.lifecycle("tap")
	if d.tray == 0 {
		d.observe(Observation{Kind: ObsRefused, Detail: "tap: the notification tray is empty"})
		return
	}
	d.tray--
	if d.app == AppNotRunning {
		d.launch()
	} else {
		d.Foreground()
	}
}

// Send sends a message from the app; it reports false if the app is not logged in.
func (d *Device) Send(f relay.ClientFrame) bool {
	if !d.loggedIn {
		d.observe(Observation{Kind: ObsRefused, Detail: fmt.Sprintf("send %q: the app is not logged in", f.Text)})
		return false
	}
	f.Op = relay.OpSend
	d.request(f)
	return true
}

// SetPushSettings turns the user's pushes on or off from the app (setPushSettings); false if not
// logged in.
func (d *Device) SetPushSettings(enabled bool) bool {
	if !d.loggedIn {
		d.observe(Observation{Kind: ObsRefused, Detail: "setPushSettings: the app is not logged in"})
		return false
	}
	d.request(relay.ClientFrame{Op: relay.OpSetPushSettings, Enabled: &enabled})
	return true
}

// SetReceiveOpt sets the user's receive option for a conversation; false if not logged in.
func (d *Device) SetReceiveOpt(conv, opt string) bool {
	if !d.loggedIn {
		d.observe(Observation{Kind: ObsRefused, Detail: "setReceiveOpt: the app is not logged in"})
		return false
	}
	d.request(relay.ClientFrame{Op: relay.OpSetReceiveOpt, Conv: conv, Opt: opt})
	return true
}
