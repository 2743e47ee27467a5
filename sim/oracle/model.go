package oracle

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
)

// model is what the relay should have done, rebuilt from what crossed its boundary (frames in,
// frames and pushes out, FCM's answers) and from what the run provisioned. Users are keyed by
// (app, user), devices by (app, user, device), as the relay keys them.
type model struct {
	maxAttempts int
	defaultCaps relay.Caps // the relay's caps for apps that set none
	// heartbeatDeadline is how long the relay lets a connection stay silent.
	heartbeatDeadline time.Duration
	// restartedAt is when the relay last restarted from its store.
	restartedAt time.Time
	// fcmOwnThrottles: fakefcm's throttles are FCM's documented ones (none set tighter).
	fcmOwnThrottles bool
	// frameBurst and frameEvery are the relay's flood control (README "App protocol"): each
	// connection may send a burst of frameBurst frames, refilling one every frameEvery; a frame
	// past that is dropped.
	frameBurst int64
	frameEvery int64 // nanoseconds

	apps   map[uint64]*app
	devs   map[relay.DeviceKey]*device
	users  map[relay.UserKey][]*device
	conns  map[relay.ConnID]*conn
	msgs   map[relay.UserKey]map[uint64]relay.StoredMsg
	latest map[relay.UserKey]uint64          // newest seq per user
	muted  map[relay.UserKey]map[string]bool // conv → receive but do not notify
	pushes map[uint64]*push
	// unmuted are the conversations muted once and unmuted since.
	unmuted map[relay.UserKey]map[string]bool
	// pushesOff are the users who turned pushes off; backOn those who turned them on again since.
	pushesOff, backOn map[relay.UserKey]bool
	// owed are the (device, seq) the relay ever owed a decision about a push: messages stored
	// while the device was logged in and away, and frames an ended connection left
	// unacknowledged. undecided are those whose decision is still to come.
	owed      map[owedKey]bool
	undecided map[owedKey]bool
	// held are the seqs a cap held back per device, for a summary push.
	held map[relay.DeviceKey]map[uint64]bool
	// tokens names the device each token was pushed on, for FCM's records.
	tokens map[string]*device
	// contents are the pushes decided so far as first decided, by push ID: their retries
	// carry the same content.
	contents map[uint64]relay.Push
	// channels are the certificates' default Android notification channels, by certificate ID.
	channels map[int64]string
	// reporters names, per (app, token), the (user, device) whose report of it the relay
	// accepted last: the one the token is bound to.
	reporters map[appToken]relay.DeviceKey
	// groupNames are the groups' display names ("" for none).
	groupNames map[groupKey]string
	// nicknames are the users' nicknames as the administrator set them (tapped put-profile
	// inputs); sentBy the nickname of each message's sender when the relay took the message in.
	nicknames map[relay.UserKey]string
	sentBy    map[msgKey]string

	// at is the time of the event being taken in: what a violation found now is dated. now is
	// the latest time the relay was given, which its clock never goes back from.
	at         time.Time
	now        time.Time
	violations []Violation
	reach      Reach
}

// app is one app's rules.
type app struct {
	name string // the title of its summary pushes, when set
	// texts is the app as far as the texts of its pushes go: name, defaultLocale and
	// pushTemplates (README "What the relay decides").
	texts  appTexts
	policy relay.LoginPolicy
	caps   relay.Caps // defaults filled in
	// defaultCaps: the app runs with the relay's built-in default caps, which stay inside FCM's
	// limits.
	defaultCaps bool
}

// device is one phone as the rules see it.
type device struct {
	key      relay.DeviceKey
	platform string
	loggedIn bool
	ended    string       // why the last session ended
	conn     relay.ConnID // the connection it is logged in on; 0 when away
	token    string       // its binding; "" when none
	cert     int64
	// acked is the highest seq the device acknowledged since its latest login: by the protocol's
	// rule (ack {seq}: "the device has the messages up to seq"), every message at or below it is
	// acknowledged, whatever order the acks came in.
	acked uint64
	sent  []time.Time // pushes handed to FCM, for the caps
	// seen is the last seq the app took in since its install, for the no-loss invariant;
	// live the newest it took in from a msg frame (kept when the app forgets).
	seen       uint64
	live       uint64
	relaunched bool
	// loginAt is when its latest login was accepted.
	loginAt time.Time
	// locale is the locale its latest login asked for (canonical; "" for none): the language of
	// the texts the relay writes into its pushes.
	locale string
	// unread is the badge count the relay keeps for the device: set by background {unread},
	// one more per push decided. Kept across logins; a restart keeps it only for a device
	// logged in (its session is stored).
	unread int
}

