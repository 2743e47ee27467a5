package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// VirtualConfig is what a virtual world is built from.
type VirtualConfig struct {
	// Seed fixes every random draw of the run.
	Seed uint64
	// Relay and FCM configure the two cores.
	Relay relay.Config
	FCM   fakefcm.Behaviour
	// Network is the link between phones and the relay and FCM: one-way latency (20 ms when
	// zero), a uniformly drawn jitter on top, and a loss rate for app frames.
	Latency time.Duration
	Jitter  time.Duration
	Loss    float64
	// BackendLatency is the one-way latency between the relay and FCM (5 ms when zero).
	BackendLatency time.Duration
	// SendTimeout is how long the relay's sender waits for FCM (10 s when zero), as in the shell.
	SendTimeout time.Duration
	// FastPushes hands pushes to fakefcm's core as the message struct built straight from the
	// push rather than through the v1 JSON and fakefcm's decoder (a test holds the two paths to
	// the same result). For long runs; scenarios keep the wire path.
	FastPushes bool
	// Lean keeps no history: no trace entries in the world, no observation logs on devices (they
	// still reach OnObserve and OnTrace, a push's data there not copied), and no relay store (so no RestartRelay). For long runs
	// that only count.
	Lean bool
	// FCMCountsOnly runs fakefcm's core without message records, only its counts: FCMRecords
	// returns none. For long runs that read no record.
	FCMCountsOnly bool
	// LazyHeartbeats answers the app's pings in the network rather than through the relay core:
	// the pong comes back as it would, and the core learns of the ping only when the
	// connection's heartbeat deadline comes due (relay.Core.SetHeard) — while the network keeps
	// the heartbeat steady, only once it stops (relay.Core.HeartbeatStopped) — so a dead
	// connection is still closed at the same moment. The relay's DeviceView.LastSeen lags
	// meanwhile (by as long as the heartbeat stays steady) and pings take no flood token. Ignored while a tap watches the relay's inputs or the relay is a
	// cluster. For long runs: a day of heartbeats is millions of frames that change nothing.
	LazyHeartbeats bool
	// Log keeps the event log: a hash of every event (for determinism checks) and, with
	// KeepLog, its lines. Off, a long run spends nothing on it.
	Log     bool
	KeepLog bool
}

// VirtualWorld is the virtual twin of the world port: the relay core and fakefcm's core wired to
// simulated devices through a virtual network, on the Engine's clock. It starts no goroutine and
// reads no clock: one seed replays a run event for event.
type VirtualWorld struct {
	cfg   VirtualConfig
	eng   *Engine
	links *Links

	relay     *relay.Core // nil when the relay is a cluster (cl)
	cl        *clusterSide
	store     *relay.MemoryStore
	epoch     int // bumped at each relay restart: what the old relay started is forgotten
	relayWake waker
	// relayTick and fcmTick tick the cores when their wakers fire (made once: every Ready would
	// otherwise build a closure for the waker, armed or not).
	relayTick, fcmTick func()

	fcm     *fakefcm.Core
	fcmWake waker

	certs   map[int64]*worldCert
	devices []*Device
	conns   connTable
	nextCon relay.ConnID
	fcmByTk map[string]*vfcm
	// backendCut partitions the relay from FCM (PartitionFCM).
	backendCut bool
	// queued holds the pushes on their way to FCM; the relay's cancelling one removes it.
	queued map[uint64]struct{}

	trace []relay.TraceEntry
	log   eventLog
	// onObserve, if set, is told of every observation (the runner uses it to end waits early);
	// onTrace of every trace entry.
	onObserve func(*Device, Observation)
	onTrace   func(relay.TraceEntry)
	tap       func(TapEvent)

	// crossings are FCM channel crossings that have arrived, for reuse (fcmCrossing); spareTrips
	// the pushes' trips to FCM that have ended (newTrip).
	crossings  []*crossing
	spareTrips []*fcmTrip
	// sigKeys are the apps' UserSig keys by secret, shared by the phones that sign with it
	// (userSigKey): keyed HMACs made once, not at every login.
	sigKeys map[string]*relay.UserSigKey
}

type worldCert struct {
	cert    relay.Certificate
	project string
}

