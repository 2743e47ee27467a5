package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/sim"
)

// Config is what a live or remote world is built from.
type Config struct {
	// Seed drives the devices' draws, the links' loss draws and (embedded) both cores.
	Seed uint64
	// Relay and FCM configure the embedded relay and fakefcm. With Remote, Relay must be zero
	// (a remote relay's rules are its operator's: compare them through RelaySettings), and FCM
	// is applied to the remote fakefcm's behaviour.
	Relay relay.Config
	FCM   fakefcm.Behaviour
	// Loss is the share of app frames every phone's link loses (until SetLink).
	Loss float64
	// DB is the embedded relay's store (StackConfig.DB): empty for a temporary SQLite file.
	DB string
	// InMemory serves the embedded stack on in-memory listeners (tests in a synctest bubble).
	InMemory bool
	// Tap, if set, is told of the embedded relay core's inputs and answers, one at a time.
	Tap func(sim.TapEvent)
	// Logger receives the embedded servers' log lines; nil discards them.
	Logger *slog.Logger
	// Remote names servers started elsewhere: the world then starts none.
	Remote *Remote
	// Stack is an embedded stack started already (pushsim serve's): the world drives phones
	// against it, as the live twin, and leaves it running at Close. Seed, Loss, Logger and Settle
	// apply; the stack's own settings (Relay, FCM, DB, InMemory, Tap) are not the world's.
	Stack *Stack
	// Cluster, if set, makes the embedded relay a cluster of relay processes (see ClusterConfig);
	// fakefcm stays embedded. Its nodes' cores cannot be tapped: Tap must be unset.
	Cluster *ClusterConfig
	// Settle, if set, runs after the world lets time pass or changes the servers: tests in a
	// testing/synctest bubble pass synctest.Wait, so that what was set off has landed.
	Settle func()
}

// Remote names a relay (and, when given, a fakefcm) started elsewhere.
type Remote struct {
	RelayURL string
	AdminKey string
	// FCMURL is the fakefcm the relay's certificates point at. Empty means the relay pushes to
	// an FCM pushsim cannot watch (Google's, in staging): the world's FCM is FCMUnwatched.
	FCMURL string
	// HTTP and Dialer, when set, reach both servers (the admin and control APIs; the phones'
	// WebSockets): a Stack's own, for servers it serves in memory. Nil: plain TCP clients.
	HTTP   *http.Client
	Dialer *websocket.Dialer
}

// World is the live twin (an embedded Stack) or the remote twin (servers elsewhere) of the world
// port: simulated phones over real sockets, on the real clock.
type World struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	stack  *Stack       // nil for a remote world; fakefcm alone for a cluster world
	cl     *liveCluster // the relay cluster, for a cluster world
	admin  *client.Admin
	fcm    *control.Client // nil when FCM cannot be watched
	fcmURL string
	devs   *devices
	notify chan struct{}

	// offset shifts a remote world's app and certificate IDs, so that runs sharing a relay do not
	// see each other's users; zero for an embedded world.
	offset   uint64
	mu       sync.Mutex // guards apps and projects
	apps     []uint64   // the (shifted) apps the world created, for its trace
	projects []string   // the fakefcm projects of its certificates, for its records and faults
}