func (d *device) id() string { return d.key.DeviceID }

// conn is one connection the relay has open.
type conn struct {
	dev     *device
	pending map[int64]relay.ClientFrame
	// sendNicks is, per pending send, its sender's nickname when the relay took it in.
	sendNicks map[int64]string
	framed    []uint64 // seqs written to it as msg frames
	loginSeq  uint64   // the user's newest seq when the device logged in on it
	synced    bool
	heard     time.Time // when the relay last heard from it
	// full is when the connection's frame allowance is whole again (Unix nanoseconds).
	full int64
}

// admit counts a frame received at t (Unix nanoseconds) against the connection's flood
// allowance, and reports whether the relay takes it: each frame owes frameEvery of allowance, and
// a frame that would leave more than a burst owed is dropped.
func (m *model) admit(c *conn, t int64) bool {
	if c.full-(m.frameBurst-1)*m.frameEvery > t {
		return false
	}
	c.full = max(c.full, t) + m.frameEvery
	return true
}

// push is one push the relay handed out.
type push struct {
	dev     *device
	token   string
	seqs    []uint64
	lastErr string
	// sends counts the times it reached FCM; answered is when FCM's latest error came back,
	// retryAfter what that answer asked for.
	sends      int
	answered   time.Time
	retryAfter time.Duration
	// attempt is the attempt number of its latest send. givenUp: FCM refused attempt number
	// maxAttempts for a passing reason, so the relay must give the push up; finalTraced: the
	// trace said so.
	attempt              int
	givenUp, finalTraced bool
}

type owedKey struct {
	dev relay.DeviceKey
	seq uint64
}

// groupKey names a group of an app.
type groupKey struct {
	app uint64
	id  string
}

// msgKey names a message of an app by its ID.
type msgKey struct {
	app uint64
	id  string
}

func compareOwed(a, b owedKey) int {
	return cmp.Or(cmp.Compare(a.dev.SDKAppID, b.dev.SDKAppID), cmp.Compare(a.dev.UserID, b.dev.UserID),
		cmp.Compare(a.dev.DeviceID, b.dev.DeviceID), cmp.Compare(a.seq, b.seq))
}

// builtinCaps are the relay's default caps, which stay inside FCM's per-device limits.
var builtinCaps = relay.Config{}.Effective().DefaultCaps

func newModel(cfg Config) *model {
	eff := cfg.Relay.Effective()
	return &model{maxAttempts: eff.Retry.MaxAttempts, defaultCaps: eff.DefaultCaps, fcmOwnThrottles: ownThrottles(cfg.FCM.Throttles),
		heartbeatDeadline: eff.HeartbeatDeadline.D(), unmuted: map[relay.UserKey]map[string]bool{},
		frameBurst: int64(eff.FrameBurst), frameEvery: int64(time.Second) / int64(eff.FramesPerSecond),
		apps: map[uint64]*app{}, devs: map[relay.DeviceKey]*device{}, users: map[relay.UserKey][]*device{},
		conns: map[relay.ConnID]*conn{}, msgs: map[relay.UserKey]map[uint64]relay.StoredMsg{}, latest: map[relay.UserKey]uint64{},
		muted: map[relay.UserKey]map[string]bool{}, pushes: map[uint64]*push{}, owed: map[owedKey]bool{},
		undecided: map[owedKey]bool{}, held: map[relay.DeviceKey]map[uint64]bool{}, tokens: map[string]*device{},
		contents: map[uint64]relay.Push{}, reporters: map[appToken]relay.DeviceKey{}, groupNames: map[groupKey]string{},
		nicknames: map[relay.UserKey]string{}, sentBy: map[msgKey]string{},
		pushesOff: map[relay.UserKey]bool{}, backOn: map[relay.UserKey]bool{}, channels: map[int64]string{}}
}