// NewVirtual builds a virtual world with empty cores.
func NewVirtual(cfg VirtualConfig) (*VirtualWorld, error) {
	if cfg.Latency == 0 {
		cfg.Latency = 20 * time.Millisecond
	}
	if cfg.BackendLatency == 0 {
		cfg.BackendLatency = 5 * time.Millisecond
	}
	if cfg.SendTimeout == 0 {
		cfg.SendTimeout = 10 * time.Second
	}
	cfg.Relay.Seed = SubSeed(cfg.Seed, "relay")
	cfg.Relay.DiscardRecords = cfg.Relay.DiscardRecords || cfg.Lean // no store to apply them to
	fcm, err := fakefcm.New(fakefcm.Config{Seed: SubSeed(cfg.Seed, "fakefcm"), Behaviour: cfg.FCM, CountsOnly: cfg.FCMCountsOnly})
	if err != nil {
		return nil, fmt.Errorf("fakefcm: %w", err)
	}
	w := &VirtualWorld{
		cfg: cfg, eng: NewEngine(Epoch),
		links: NewLinks(Link{Latency: cfg.Latency, Jitter: cfg.Jitter, Loss: cfg.Loss}, Rand(cfg.Seed, "network")),
		store: relay.NewMemoryStore(), fcm: fcm,
		certs: map[int64]*worldCert{}, fcmByTk: map[string]*vfcm{}, queued: map[uint64]struct{}{},
		log: eventLog{on: cfg.Log || cfg.KeepLog, keep: cfg.KeepLog, hash: fnv.New64a()},
	}
	w.relayTick = func() { _ = w.step(relay.Input{Kind: relay.InputTick}, nil) }
	w.fcmTick = func() { w.fcmDo(func(c *fakefcm.Core, now time.Time) { c.Tick(now) }) }
	if w.relay, err = relay.New(cfg.Relay, nil); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	w.hookHeard()
	return w, nil
}

// Features is what a virtual world built from cfg honours: everything, but a relay restart in a
// lean world (it keeps no store).
func (cfg VirtualConfig) Features() Features {
	return Features{Twin: "virtual", NetworkLatency: true, RelayRestart: !cfg.Lean,
		FCMPartition: true, RelayConfig: true, FCM: FCMWatched, Tap: true}
}

// Features (World).
func (w *VirtualWorld) Features() Features {
	if w.cl != nil {
		return w.cl.features()
	}
	return w.cfg.Features()
}

// Engine is the world's clock.
func (w *VirtualWorld) Engine() *Engine { return w.eng }

// Now (World, Env) is the virtual time.
func (w *VirtualWorld) Now() time.Time { return w.eng.Now() }

// Advance (World) runs every event of the next d.
func (w *VirtualWorld) Advance(d time.Duration) { w.eng.RunUntil(w.eng.Now().Add(d)) }

// WaitUntil (World) runs events until cond holds or the deadline comes.
func (w *VirtualWorld) WaitUntil(deadline time.Time, cond func() bool) bool {
	if cond() {
		return true
	}
	return !w.eng.RunWhile(deadline, func() bool { return !cond() })
}

// Do (World) runs fn: the virtual world has one goroutine, so devices are always safe to drive.
func (w *VirtualWorld) Do(fn func()) { fn() }

// Devices lists the devices in the order they were added.
func (w *VirtualWorld) Devices() []*Device { return w.devices }

// Trace (World) is every push-trace entry the relay made, in order (none in a lean world).
func (w *VirtualWorld) Trace() ([]relay.TraceEntry, error) { return w.trace, nil }

// FCMRecords (World) is every message fakefcm's core took, with its fate.
func (w *VirtualWorld) FCMRecords() ([]fakefcm.Record, error) {
	return w.fcm.Records(fakefcm.RecordFilter{}), nil
}

// FCMRegistered (World) reports whether fakefcm holds the token as registered.
func (w *VirtualWorld) FCMRegistered(token string) (bool, error) {
	info, ok := w.fcm.Device(token)
	return ok && info.Registered, nil
}

// Online (World) reports whether the relay core sees the device's connection.
func (w *VirtualWorld) Online(app uint64, user, device string) (bool, error) {
	if w.cl != nil {
		return w.cl.online(app, user, device), nil
	}
	u, ok := w.relay.User(app, user)
	if !ok {
		return false, nil
	}
	for _, d := range u.Devices {
		if d.DeviceID == device {
			return d.Online, nil
		}
	}
	return false, nil
}

// FCM returns fakefcm's core, for reading its records.
func (w *VirtualWorld) FCM() *fakefcm.Core { return w.fcm }

// Relay returns the relay's core, for reading it (nil in a cluster world). Change it only
// through RelayDo.
func (w *VirtualWorld) Relay() *relay.Core { return w.relay }

// EventLog returns the log's hash and, with KeepLog, its lines.
func (w *VirtualWorld) EventLog() (uint64, []string) { return w.log.hash.Sum64(), w.log.lines }