// Open builds a world: an embedded stack is started, or the remote servers are reached.
func Open(ctx context.Context, cfg Config) (*World, error) {
	if cfg.Remote != nil {
		if err := cfg.checkRemote(); err != nil {
			return nil, err
		}
	}
	if cfg.Stack != nil {
		if err := cfg.checkStack(); err != nil {
			return nil, err
		}
	}
	if cfg.Cluster != nil {
		if err := cfg.checkCluster(); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &World{cfg: cfg, ctx: ctx, cancel: cancel, notify: make(chan struct{}, 1)}
	var dialer *websocket.Dialer
	var relayURLOf func(index int) string
	if st := cfg.Stack; st != nil {
		w.stack, w.admin, w.fcm, w.fcmURL, dialer = st, st.Admin, st.Control, st.FCMURL, st.Dialer
	} else if cfg.Cluster != nil {
		st, err := StartStack(ctx, StackConfig{Seed: cfg.Seed, FCM: cfg.FCM, FCMOnly: true, Logger: cfg.Logger})
		if err != nil {
			cancel()
			return nil, err
		}
		w.stack, w.fcm, w.fcmURL, dialer = st, st.Control, st.FCMURL, st.Dialer
		if w.cl, err = startCluster(ctx, cfg, DevAdminKey); err != nil {
			cancel()
			_ = st.Close()
			return nil, err
		}
		w.admin = &client.Admin{BaseURL: w.cl.adminURL(), Key: DevAdminKey,
			HTTP: &http.Client{Timeout: 30 * time.Second, Transport: nodeRouter{c: w.cl, next: http.DefaultTransport}}}
		relayURLOf = w.cl.urlFor
	} else if cfg.Remote == nil {
		var tap *tapAdapter
		if cfg.Tap != nil {
			tap = &tapAdapter{fn: cfg.Tap}
		}
		sc := StackConfig{Seed: cfg.Seed, Relay: cfg.Relay, FCM: cfg.FCM, DB: cfg.DB, InMemory: cfg.InMemory, Logger: cfg.Logger}
		if tap != nil {
			sc.Tap = tap
		}
		st, err := StartStack(ctx, sc)
		if err != nil {
			cancel()
			return nil, err
		}
		w.stack, w.admin, w.fcm, w.fcmURL, dialer = st, st.Admin, st.Control, st.FCMURL, st.Dialer
	} else {
		r := cfg.Remote
		hc := r.HTTP
		dialer = r.Dialer
		if hc == nil {
			hc = &http.Client{Timeout: 30 * time.Second}
		}
		if dialer == nil {
			dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		}
		w.admin = &client.Admin{BaseURL: r.RelayURL, Key: r.AdminKey, HTTP: hc}
		// Without a fakefcm the relay's apps and certificates exist already: the world uses
		// them as they are, under their own IDs (see AddApp).
		if r.FCMURL != "" {
			w.offset = 1 + rand.Uint64N(1_000_000) // a shell's draw: each run its own IDs
			w.fcmURL = r.FCMURL
			w.fcm = &control.Client{BaseURL: r.FCMURL, HTTP: hc, Dialer: dialer}
			if err := w.fcm.SetBehaviour(ctx, cfg.FCM); err != nil {
				cancel()
				return nil, fmt.Errorf("set the fakefcm's behaviour at %s: %w", r.FCMURL, err)
			}
		}
	}
	w.devs = newDevices(devicesConfig{RelayURL: w.admin.BaseURL, RelayURLOf: relayURLOf, FCM: w.fcm, Seed: cfg.Seed, Loss: cfg.Loss, Dialer: dialer})
	w.OnObserve(nil) // waits end early on observations, whoever else listens
	return w, nil
}

// checkRemote refuses the settings a remote world cannot honour.
func (cfg Config) checkRemote() error {
	r := cfg.Remote
	switch {
	case r.RelayURL == "":
		return errors.New("a remote world needs the relay's URL")
	case cfg.Relay != (relay.Config{}):
		return errors.New("a remote relay's rules are its operator's: read them with RelaySettings instead of setting them")
	case cfg.DB != "" || cfg.InMemory:
		return errors.New("the store and listeners of a remote relay are not the world's: leave DB and InMemory unset")
	case cfg.Tap != nil:
		return errors.New("a remote relay's core cannot be tapped: leave Tap unset")
	case r.FCMURL == "" && cfg.FCM != (fakefcm.Behaviour{}):
		return errors.New("an FCM behaviour needs a fakefcm: give the remote fakefcm's URL or leave the behaviour out")
	}
	return nil
}

// checkCluster refuses the settings a cluster world cannot honour.
func (cfg Config) checkCluster() error {
	switch {
	case cfg.Remote != nil || cfg.Stack != nil:
		return errors.New("a relay cluster is started by the world: leave Remote and Stack unset")
	case cfg.DB != "" || cfg.InMemory:
		return errors.New("a relay cluster keeps its state in PostgreSQL and serves on TCP: leave DB and InMemory unset")
	case cfg.Tap != nil:
		return errors.New("a relay cluster's nodes are processes of their own, whose cores cannot be tapped: leave Tap unset")
	}
	return nil
}

// checkStack refuses the settings of a stack the world did not start.
func (cfg Config) checkStack() error {
	switch {
	case cfg.Remote != nil:
		return errors.New("a world drives either a stack started already or a remote relay, not both")
	case cfg.Relay != (relay.Config{}) || cfg.FCM != (fakefcm.Behaviour{}) || cfg.DB != "" || cfg.InMemory || cfg.Tap != nil:
		return errors.New("a stack started already keeps its own rules, store, listeners and tap: leave Relay, FCM, DB, InMemory and Tap unset")
	case cfg.Stack.RelayURL == "":
		return errors.New("the stack has no relay (it was started FCM only)")
	}
	return nil
}

// Stack is the embedded stack (nil for a remote world).
func (w *World) Stack() *Stack { return w.stack }

// Features (sim.World).
func (w *World) Features() sim.Features { return FeaturesOf(w.cfg) }

// FeaturesOf is what a world opened with cfg can honour, known before it is opened (consumers
// check a whole batch of scenarios before they run one).
func FeaturesOf(cfg Config) sim.Features {
	if cfg.Stack != nil {
		// Its rules were set when it started, and its relay is tapped by whoever started it.
		return sim.Features{Twin: "live", RelayRestart: true, FCMPartition: true, FCM: sim.FCMWatched}
	}
	if cfg.Remote == nil {
		f := sim.Features{Twin: "live", RelayRestart: true, FCMPartition: true, RelayConfig: true, FCM: sim.FCMWatched, Tap: true}
		if cfg.Cluster != nil {
			f = ClusterFeatures(f)
		}
		return f
	}
	f := sim.Features{Twin: "remote", FCM: sim.FCMWatched, FCMShared: true}
	if cfg.Remote.FCMURL == "" {
		f.FCM = sim.FCMUnwatched
	}
	return f
}

// Now (sim.World) is the real time.
func (w *World) Now() time.Time { return time.Now() }

// Advance (sim.World) waits d on the real clock.
func (w *World) Advance(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.ctx.Done():
	}
	w.settle()
}