// ownThrottles reports whether fakefcm's throttles are FCM's documented ones or looser: zero
// takes FCM's default, negative turns a throttle off.
func ownThrottles(t fakefcm.Throttles) bool {
	count := func(v, def int) bool { return v <= 0 || v >= def }
	return count(t.ProjectPerMinute, fakefcm.DefaultProjectPerMinute) && count(t.DevicePerMinute, fakefcm.DefaultDevicePerMinute) &&
		count(t.DevicePerHour, fakefcm.DefaultDevicePerHour) && count(t.CollapsibleBurst, fakefcm.DefaultCollapsibleBurst) &&
		(t.CollapsibleRefill <= 0 || t.CollapsibleRefill.D() <= fakefcm.DefaultCollapsibleRefill)
}

func (m *model) addApp(a relay.AppConfig) {
	caps := a.Caps
	if caps.PerMinute == 0 {
		caps.PerMinute = m.defaultCaps.PerMinute
	}
	if caps.PerHour == 0 {
		caps.PerHour = m.defaultCaps.PerHour
	}
	if caps.Burst == 0 {
		caps.Burst = m.defaultCaps.Burst
	}
	if caps.Refill == 0 {
		caps.Refill = m.defaultCaps.Refill
	}
	policy := a.LoginPolicy
	if policy == "" {
		policy = relay.PolicySinglePlatform
	}
	m.apps[a.SDKAppID] = &app{name: a.Name, texts: newAppTexts(a), policy: policy, caps: caps, defaultCaps: caps == builtinCaps}
}

// appOf is a device's app: the one the oracle was told of, or the relay's defaults.
func (m *model) appOf(d *device) *app {
	if a := m.apps[d.key.SDKAppID]; a != nil {
		return a
	}
	m.addApp(relay.AppConfig{SDKAppID: d.key.SDKAppID})
	return m.apps[d.key.SDKAppID]
}

func keyOf(d *sim.Device) relay.DeviceKey {
	return relay.DeviceKey{SDKAppID: d.Config().SDKAppID, UserID: d.User(), DeviceID: d.ID()}
}

func (m *model) addDevice(d *sim.Device) {
	k := keyOf(d)
	if m.devs[k] != nil {
		return
	}
	md := &device{key: k, platform: d.Config().Platform}
	m.devs[k] = md
	m.users[k.User()] = append(m.users[k.User()], md)
}

func (m *model) violate(invariant string, dev, format string, args ...any) {
	m.violations = append(m.violations, Violation{Invariant: invariant, Time: m.at, Device: dev, Evidence: fmt.Sprintf(format, args...)})
}

// tap takes one event: what crossed the relay core's boundary.
func (m *model) tap(e sim.TapEvent) {
	m.at = e.Time
	if e.Time.After(m.now) {
		m.now = e.Time
	}
	switch e.Kind {
	case sim.TapInput:
		m.input(e)
	case sim.TapReady:
		m.ready(e.Time, e.Ready)
	case sim.TapFCM:
		if !e.Stale && !e.Push.Test {
			m.invariantNoPushWhilePushesOff(e.Push, "reached FCM")
			m.invariantOneUserPerToken(e.Push, "reached FCM")
			m.invariantNoPushAfterEnd(e.Push, "reached FCM")
			m.invariantRetryBudget(e.Time, e.Push, "reached FCM")
		}
	case sim.TapPartitionMoved:
		// A cluster node took the partition over from the store: for its users, a restart.
		in := func(k relay.DeviceKey) bool {
			return relay.PartitionOf(k.SDKAppID, k.UserID, e.Partition.Count) == e.Partition.Index
		}
		for id, c := range m.conns {
			if c.dev != nil && in(c.dev.key) {
				if c.dev.conn == id {
					c.dev.conn = 0
				}
				delete(m.conns, id)
			}
		}
		for _, d := range m.devs {
			if in(d.key) && !d.loggedIn {
				d.unread = 0
			}
		}
	case sim.TapRestarted:
		m.restartedAt = e.Time
		for id, c := range m.conns {
			if c.dev != nil && c.dev.conn == id {
				c.dev.conn = 0
			}
		}
		clear(m.conns)
		for _, d := range m.devs {
			if !d.loggedIn {
				d.unread = 0 // no session stored: the relay forgot its count
			}
		}
	}
}