// OnObserve (World) sets a function told of every observation.
func (w *VirtualWorld) OnObserve(fn func(*Device, Observation)) { w.onObserve = fn }

// OnTrace sets a function told of every push-trace entry.
func (w *VirtualWorld) OnTrace(fn func(relay.TraceEntry)) { w.onTrace = fn }

// SetTap sets a function told of every TapEvent, inline. A tap sees every ping the relay core
// takes, so the heartbeats the network was keeping itself (lazyPings) go back to the apps.
func (w *VirtualWorld) SetTap(fn func(TapEvent)) {
	w.tap = fn
	if fn == nil {
		return
	}
	for _, c := range w.conns.all() { // in order: each schedules the app's next ping
		c.unsteady()
	}
}

func (w *VirtualWorld) tapped(e TapEvent) {
	if w.tap != nil {
		e.Time = w.eng.Now()
		w.tap(e)
	}
}

// SetLink (World) gives a phone a link of its own.
func (w *VirtualWorld) SetLink(d *Device, l Link) error {
	if k, ok := d.link.(beatKeeper); ok {
		k.unsteady() // the pings so far crossed the old link
	}
	w.links.Set(d, l)
	return nil
}

// LinkOf (World) is the phone's link.
func (w *VirtualWorld) LinkOf(d *Device) Link { return w.links.Of(d) }

// PartitionFCM (World) cuts (or heals) the link between the relay and FCM: sends reach no FCM and
// time out at the relay.
func (w *VirtualWorld) PartitionFCM(cut bool) error {
	w.backendCut = cut
	return nil
}

// step hands the relay core one input at the current time (telling the tap first, as the relay
// shell tells its Tap) and carries out its Ready; dev is the phone behind the input's connection.
func (w *VirtualWorld) step(in relay.Input, dev *Device) error {
	if w.cl != nil {
		return w.cl.input(in, dev)
	}
	if w.tap != nil {
		w.tapped(TapEvent{Kind: TapInput, Input: in, Device: dev})
	}
	err := w.relay.Step(w.eng.Now(), in)
	w.relayReady()
	return err
}

// receive hands the relay core a frame from a connection, as step does with an InputReceive,
// without building the input (a large struct) when no tap and no cluster needs it: the path of
// every frame of a day.
func (w *VirtualWorld) receive(conn relay.ConnID, f relay.ClientFrame, dev *Device) {
	if w.cl != nil || w.tap != nil {
		_ = w.step(relay.Input{Kind: relay.InputReceive, Conn: conn, Frame: f}, dev)
		return
	}
	w.relay.Receive(w.eng.Now(), conn, f)
	w.relayReady()
}

// hookHeard lets the relay core ask for the pings the network answered (LazyHeartbeats).
func (w *VirtualWorld) hookHeard() {
	if !w.cfg.LazyHeartbeats {
		return
	}
	w.relay.SetHeard(func(id relay.ConnID) (time.Time, time.Duration) {
		if c := w.conns.get(id); c != nil {
			return c.relayHeard()
		}
		return time.Time{}, 0
	})
}

// lazyPings reports whether the network answers pings itself now (LazyHeartbeats): not while a
// tap must see every input, nor in a cluster.
func (w *VirtualWorld) lazyPings() bool {
	return w.cfg.LazyHeartbeats && w.tap == nil && w.cl == nil
}

// RelayDo runs fn on the relay core at the current time and carries out its Ready.
func (w *VirtualWorld) RelayDo(fn func(c *relay.Core, now time.Time)) {
	fn(w.relay, w.eng.Now())
	w.relayReady()
}

// relayReady carries out the relay's Ready as its shell would: records into the store first.
func (w *VirtualWorld) relayReady() {
	rd := w.relay.TakeReady()
	defer w.relay.Recycle(rd)
	if w.tap != nil {
		tapped := rd // a copy escapes to the tap; rd itself stays on the stack
		w.tapped(TapEvent{Kind: TapReady, Ready: &tapped})
	}
	if len(rd.Records) > 0 && !w.cfg.Lean {
		if err := w.store.Apply(context.Background(), rd.Records); err != nil {
			panic(fmt.Sprintf("memory store refused a record: %v", err)) // a core bug
		}
	}
	for _, f := range rd.Frames {
		if c := w.conns.get(f.Conn); c != nil {
			c.toDevice(f.Frame)
		}
	}
	for _, cl := range rd.Closes {
		if c := w.conns.get(cl.Conn); c != nil {
			c.closedByRelay(cl.Reason)
		}
	}
	for _, id := range rd.Cancelled {
		delete(w.queued, id) // if still on its way to FCM, the shell's queue drops it
	}
	for _, p := range rd.Pushes {
		if w.log.on {
			w.log.add(w.eng.Now(), "push %d attempt %d to %s seq %v", p.ID, p.Attempt, p.Device.DeviceID, p.Seqs)
		}
		w.sendToFCM(p, pushSource{epoch: w.epoch})
	}
	for _, e := range rd.Trace {
		if w.log.on {
			w.log.add(e.Time, "trace %s %s seq %d %v", e.DeviceID, e.Reason, e.Seq, e.Seqs)
		}
	}
	if !w.cfg.Lean {
		w.trace = append(w.trace, rd.Trace...)
	}
	if w.onTrace != nil {
		for _, e := range rd.Trace {
			w.onTrace(e)
		}
	}
	w.armRelayWake()
}