func (w *World) settle() {
	if w.cfg.Settle != nil {
		w.cfg.Settle()
	}
}

// WaitUntil (sim.World) checks cond on every observation, and every 20 ms for conditions on the
// servers' state, until it holds or the deadline comes.
func (w *World) WaitUntil(deadline time.Time, cond func() bool) bool {
	// cond runs outside Do: it may ask the servers; it takes Do for the phones.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-w.notify:
		case <-tick.C:
		case <-timeout.C:
			return cond()
		case <-w.ctx.Done():
			return false
		}
	}
}

// Do (sim.World) runs fn holding the devices' lock.
func (w *World) Do(fn func()) { w.devs.Do(fn) }

// OnObserve (sim.World) sets a function told of every observation (under the devices' lock).
func (w *World) OnObserve(fn func(*sim.Device, sim.Observation)) {
	w.devs.OnObserve(func(d *sim.Device, o sim.Observation) {
		select {
		case w.notify <- struct{}{}:
		default:
		}
		if fn != nil {
			fn(d, o)
		}
	})
}

// unwatched says the world is a remote relay whose FCM pushsim cannot watch: its apps and
// certificates exist already and are not the world's to change.
func (w *World) unwatched() bool { return w.stack == nil && w.fcm == nil }

// app and cert shift a scenario's IDs to the world's.
func (w *World) app(id uint64) uint64 { return id + w.offset*1000 }
func (w *World) cert(id int64) int64  { return id + int64(w.offset)*1000 }

// AddApp (sim.World) creates the app through the admin API. A relay whose FCM pushsim cannot
// watch (a staging relay) keeps its own apps: the world checks that the app exists and uses it as
// it is, never changing it.
func (w *World) AddApp(a relay.AppConfig) error {
	a.SDKAppID = w.app(a.SDKAppID)
	if w.unwatched() {
		if err := w.admin.Do(w.ctx, http.MethodGet, client.AppPath(a.SDKAppID), nil, nil); err != nil {
			return fmt.Errorf("app %d must exist on the relay at %s (its apps are used as they are): %w", a.SDKAppID, w.admin.BaseURL, err)
		}
	} else if err := w.admin.PutApp(w.ctx, a); err != nil {
		return err
	}
	w.mu.Lock()
	w.apps = append(w.apps, a.SDKAppID)
	w.mu.Unlock()
	return nil
}

// AddCertificate (sim.World) creates a fakefcm project and registers the certificate with it.
func (w *World) AddCertificate(c sim.CertificateSpec) (string, error) {
	if w.unwatched() {
		// The relay's own certificate, used as it is: its phones' tokens are real ones.
		err := w.admin.Do(w.ctx, http.MethodGet, client.CertificatePath(w.app(c.SDKAppID), c.ID), nil, nil)
		if err != nil {
			return "", fmt.Errorf("certificate %d must exist on the relay at %s (its certificates are used as they are): %w", c.ID, w.admin.BaseURL, err)
		}
		return "", nil
	}
	if w.fcm == nil {
		return "", fmt.Errorf("certificate %d: the relay pushes to an FCM pushsim cannot watch, so its certificates are its own to register: %w", c.ID, sim.ErrUnsupported)
	}
	id := w.cert(c.ID)
	project := fmt.Sprintf("pushsim-%d", id)
	creds, err := w.fcm.CreateProject(w.ctx, control.CreateProjectRequest{ProjectID: project, PackageNames: []string{c.PackageName}})
	if err != nil {
		return "", err
	}
	w.mu.Lock()
	w.projects = append(w.projects, project)
	w.mu.Unlock()
	if c.API == "legacy" {
		err = w.admin.PutCertificate(w.ctx, relay.Certificate{SDKAppID: w.app(c.SDKAppID), ID: id, PackageName: c.PackageName, SenderID: creds.SenderID,
			ServerKey: secret.New(creds.ServerKey), Endpoint: w.fcmURL, ChannelID: c.ChannelID})
	} else {
		err = w.admin.PutCertificate(w.ctx, relay.Certificate{SDKAppID: w.app(c.SDKAppID), ID: id, PackageName: c.PackageName, SenderID: creds.SenderID,
			ServiceAccount: secret.New(string(creds.ServiceAccount)), Endpoint: w.fcmURL, ChannelID: c.ChannelID})
	}
	return creds.SenderID, err
}