// input takes one input of the relay core.
func (m *model) input(e sim.TapEvent) {
	in := e.Input
	switch in.Kind {
	case relay.InputOpen:
		c := &conn{pending: map[int64]relay.ClientFrame{}, sendNicks: map[int64]string{}, heard: e.Time}
		if e.Device != nil {
			c.dev = m.devs[keyOf(e.Device)]
		}
		m.conns[in.Conn] = c
	case relay.InputReceive, relay.InputRefuse:
		c := m.conns[in.Conn]
		if c == nil || !m.admit(c, m.now.UnixNano()) || in.Kind == relay.InputRefuse {
			// A frame past the flood limit is dropped: a request is answered 1004, an ack
			// acknowledges nothing.
			return
		}
		c.heard = e.Time
		f := in.Frame
		if f.Op == relay.OpLogin && c.dev == nil {
			// A live relay's connection says who it is at login.
			c.dev = m.devs[relay.DeviceKey{SDKAppID: f.SDKAppID, UserID: f.UserID, DeviceID: f.DeviceID}]
		}
		if c.dev == nil {
			return
		}
		if f.ID != 0 {
			c.pending[f.ID] = f
		}
		if f.Op == relay.OpSend && f.ID != 0 {
			// The relay titles the message with the nickname its sender has now.
			c.sendNicks[f.ID] = m.nicknames[c.dev.key.User()]
		}
		if f.Op == relay.OpAck && c.dev.loggedIn && c.dev.conn == in.Conn {
			// Cumulative: an ack below the highest so far acknowledges nothing new, and takes
			// nothing back.
			c.dev.acked = max(c.dev.acked, f.Seq)
		}
	case relay.InputClosed:
		m.closed(in.Conn)
	case relay.InputPushResult:
		m.result(e.Time, in.Result)
	case relay.InputKick:
		m.kick(relay.UserKey{SDKAppID: in.App, UserID: in.User})
	case relay.InputSetPushSettings:
		m.setPushes(relay.UserKey{SDKAppID: in.App, UserID: in.User}, in.PushSettings.Enabled)
	case relay.InputPutProfile:
		if validNickname(in.Profile.Nickname) {
			m.nicknames[relay.UserKey{SDKAppID: in.Profile.SDKAppID, UserID: in.Profile.UserID}] = in.Profile.Nickname
		}
	}
}

// setPushes takes a user's push settings, set by the app or the administrator.
func (m *model) setPushes(u relay.UserKey, enabled bool) {
	if m.pushesOff[u] && enabled {
		m.backOn[u] = true
	}
	m.pushesOff[u] = !enabled
}

// closed: a connection ended. If its device stays logged in, what it was written and did not
// acknowledge (or, never synced, everything since its login) is owed a decision again.
func (m *model) closed(id relay.ConnID) {
	c := m.conns[id]
	if c == nil {
		return
	}
	delete(m.conns, id)
	d := c.dev
	if d == nil || d.conn != id {
		return
	}
	d.conn = 0
	if !d.loggedIn {
		return
	}
	if c.synced {
		trailing := false
		for _, s := range c.framed {
			if s > d.acked {
				m.owe(d, s)
				trailing = trailing || s <= d.live
			}
		}
		if trailing {
			m.reach.UnackedAtClose++
		}
		return
	}
	u := d.key.User()
	for s := max(d.acked, c.loginSeq) + 1; s <= m.latest[u]; s++ {
		m.owe(d, s)
	}
}

func (m *model) owe(d *device, seq uint64) {
	if _, ok := m.msgs[d.key.User()][seq]; ok {
		k := owedKey{d.key, seq}
		m.owed[k] = true
		m.undecided[k] = true
	}
}