// armRelayWake makes sure the relay core is ticked at its next wake-up.
func (w *VirtualWorld) armRelayWake() {
	if at, ok := w.relay.NextWake(); ok {
		w.relayWake.arm(w.eng, at, w.relayTick)
	}
}

// fcmDo runs fn on fakefcm's core and carries out its deliveries.
func (w *VirtualWorld) fcmDo(fn func(c *fakefcm.Core, now time.Time)) {
	fn(w.fcm, w.eng.Now())
	for _, d := range w.fcm.TakeOutbox() {
		if l := w.fcmByTk[d.Token]; l != nil {
			l.toDevice(d)
		}
	}
	if at, ok := w.fcm.NextWake(); ok {
		w.fcmWake.arm(w.eng, at, w.fcmTick)
	}
}

// FCMDo runs fn on fakefcm's core (control operations, faults) and carries out its deliveries.
func (w *VirtualWorld) FCMDo(fn func(c *fakefcm.Core, now time.Time)) { w.fcmDo(fn) }

// SetFaults (World) replaces fakefcm's fault rules.
func (w *VirtualWorld) SetFaults(rules []fakefcm.FaultRule) error {
	var err error
	w.fcmDo(func(c *fakefcm.Core, _ time.Time) { err = c.SetFaults(rules) })
	return err
}

// AddFaults (World) adds fault rules after those in force.
func (w *VirtualWorld) AddFaults(rules []fakefcm.FaultRule) error {
	var err error
	w.fcmDo(func(c *fakefcm.Core, _ time.Time) { err = c.AddFaults(rules) })
	return err
}

// AddApp (World) creates an app in the relay.
func (w *VirtualWorld) AddApp(a relay.AppConfig) error {
	if w.cl != nil {
		return w.cl.catalog(relay.Input{Kind: relay.InputPutApp, AppConfig: a, Create: true})
	}
	var err error
	w.RelayDo(func(c *relay.Core, now time.Time) { _, err = c.PutApp(now, a, true) })
	return err
}

// AddCertificate (World) creates a fakefcm project for a certificate and registers the
// certificate in the relay. It returns the project's sender ID.
func (w *VirtualWorld) AddCertificate(spec CertificateSpec) (string, error) {
	var p fakefcm.Project
	var err error
	w.fcmDo(func(c *fakefcm.Core, now time.Time) {
		p, err = c.CreateProject(fakefcm.ProjectSpec{ID: fmt.Sprintf("pushsim-%d", spec.ID), PackageNames: []string{spec.PackageName}})
	})
	if err != nil {
		return "", err
	}
	cert := relay.Certificate{ID: spec.ID, SDKAppID: spec.SDKAppID, Platform: "google", PackageName: spec.PackageName, SenderID: p.SenderID,
		ChannelID: spec.ChannelID}
	if spec.API == "legacy" {
		cert.ServerKey = secret.New(p.ServerKey)
	} else {
		// The virtual sender needs no OAuth: a service account naming the project suffices.
		sa, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": p.ID,
			"private_key": "virtual", "client_email": "pushsim@" + p.ID + ".iam.gserviceaccount.com"})
		cert.ServiceAccount = secret.New(string(sa))
	}
	if w.cl != nil {
		err = w.cl.catalog(relay.Input{Kind: relay.InputPutCertificate, Cert: cert, Create: true})
	} else {
		w.RelayDo(func(c *relay.Core, now time.Time) { _, err = c.PutCertificate(now, cert, true) })
	}
	if err != nil {
		return "", err
	}
	w.certs[spec.ID] = &worldCert{cert: cert, project: p.ID}
	return p.SenderID, nil
}