// AddDevice (sim.World) adds a phone (call inside Do).
func (w *World) AddDevice(cfg sim.DeviceConfig) *sim.Device {
	cfg.SDKAppID = w.app(cfg.SDKAppID)
	cfg.CertificateID = w.cert(cfg.CertificateID)
	return w.devs.AddDevice(cfg)
}

// PutGroup (sim.World) creates the group through the admin API.
func (w *World) PutGroup(g relay.Group) error {
	if g.Name != "" {
		return w.admin.PutNamedGroup(w.ctx, w.app(g.SDKAppID), g.ID, g.Name, g.Members)
	}
	return w.admin.PutGroup(w.ctx, w.app(g.SDKAppID), g.ID, g.Members)
}

// SetProfile (sim.World) sets the profile through the admin API.
func (w *World) SetProfile(p relay.Profile) error {
	_, err := w.admin.PutProfile(w.ctx, w.app(p.SDKAppID), p.UserID, p.Nickname)
	return err
}

// Kick (sim.World) kicks through the admin API.
func (w *World) Kick(app uint64, user string) error {
	err := w.admin.Kick(w.ctx, w.app(app), user)
	w.settle()
	return err
}

// SetPushSettings (sim.World) sets a user's push settings through the admin API.
func (w *World) SetPushSettings(app uint64, user string, s relay.PushSettings) error {
	_, err := w.admin.SetPushSettings(w.ctx, w.app(app), user, s)
	w.settle()
	return err
}

// SetFaults (sim.World) replaces fakefcm's fault rules. A remote fakefcm is shared with other
// runs, so its rules are not the world's to replace or clear.
func (w *World) SetFaults(rules []fakefcm.FaultRule) error {
	if w.fcm == nil {
		return fmt.Errorf("FCM faults need a fakefcm: %w", sim.ErrUnsupported)
	}
	if w.stack == nil {
		return fmt.Errorf("a remote fakefcm's fault rules are shared with other runs: they can be added, not replaced or cleared: %w", sim.ErrUnsupported)
	}
	return w.fcm.SetFaults(w.ctx, rules)
}

// AddFaults (sim.World) adds fault rules after those in force.
func (w *World) AddFaults(rules []fakefcm.FaultRule) error {
	if w.fcm == nil {
		return fmt.Errorf("FCM faults need a fakefcm: %w", sim.ErrUnsupported)
	}
	own, err := w.ownFaults(rules)
	if err != nil {
		return err
	}
	return w.fcm.AddFaults(w.ctx, own)
}