// end ends a device's session: its binding goes with it.
func (m *model) end(d *device, why string) {
	if why == relay.ReasonKicked && d.loggedIn && d.conn == 0 {
		m.reach.OfflineKick++
	}
	d.loggedIn, d.ended, d.conn, d.token, d.cert = false, why, 0, "", 0
}

// kick is the administrator kicking a user.
func (m *model) kick(u relay.UserKey) {
	for _, d := range m.users[u] {
		if d.loggedIn {
			m.end(d, relay.ReasonKicked)
		}
	}
}

// ready takes the relay's answer to one input. It keeps nothing of rd past the call: the
// world recycles it.
func (m *model) ready(now time.Time, rd *relay.Ready) {
	// Replies first: they change sessions, bindings and receive options.
	for _, f := range rd.Frames {
		if c := m.conns[f.Conn]; c != nil && c.dev != nil && f.Frame.Op == relay.OpReply {
			req, ok := c.pending[f.Frame.ID]
			delete(c.pending, f.Frame.ID)
			if ok && f.Frame.Code == relay.OK {
				m.accepted(f.Conn, c, req, f.Frame)
			}
			delete(c.sendNicks, f.Frame.ID)
		}
	}
	for _, f := range rd.Frames {
		c := m.conns[f.Conn]
		if c == nil || c.dev == nil {
			continue
		}
		switch f.Frame.Op {
		case relay.OpMsg:
			if f.Frame.Msg != nil && f.Frame.Msg.Seq > 0 {
				c.framed = append(c.framed, f.Frame.Msg.Seq)
			}
		case relay.OpKicked:
			if c.dev.loggedIn && c.dev.conn == f.Conn {
				m.violate(LoginPolicy, c.dev.id(), "%s was sent a kicked frame but the rules ended no session of it", c.dev.id())
			}
		}
	}
	for _, cl := range rd.Closes {
		m.closedByRelay(now, cl.Conn)
		m.closed(cl.Conn)
	}
	// Group names title group pushes: the oracle keeps them as the relay stores them.
	for _, r := range rd.Records {
		if pg, ok := r.(relay.PutGroup); ok {
			m.groupNames[groupKey{pg.Group.SDKAppID, pg.Group.ID}] = pg.Group.Name
		}
	}
	// Messages stored now are owed a decision for every device logged in and away.
	for _, r := range rd.Records {
		pm, ok := r.(relay.PutMessage)
		if !ok {
			continue
		}
		u := pm.User
		if m.msgs[u] == nil {
			m.msgs[u] = map[uint64]relay.StoredMsg{}
		}
		m.msgs[u][pm.Msg.Seq] = pm.Msg
		m.invariantSendersNickname(u, pm.Msg)
		m.latest[u] = max(m.latest[u], pm.Msg.Seq)
		for _, d := range m.users[u] {
			if d.loggedIn && d.conn == 0 {
				m.owe(d, pm.Msg.Seq)
				m.reachStored(d, pm.Msg)
			}
		}
	}
	// Every decision owed must come in this same answer.
	decided := map[owedKey]bool{}
	for k := range m.undecided {
		decided[k] = false
	}
	for _, e := range rd.Trace {
		m.traced(e, decided)
	}
	keys := make([]owedKey, 0, len(decided))
	for k := range decided {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareOwed)
	for _, k := range keys {
		delete(m.undecided, k)
		if !decided[k] {
			m.violate(PushedOrExplained, k.dev.DeviceID,
				"%s seq %d: the relay owed a decision (logged in and away when it was stored, or unacknowledged on a connection that ended) and traced none", k.dev.DeviceID, k.seq)
		}
	}
	for _, p := range rd.Pushes {
		if p.Test {
			// An operator's test push checks the path to a phone, not the push rule: only
			// FCM's answer to it counts (UNREGISTERED unbinds the token).
			m.pushes[p.ID] = &push{dev: m.devs[p.Device], token: p.Token, attempt: p.Attempt}
			continue
		}
		m.invariantOneUserPerToken(p, "decided")
		if m.pushes[p.ID] == nil {
			m.invariantNoPushWhilePushesOff(p, "decided")
			m.invariantPushOnlyToKilledLoggedInBound(p)
		} else {
			m.invariantNoPushWhilePushesOff(p, "retried")
			if m.pushes[p.ID].lastErr == "UNAVAILABLE" {
				m.reach.RetryAfter503++
			}
			if m.pushes[p.ID].retryAfter > 0 {
				m.reach.RetryAfterHonoured++
			}
			m.invariantNoPushAfterEnd(p, "retried")
			m.invariantRetryBudget(now, p, "retried")
		}
		if mp := m.pushes[p.ID]; mp != nil {
			mp.attempt = p.Attempt
		}
		m.invariantNoPushOfAcknowledged(p)
		m.invariantCaps(now, p)
		m.invariantPushContent(p)
	}
}