// PutGroup (World) creates or replaces a group.
func (w *VirtualWorld) PutGroup(g relay.Group) error {
	if w.cl != nil {
		return w.cl.catalog(relay.Input{Kind: relay.InputPutGroup, Group: g})
	}
	var err error
	w.RelayDo(func(c *relay.Core, now time.Time) { _, err = c.PutGroup(now, g) })
	return err
}

// SetProfile (World) sets a user's profile, as the administrator does.
func (w *VirtualWorld) SetProfile(p relay.Profile) error {
	return w.step(relay.Input{Kind: relay.InputPutProfile, Profile: p}, nil)
}

// Kick (World) ends a user's logins, as the administrator does.
func (w *VirtualWorld) Kick(app uint64, user string) error {
	return w.step(relay.Input{Kind: relay.InputKick, App: app, User: user}, nil)
}

// SetPushSettings (World) sets a user's push settings, as the administrator does.
func (w *VirtualWorld) SetPushSettings(app uint64, user string, s relay.PushSettings) error {
	return w.step(relay.Input{Kind: relay.InputSetPushSettings, App: app, User: user, PushSettings: s}, nil)
}

// AddDevice (World) adds a phone; it installs the app at once if the config says it is installed.
func (w *VirtualWorld) AddDevice(cfg DeviceConfig) *Device {
	cfg.Lean = cfg.Lean || w.cfg.Lean
	d := NewDevice(cfg, w, Rand(w.cfg.Seed, "device/"+cfg.ID))
	d.sigKey = w.userSigKey(cfg.AppSecret)
	w.devices = append(w.devices, d)
	d.Start()
	return d
}

// userSigKey is the UserSig key of secret, made at its first use. The world runs on one
// goroutine, so its phones can share one.
func (w *VirtualWorld) userSigKey(secret string) *relay.UserSigKey {
	k, ok := w.sigKeys[secret]
	if !ok {
		if w.sigKeys == nil {
			w.sigKeys = map[string]*relay.UserSigKey{}
		}
		k = relay.NewUserSigKey(secret)
		w.sigKeys[secret] = k
	}
	return k
}

// RestartRelay (World) stops the relay as a crash would and starts a new one from the store: app
// connections drop, pushes in flight are forgotten, logins and bindings stay. A cluster world
// kills every node and starts them again.
func (w *VirtualWorld) RestartRelay() error {
	if w.cl != nil {
		return w.cl.restartAll()
	}
	if w.cfg.Lean {
		return fmt.Errorf("a lean world keeps no relay store to restart from: %w", ErrUnsupported)
	}
	w.epoch++
	clear(w.queued)
	w.tapped(TapEvent{Kind: TapRestarted})
	if w.log.on {
		w.log.add(w.eng.Now(), "relay restart")
	}
	// In connection order: each drop draws from the network's randomness.
	for _, c := range w.conns.all() {
		w.conns.remove(c.id)
		c.relayGone()
	}
	st, err := w.store.Load(context.Background())
	if err != nil {
		return err
	}
	core, err := relay.New(w.cfg.Relay, st)
	if err != nil {
		return err
	}
	w.relay = core
	w.hookHeard()
	w.relayWake.reset()
	w.relayReady()
	return nil
}

// Close (World) has nothing to release: the virtual world holds no socket or goroutine.
func (w *VirtualWorld) Close() error { return nil }

// ---- Env for devices ----

// After (Env) schedules fn d from now.
func (w *VirtualWorld) After(d time.Duration, fn func()) func() {
	t := &vtimer{fn: fn}
	w.eng.push(w.eng.Now().Add(d), t)
	return t.cancel
}

// vtimer is a cancellable virtual timer.
type vtimer struct {
	fn        func()
	cancelled bool
	waker     *waker // the waker that owns and reuses it; nil for a timer of its own
}

// happen (event) runs the timer unless it was cancelled.
func (t *vtimer) happen() {
	if t.waker != nil {
		t.waker.fired(t)
		return
	}
	if !t.cancelled {
		t.fn()
	}
}

func (t *vtimer) cancel() { t.cancelled = true }

// Observe (Env) logs an observation.
func (w *VirtualWorld) Observe(d *Device, o Observation) {
	if w.log.on {
		w.log.add(o.At, "%s %s seq %d %q %s", d.cfg.ID, o.Kind, o.Seq, o.Text, o.Detail)
	}
	if w.onObserve != nil {
		w.onObserve(d, o)
	}
}

// Compile-time checks that the virtual world is a World and an Env.
var (
	_ World = (*VirtualWorld)(nil)
	_ Env   = (*VirtualWorld)(nil)
)