// ownFaults narrows a remote world's rules for "every push" to its own projects, one rule per
// project: against a shared fakefcm, every push means every push of this run.
func (w *World) ownFaults(rules []fakefcm.FaultRule) ([]fakefcm.FaultRule, error) {
	if w.stack != nil {
		return rules, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []fakefcm.FaultRule
	for _, r := range rules {
		if r.Project != "" || r.Token != "" {
			out = append(out, r)
			continue
		}
		if len(w.projects) == 0 {
			return nil, errors.New("a fault rule for every push needs a certificate of this run first: on a shared fakefcm it would fault other runs' pushes")
		}
		for _, p := range w.projects {
			r.Project = p
			out = append(out, r)
		}
	}
	return out, nil
}

// LinkOf (sim.World) is the phone's link (call inside Do).
func (w *World) LinkOf(d *sim.Device) sim.Link { return w.devs.rules.Of(d) }

// SetLink (sim.World) partitions a phone's link or makes it lossy (call inside Do). Latency and
// jitter are refused: the live network is the real one.
func (w *World) SetLink(d *sim.Device, l sim.Link) error {
	if l.Latency != 0 || l.Jitter != 0 {
		return fmt.Errorf("a phone's latency and jitter are virtual-only (the live network is the real one; partition and loss work live): %w", sim.ErrUnsupported)
	}
	w.devs.rules.Set(d, l)
	return nil
}

// PartitionFCM (sim.World) cuts the embedded relay's link to fakefcm.
func (w *World) PartitionFCM(cut bool) error {
	if w.cl != nil {
		return fmt.Errorf("the relay cluster's nodes reach FCM over their own network: %w", sim.ErrUnsupported)
	}
	if w.stack == nil {
		return fmt.Errorf("the relay's link to FCM can be cut only for the embedded relay (a remote relay's network is not ours to cut): %w", sim.ErrUnsupported)
	}
	return w.stack.CutFCM(cut)
}

// RestartRelay (sim.World) restarts the embedded relay on its store; a relay cluster's every
// node is killed (SIGKILL) and started again, as on the cluster twin.
func (w *World) RestartRelay() error {
	if w.cl != nil {
		err := w.cl.restartAll(w.ctx, w.admin.Key)
		w.settle()
		return err
	}
	if w.stack == nil {
		return fmt.Errorf("a remote relay cannot be restarted from here: %w", sim.ErrUnsupported)
	}
	err := w.stack.RestartRelay(w.ctx)
	w.settle()
	return err
}

// RelaySettings (sim.SettingsReader) reads the rules the relay runs with.
func (w *World) RelaySettings() (relay.Config, error) {
	cfg, err := w.admin.Settings(w.ctx)
	if err != nil {
		return relay.Config{}, fmt.Errorf("read the relay's settings at %s: %w", w.admin.BaseURL, err)
	}
	return cfg, nil
}

// Online (sim.World) asks the admin API whether the relay sees the device.
func (w *World) Online(app uint64, user, device string) (bool, error) {
	v, err := w.admin.User(w.ctx, w.app(app), user)
	var ae *client.AdminError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, d := range v.Devices {
		if d.DeviceID == device {
			return d.Online, nil
		}
	}
	return false, nil
}

// FCMRegistered (sim.World) asks fakefcm about the token.
func (w *World) FCMRegistered(token string) (bool, error) {
	if w.fcm == nil {
		return false, fmt.Errorf("FCM tokens need a fakefcm: %w", sim.ErrUnsupported)
	}
	info, err := w.fcm.Device(w.ctx, token)
	if err != nil {
		return false, err
	}
	return info.Registered, nil
}

// Trace (sim.World) reads the push trace of the world's apps through the admin API.
func (w *World) Trace() ([]relay.TraceEntry, error) {
	w.mu.Lock()
	apps := append([]uint64(nil), w.apps...)
	w.mu.Unlock()
	var out []relay.TraceEntry
	for _, app := range apps {
		es, err := w.admin.PushTrace(w.ctx, app, 10_000)
		if err != nil {
			return out, fmt.Errorf("push trace of app %d: %w", app, err)
		}
		for _, e := range es {
			if strings.HasPrefix(e.Reason, relay.ReasonCertificatePrefix) {
				continue // a certificate check's verdict: about no device, and the virtual twin checks none
			}
			// The world's own IDs, as the consumer gave them.
			e.SDKAppID -= w.offset * 1000
			if e.CertificateID != 0 {
				e.CertificateID -= int64(w.offset) * 1000
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// FCMRecords (sim.World) reads fakefcm's records of the world's projects.
func (w *World) FCMRecords() ([]fakefcm.Record, error) {
	if w.fcm == nil {
		return nil, fmt.Errorf("FCM records need a fakefcm: %w", sim.ErrUnsupported)
	}
	w.mu.Lock()
	projects := append([]string(nil), w.projects...)
	w.mu.Unlock()
	var out []fakefcm.Record
	for _, p := range projects {
		recs, err := w.fcm.Messages(w.ctx, fakefcm.RecordFilter{Project: p})
		if err != nil {
			return out, fmt.Errorf("fakefcm records of project %s: %w", p, err)
		}
		for _, r := range recs {
			if r.ValidateOnly && r.Token == "" {
				continue // the relay's certificate check, to a topic: no device's, and the virtual twin checks none
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// Close (sim.World) closes the phones' connections and stops the embedded stack.
func (w *World) Close() error {
	w.devs.Close()
	w.cancel()
	if w.cl != nil {
		w.cl.close()
	}
	if w.stack != nil && w.cfg.Stack == nil {
		return w.stack.Close()
	}
	return nil
}

var (
	_ sim.World          = (*World)(nil)
	_ sim.SettingsReader = (*World)(nil)
)