// accepted applies a request the relay answered OK.
func (m *model) accepted(id relay.ConnID, c *conn, req relay.ClientFrame, reply relay.ServerFrame) {
	d := c.dev
	u := d.key.User()
	switch req.Op {
	case relay.OpLogin:
		if nd, switched := m.loginSwitches(id, c, req); switched {
			if nd == nil {
				return // a device the oracle was not told of
			}
			d, u = nd, nd.key.User()
		}
		policy := m.appOf(d).policy
		for _, o := range m.users[u] {
			if o == d || !o.loggedIn {
				continue
			}
			if policy == relay.PolicySingle || (policy == relay.PolicySinglePlatform && o.platform == d.platform) {
				m.end(o, relay.ReasonKicked)
			}
		}
		// A login starts the connection afresh: what came before it is the app's to sync.
		d.loggedIn, d.conn, d.acked, d.loginAt = true, id, 0, m.at
		d.locale = canonicalLocale(req.Locale)
		c.loginSeq, c.framed, c.synced = m.latest[u], nil, false
	case relay.OpLogout:
		m.end(d, relay.ReasonLoggedOut)
	case relay.OpSetPushToken:
		m.reported(d, req.Token)
		for _, o := range m.devs {
			if o != d && o.token == req.Token {
				o.token, o.cert = "", 0 // a token already bound to another device moves
			}
		}
		d.token, d.cert = req.Token, req.CertificateID
	case relay.OpSetReceiveOpt:
		if m.muted[u] == nil {
			m.muted[u] = map[string]bool{}
		}
		if m.muted[u][req.Conv] && req.Opt != relay.ReceiveNotNotify {
			if m.unmuted[u] == nil {
				m.unmuted[u] = map[string]bool{}
			}
			m.unmuted[u][req.Conv] = true
		}
		m.muted[u][req.Conv] = req.Opt == relay.ReceiveNotNotify
	case relay.OpSetPushSettings:
		if req.Enabled != nil {
			m.setPushes(u, *req.Enabled)
		}
	case relay.OpBackground:
		d.unread = req.Unread
	case relay.OpSync:
		if !reply.More {
			c.synced = true
		}
	case relay.OpSend:
		if nick, ok := c.sendNicks[req.ID]; ok && reply.MsgID != "" {
			m.sentBy[msgKey{u.SDKAppID, reply.MsgID}] = nick
		}
		if req.OnlineOnly && req.To != "" {
			for _, o := range m.users[relay.UserKey{SDKAppID: u.SDKAppID, UserID: req.To}] {
				if o.loggedIn && o.conn == 0 && o.token != "" && req.To != u.UserID {
					m.reach.OnlineOnlyToKilled++
				}
			}
		}
	}
}

// traced checks one push-trace entry against the model and settles what it decides.
func (m *model) traced(e relay.TraceEntry, decided map[owedKey]bool) {
	key := relay.DeviceKey{SDKAppID: e.SDKAppID, UserID: e.UserID, DeviceID: e.DeviceID}
	d := m.devs[key]
	if d == nil {
		return
	}
	seqs := e.Seqs
	if e.Seq != 0 {
		seqs = []uint64{e.Seq}
	}
	if p := m.pushes[e.PushID]; e.PushID != 0 && p != nil && p.givenUp {
		m.invariantGivenUpAtBudget(e, p)
	}
	switch e.Reason {
	case relay.ReasonLoggedOut, relay.ReasonKicked:
		if d.loggedIn {
			m.violate(PushedOrExplained, d.id(), "%s traced %s for %v but its session is on", d.id(), e.Reason, seqs)
		}
	case relay.ReasonOnline:
		if d.conn == 0 {
			m.violate(PushedOrExplained, d.id(), "%s traced online for %v but it is away", d.id(), seqs)
		}
	case relay.ReasonNoBinding:
		if p := m.pushes[e.PushID]; e.PushID == 0 && d.token != "" || p != nil && d.token == p.token {
			m.violate(PushedOrExplained, d.id(), "%s traced no-binding for %v but it is bound", d.id(), seqs)
		}
	case relay.ReasonUserDisabled:
		if !m.pushesOff[key.User()] {
			m.violate(NoPushWhilePushesOff, d.id(), "%s traced user-disabled for %v but its user %s has pushes on", d.id(), seqs, key.UserID)
		}
	case relay.ReasonCapped:
		if m.pushesOff[key.User()] {
			m.violate(NoPushWhilePushesOff, d.id(), "%s held %v for a summary push while its user %s has pushes off", d.id(), seqs, key.UserID)
		}
		m.reachCaps(d, m.at)
		for _, s := range seqs {
			if m.held[key] == nil {
				m.held[key] = map[uint64]bool{}
			}
			m.held[key][s] = true
		}
		if why := m.pushable(d, seqs); why != "" {
			m.violate(PushOnlyToKilledLoggedInBound, d.id(), "%s held %v for a summary: %s", d.id(), seqs, why)
		}
	case relay.ReasonMuted, relay.ReasonPushDisabled, relay.ReasonOwnMessage:
		for _, s := range seqs {
			if !m.explains(d, s, e.Reason) {
				m.violate(PushedOrExplained, d.id(), "%s seq %d traced %s, which does not hold", d.id(), s, e.Reason)
			}
		}
	}
	if e.PushID == 0 || e.Reason == relay.ReasonPushed {
		for _, s := range seqs {
			k := owedKey{key, s}
			if _, ok := decided[k]; ok {
				decided[k] = true
			}
		}
	}
	if e.PushID == 0 && e.Reason != relay.ReasonCapped {
		for _, s := range seqs {
			delete(m.held[key], s) // a held summary cancelled
		}
	}
}

// explains reports whether a non-push reason holds for a message to a device.
func (m *model) explains(d *device, seq uint64, reason string) bool {
	u := d.key.User()
	msg, ok := m.msgs[u][seq]
	if !ok {
		return false
	}
	switch reason {
	case relay.ReasonMuted:
		return m.muted[u][msg.Conv]
	case relay.ReasonPushDisabled:
		return msg.PushOptions().Disable
	case relay.ReasonOwnMessage:
		return msg.From == d.key.UserID
	}
	return false
}

// pushable says why messages may not be pushed to a device ("" if they may).
func (m *model) pushable(d *device, seqs []uint64) string {
	switch {
	case !d.loggedIn:
		return "not logged in"
	case d.conn != 0:
		return "connected"
	case d.token == "":
		return "not bound"
	}
	u := d.key.User()
	for _, s := range seqs {
		msg, ok := m.msgs[u][s]
		switch {
		case !ok:
			return fmt.Sprintf("seq %d is no stored message of %s", s, u.UserID)
		case msg.From == u.UserID:
			return fmt.Sprintf("seq %d is the user's own message", s)
		case msg.PushOptions().Disable:
			return fmt.Sprintf("seq %d has its push disabled", s)
		}
	}
	return ""
}

// result takes FCM's answer to a push.
func (m *model) result(now time.Time, r relay.PushResult) {
	p := m.pushes[r.ID]
	if p == nil || r.Err == nil {
		return
	}
	p.lastErr = r.Err.Code
	p.answered, p.retryAfter = now, r.Err.RetryAfter
	if retryable(r.Err.Code) && p.attempt >= m.maxAttempts {
		p.givenUp = true
		m.reach.LastAttemptFailed++
	}
	if r.Err.Code == "UNREGISTERED" || r.Err.TokenInvalid {
		for _, d := range m.devs {
			if d.token == p.token {
				d.token, d.cert = "", 0
				m.reach.Unregistered++
			}
		}
	}
}

// observed checks what a phone took in: the no-loss invariant's order half.
func (m *model) observed(dev *sim.Device, o sim.Observation) {
	d := m.devs[keyOf(dev)]
	if d == nil {
		return // the install at AddDevice comes before the oracle is told of the phone
	}
	m.at = o.At
	switch o.Kind {
	case sim.ObsLifecycle:
		switch o.Detail {
		case "uninstall":
			d.seen, d.live = 0, 0
		case "relaunch":
			d.relaunched = true
		default:
			if strings.HasPrefix(o.Detail, "switchUser") {
				d.seen = 0 // the app took nothing in for this user since it changed hands
			}
		}
	case sim.ObsMsg, sim.ObsSynced:
		if o.Seq == 0 {
			return
		}
		if o.Seq != d.seen+1 {
			m.violate(NoLoss, d.id(), "%s took in seq %d (%s) after seq %d", d.id(), o.Seq, o.Kind, d.seen)
		}
		d.seen = o.Seq
		if o.Kind == sim.ObsMsg {
			d.live = o.Seq
		}
		if o.Kind == sim.ObsSynced && d.relaunched {
			m.reach.SyncAfterRelaunch++
			d.relaunched = false
		}
	case sim.ObsForgot:
		// The app forgot what it never acknowledged (its acks were held): it takes those in
		// again, by sync, from the newest it kept.
		d.seen = min(d.seen, o.Seq)
	case sim.ObsDuplicate:
		m.violate(NoLoss, d.id(), "%s got seq %d a second time (%s)", d.id(), o.Seq, o.Detail)
	case sim.ObsPush:
		if o.State.App == sim.AppNotRunning {
			m.reach.PushToKilled++
		}
	}
}

// retryable reports whether FCM's answer (or the sender's) is one the relay retries: DESIGN.md
// retries QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL, timeouts and network errors.
func retryable(code string) bool {
	switch code {
	case "QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL", relay.ErrCodeNetwork, relay.ErrCodeTimeout:
		return true
	}
	return false
}

// reachStored counts the combinations a message stored for a killed, logged-in device puts to
// the test, if the device is bound and the message is not its user's own.
func (m *model) reachStored(d *device, msg relay.StoredMsg) {
	u := d.key.User()
	if d.token == "" || msg.From == u.UserID {
		return
	}
	switch {
	case m.pushesOff[u]:
		m.reach.PushesOffToKilled++
	case m.backOn[u]:
		m.reach.PushesBackOnToKilled++
	}
	switch {
	case msg.PushOptions().Disable:
		m.reach.PushDisabledToKilled++
	case m.muted[u][msg.Conv]:
		m.reach.MutedToKilled++
	case m.unmuted[u][msg.Conv]:
		m.reach.UnmutedToKilled++
	}
	if msg.Group != "" {
		m.reach.GroupToKilled++
	}
}

// reachCaps counts a push decided or held for a device while a push of an earlier session of
// it, or from before the latest restart, is inside its caps' minute.
func (m *model) reachCaps(d *device, now time.Time) {
	var login, restart bool
	for _, at := range d.sent {
		if now.Sub(at) >= time.Minute {
			continue
		}
		login = login || at.Before(d.loginAt)
		restart = restart || at.Before(m.restartedAt)
	}
	if login {
		m.reach.CapsAcrossLogin++
	}
	if restart {
		m.reach.CapsAcrossRestart++
	}
}

// closedByRelay counts a connection the relay closes after it stayed silent past the heartbeat
// deadline while frames written to it were unacknowledged: a half-open connection whose
// messages must now be pushed.
func (m *model) closedByRelay(now time.Time, id relay.ConnID) {
	c := m.conns[id]
	if c == nil || c.dev == nil || c.dev.conn != id || !c.dev.loggedIn || now.Sub(c.heard) < m.heartbeatDeadline {
		return
	}
	if slices.ContainsFunc(c.framed, func(s uint64) bool { return s > c.dev.acked }) {
		m.reach.HalfOpenClosed++
	}
}
