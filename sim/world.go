package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/sender"
)

// WorldConfig is what a virtual world is built from.
type WorldConfig struct {
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
	// FastPushes hands pushes to fakefcm's core as structs converted from the Admin SDK's message
	// rather than through its JSON and fakefcm's decoder (sdkToFakeFCM; a property test holds the
	// two paths to the same result). For long runs; scenarios keep the wire path.
	FastPushes bool
	// Lean keeps no history: no trace entries in the world, no observation logs on devices (they
	// still reach OnObserve and OnTrace), and no relay store (so no RestartRelay). For long runs
	// that only count.
	Lean bool
	// Log keeps the event log: a hash of every event (for determinism checks) and, with
	// KeepLog, its lines. Off, a long run spends nothing on it.
	Log     bool
	KeepLog bool
}

// World is the virtual mode: the relay core and fakefcm's core wired to simulated devices through
// a virtual network, on the Engine's clock.
type World struct {
	cfg WorldConfig
	eng *Engine
	net *rand.Rand

	relay      *relay.Core
	store      *relay.MemoryStore
	epoch      int // bumped at each relay restart: what the old relay started is forgotten
	relayWake  time.Time
	relayTimer uint64

	fcm     *fakefcm.Core
	fcmWake time.Time
	fcmTmr  uint64

	certs   map[int64]worldCert
	devices []*Device
	conns   map[relay.ConnID]*vconn
	nextCon relay.ConnID
	fcmByTk map[string]*vfcm
	// links holds the devices whose link differs from the world's (SetLink).
	links map[*Device]Link
	// backendCut partitions the relay from FCM (SetBackendPartition).
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
}

// TapKind names what crossed the relay core's boundary.
type TapKind int

// The tap events.
const (
	TapOpened    TapKind = iota + 1 // a phone's connection reached the relay
	TapReceived                     // the relay is about to take a frame from a connection
	TapClosed                       // a phone's close reached the relay
	TapReady                        // the relay's answer to one input, before it is carried out
	TapFCM                          // a push reaches FCM
	TapResult                       // the relay is about to take FCM's answer to a push
	TapRestarted                    // the relay restarted from its store
)

// TapEvent is one thing that crossed the relay core's boundary. Checkers that hold the relay to
// its rules from the outside (the property tests) rebuild what it should have done from these.
type TapEvent struct {
	Kind   TapKind
	Time   time.Time
	Conn   relay.ConnID
	Device *Device // the phone behind Conn
	Frame  relay.ClientFrame
	Ready  *relay.Ready
	Push   relay.Push
	Result relay.PushResult
	// Stale marks a push reaching FCM from a relay that has since restarted.
	Stale bool
}

// SetTap sets a function told of every TapEvent, inline.
func (w *World) SetTap(fn func(TapEvent)) { w.tap = fn }

func (w *World) tapped(e TapEvent) {
	if w.tap != nil {
		e.Time = w.eng.Now()
		w.tap(e)
	}
}

type worldCert struct {
	cert    relay.Certificate
	project string
}

// NewWorld builds a world with empty cores.
func NewWorld(cfg WorldConfig) (*World, error) {
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
	fcm, err := fakefcm.New(fakefcm.Config{Seed: SubSeed(cfg.Seed, "fakefcm"), Behaviour: cfg.FCM})
	if err != nil {
		return nil, fmt.Errorf("fakefcm: %w", err)
	}
	w := &World{
		cfg: cfg, eng: NewEngine(Epoch), net: Rand(cfg.Seed, "network"),
		store: relay.NewMemoryStore(), fcm: fcm,
		certs: map[int64]worldCert{}, conns: map[relay.ConnID]*vconn{}, fcmByTk: map[string]*vfcm{}, queued: map[uint64]struct{}{}, links: map[*Device]Link{},
		log: eventLog{on: cfg.Log || cfg.KeepLog, keep: cfg.KeepLog, hash: fnv.New64a()},
	}
	if w.relay, err = relay.New(cfg.Relay, nil); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	return w, nil
}

// Engine is the world's clock.
func (w *World) Engine() *Engine { return w.eng }

// Now is the virtual time.
func (w *World) Now() time.Time { return w.eng.Now() }

// Devices lists the devices in the order they were added.
func (w *World) Devices() []*Device { return w.devices }

// Trace is every push-trace entry the relay made, in order.
func (w *World) Trace() []relay.TraceEntry { return w.trace }

// FCM returns fakefcm's core, for reading its records.
func (w *World) FCM() *fakefcm.Core { return w.fcm }

// Relay returns the relay's core, for reading it. Change it only through RelayDo.
func (w *World) Relay() *relay.Core { return w.relay }

// EventLog returns the log's hash and, with KeepLog, its lines.
func (w *World) EventLog() (uint64, []string) { return w.log.hash.Sum64(), w.log.lines }

// OnObserve sets a function told of every observation.
func (w *World) OnObserve(fn func(*Device, Observation)) { w.onObserve = fn }

// OnTrace sets a function told of every push-trace entry.
func (w *World) OnTrace(fn func(relay.TraceEntry)) { w.onTrace = fn }

// latency draws one network latency.
func (w *World) latency() time.Duration {
	d := w.cfg.Latency
	if w.cfg.Jitter > 0 {
		d += time.Duration(w.net.Int64N(int64(w.cfg.Jitter)))
	}
	return d
}

// Link is one phone's network: its one-way latency and jitter, the share of app frames lost, and
// whether its link to the relay is partitioned (frames dropped both ways, neither side told; its
// FCM channel stays up).
type Link struct {
	Latency     time.Duration
	Jitter      time.Duration
	Loss        float64
	Partitioned bool
}

// SetLink gives a phone a link of its own; LinkOf reads it (the world's link by default).
func (w *World) SetLink(d *Device, l Link) { w.links[d] = l }

// LinkOf is the phone's link.
func (w *World) LinkOf(d *Device) Link {
	if l, ok := w.links[d]; ok {
		return l
	}
	return Link{Latency: w.cfg.Latency, Jitter: w.cfg.Jitter, Loss: w.cfg.Loss}
}

// SetBackendPartition cuts (or heals) the link between the relay and FCM: sends reach no FCM and
// time out at the relay.
func (w *World) SetBackendPartition(cut bool) { w.backendCut = cut }

// latencyOf draws one crossing of the phone's link.
func (w *World) latencyOf(d *Device) time.Duration {
	if len(w.links) == 0 {
		return w.latency()
	}
	l, ok := w.links[d]
	if !ok {
		return w.latency()
	}
	lat := l.Latency
	if l.Jitter > 0 {
		lat += time.Duration(w.net.Int64N(int64(l.Jitter)))
	}
	return lat
}

// lost draws whether the phone's link loses an app frame.
func (w *World) lost(d *Device) bool {
	loss := w.cfg.Loss
	if len(w.links) > 0 {
		if l, ok := w.links[d]; ok {
			loss = l.Loss
		}
	}
	return loss > 0 && w.net.Float64() < loss
}

// cut reports whether nothing crosses the phone's link to the relay: its network is down or the
// link is partitioned.
func (w *World) cut(d *Device) bool {
	if !d.netUp {
		return true
	}
	if len(w.links) > 0 {
		return w.links[d].Partitioned
	}
	return false
}

// RelayDo runs fn on the relay core at the current time and carries out its Ready.
func (w *World) RelayDo(fn func(c *relay.Core, now time.Time)) {
	fn(w.relay, w.eng.Now())
	w.relayReady()
}

// relayReady carries out the relay's Ready as its shell would: records into the store first.
func (w *World) relayReady() {
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
		if c := w.conns[f.Conn]; c != nil {
			c.toDevice(f.Frame)
		}
	}
	for _, cl := range rd.Closes {
		if c := w.conns[cl.Conn]; c != nil {
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
		w.sendToFCM(p)
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
	w.scheduleRelayTick()
}

// scheduleRelayTick makes sure the relay core is ticked at its next wake-up.
func (w *World) scheduleRelayTick() {
	at, ok := w.relay.NextWake()
	if !ok || (!w.relayWake.IsZero() && !at.Before(w.relayWake)) {
		return
	}
	w.relayWake = at
	w.relayTimer++
	gen, epoch := w.relayTimer, w.epoch
	w.eng.At(at, func() {
		if gen != w.relayTimer || epoch != w.epoch {
			return
		}
		w.relayWake = time.Time{}
		w.RelayDo(func(c *relay.Core, now time.Time) { c.Tick(now) })
	})
}

// fcmDo runs fn on fakefcm's core and carries out its deliveries.
func (w *World) fcmDo(fn func(c *fakefcm.Core, now time.Time)) {
	fn(w.fcm, w.eng.Now())
	for _, d := range w.fcm.TakeOutbox() {
		if l := w.fcmByTk[d.Token]; l != nil {
			l.toDevice(d)
		}
	}
	at, ok := w.fcm.NextWake()
	if !ok || (!w.fcmWake.IsZero() && !at.Before(w.fcmWake)) {
		return
	}
	w.fcmWake = at
	w.fcmTmr++
	gen := w.fcmTmr
	w.eng.At(at, func() {
		if gen != w.fcmTmr {
			return
		}
		w.fcmWake = time.Time{}
		w.fcmDo(func(c *fakefcm.Core, now time.Time) { c.Tick(now) })
	})
}

// FCMDo runs fn on fakefcm's core (control operations, faults) and carries out its deliveries.
func (w *World) FCMDo(fn func(c *fakefcm.Core, now time.Time)) { w.fcmDo(fn) }

// sendToFCM is the relay's sender in the virtual mode: it encodes the push exactly as the real
// sender does (the Admin SDK's JSON, or the legacy body), has fakefcm's decoder read it, and hands
// the answer back to the relay after the network's round trip — or a TIMEOUT after the send
// timeout, while FCM may still deliver, as a real sender sees it.
func (w *World) sendToFCM(p relay.Push) {
	epoch := w.epoch
	wc, ok := w.certs[p.CertificateID]
	lat := w.cfg.BackendLatency
	w.queued[p.ID] = struct{}{}
	w.eng.After(lat, func() {
		if w.backendCut {
			if epoch == w.epoch {
				delete(w.queued, p.ID)
			}
			w.eng.After(w.cfg.SendTimeout-lat, func() {
				if epoch == w.epoch {
					res := relay.PushResult{ID: p.ID, Err: &relay.PushError{Code: relay.ErrCodeTimeout, Message: "no answer within the send timeout"}}
					w.tapped(TapEvent{Kind: TapResult, Result: res})
					w.RelayDo(func(c *relay.Core, now time.Time) { c.PushResult(now, res) })
				}
			})
			return
		}
		if epoch == w.epoch { // a push from a relay since restarted is already on the wire
			_, live := w.queued[p.ID]
			delete(w.queued, p.ID)
			if !live {
				if w.log.on {
					w.log.add(w.eng.Now(), "push %d cancelled before it reached FCM", p.ID)
				}
				return
			}
		}
		w.tapped(TapEvent{Kind: TapFCM, Push: p, Stale: epoch != w.epoch})
		var res relay.PushResult
		var delay time.Duration
		if !ok {
			res = relay.PushResult{ID: p.ID, Err: &relay.PushError{Code: relay.ErrCodeUnauthenticated, Message: "no such certificate"}}
		} else {
			res, delay = w.fcmSend(wc, p)
		}
		back := lat + delay
		if back+lat > w.cfg.SendTimeout {
			back = w.cfg.SendTimeout - lat
			res = relay.PushResult{ID: p.ID, Err: &relay.PushError{Code: relay.ErrCodeTimeout, Message: "no answer within the send timeout"}}
		}
		w.eng.After(back, func() {
			if epoch != w.epoch {
				return // the relay that sent it is gone
			}
			if w.log.on {
				w.log.add(w.eng.Now(), "push %d answered %s", p.ID, resultText(res))
			}
			w.tapped(TapEvent{Kind: TapResult, Result: res})
			w.RelayDo(func(c *relay.Core, now time.Time) { c.PushResult(now, res) })
		})
	})
}

func resultText(r relay.PushResult) string {
	if r.Err != nil {
		return r.Err.Code
	}
	return "ok"
}

// fcmSend hands one push to fakefcm's core through its wire decoders.
func (w *World) fcmSend(wc worldCert, p relay.Push) (relay.PushResult, time.Duration) {
	req := fakefcm.SendRequest{Project: wc.project}
	legacy := wc.cert.API() == "legacy"
	if legacy {
		req.API = fakefcm.APILegacy
		lr, derr := fakefcm.DecodeLegacyRequest(sender.LegacyBody(wc.cert, p))
		if derr != nil {
			return relay.PushResult{ID: p.ID, Err: &relay.PushError{Code: "INVALID_ARGUMENT", Message: derr.Body}}, 0
		}
		req.Message = lr.Message
		if len(lr.Targets) == 1 {
			req.Message.Token = lr.Targets[0]
		}
	} else if w.cfg.FastPushes {
		req.API = fakefcm.APIV1
		req.Message = sdkToFakeFCM(sender.Message(wc.cert, p))
	} else {
		req.API = fakefcm.APIV1
		vr, derr := fakefcm.DecodeV1Request(sender.V1Body(wc.cert, p))
		if derr != nil {
			req.Invalid = derr
		} else {
			req.Message = vr.Message
		}
	}
	var r fakefcm.SendResult
	w.fcmDo(func(c *fakefcm.Core, now time.Time) { r = c.Send(now, req) })
	if r.Err == nil {
		return relay.PushResult{ID: p.ID, Name: r.Name}, r.Delay
	}
	var e *relay.PushError
	if legacy {
		e = sender.LegacyError(r.Err.LegacyError())
	} else {
		e = &relay.PushError{Code: string(r.Err.Code), TokenInvalid: r.Err.Field == "message.token", Message: r.Err.Message}
	}
	e.RetryAfter = r.Err.RetryAfter
	return relay.PushResult{ID: p.ID, Err: e}, r.Delay
}

// AddApp creates an app in the relay.
func (w *World) AddApp(a relay.AppConfig) error {
	var err error
	w.RelayDo(func(c *relay.Core, now time.Time) { _, err = c.PutApp(now, a, true) })
	return err
}

// AddCertificate creates a fakefcm project for a certificate and registers the certificate in
// the relay; api is "v1" or "legacy". It returns the project's sender ID.
func (w *World) AddCertificate(id int64, app uint64, pkg, api string) (string, error) {
	var p fakefcm.Project
	var err error
	w.fcmDo(func(c *fakefcm.Core, now time.Time) {
		p, err = c.CreateProject(fakefcm.ProjectSpec{ID: fmt.Sprintf("pushsim-%d", id), PackageNames: []string{pkg}})
	})
	if err != nil {
		return "", err
	}
	cert := relay.Certificate{ID: id, SDKAppID: app, Platform: "google", PackageName: pkg, SenderID: p.SenderID}
	if api == "legacy" {
		cert.ServerKey = secret.New(p.ServerKey)
	} else {
		// The virtual sender needs no OAuth: a service account naming the project suffices.
		sa, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": p.ID,
			"private_key": "virtual", "client_email": "pushsim@" + p.ID + ".iam.gserviceaccount.com"})
		cert.ServiceAccount = secret.New(string(sa))
	}
	w.RelayDo(func(c *relay.Core, now time.Time) { _, err = c.PutCertificate(now, cert, true) })
	if err != nil {
		return "", err
	}
	w.certs[id] = worldCert{cert: cert, project: p.ID}
	return p.SenderID, nil
}

// AddDevice adds a phone; it installs the app at once if the config says it is installed.
func (w *World) AddDevice(cfg DeviceConfig) *Device {
	cfg.Lean = cfg.Lean || w.cfg.Lean
	d := NewDevice(cfg, w, Rand(w.cfg.Seed, "device/"+cfg.ID))
	w.devices = append(w.devices, d)
	d.Start()
	return d
}

// RestartRelay stops the relay as a crash would and starts a new one from the store: app
// connections drop, pushes in flight are forgotten, logins and bindings stay.
func (w *World) RestartRelay() error {
	if w.cfg.Lean {
		return errors.New("a lean world keeps no relay store to restart from")
	}
	w.epoch++
	clear(w.queued)
	w.tapped(TapEvent{Kind: TapRestarted})
	if w.log.on {
		w.log.add(w.eng.Now(), "relay restart")
	}
	// In connection order: each drop draws from the network's randomness.
	for _, id := range slices.Sorted(maps.Keys(w.conns)) {
		c := w.conns[id]
		delete(w.conns, id)
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
	w.relay, w.relayWake = core, time.Time{}
	w.relayReady()
	return nil
}

// ---- Env for devices ----

// After (Env) schedules fn d from now.
func (w *World) After(d time.Duration, fn func()) func() {
	t := &vtimer{fn: fn}
	w.eng.After(d, t.fire)
	return t.cancel
}

// vtimer is a cancellable virtual timer.
type vtimer struct {
	fn        func()
	cancelled bool
}

func (t *vtimer) fire() {
	if !t.cancelled {
		t.fn()
	}
}

func (t *vtimer) cancel() { t.cancelled = true }

// Observe (Env) logs an observation.
func (w *World) Observe(d *Device, o Observation) {
	if w.log.on {
		w.log.add(o.At, "%s %s seq %d %q %s", d.cfg.ID, o.Kind, o.Seq, o.Text, o.Detail)
	}
	if w.onObserve != nil {
		w.onObserve(d, o)
	}
}

// vconn is an app connection in the virtual network.
type vconn struct {
	w         *World
	id        relay.ConnID
	dev       *Device
	relayOpen bool // the relay knows it (opened, not yet closed on its side)
	devClosed bool // the device closed it
	relayShut bool // the relay closed it and the phone has not heard
	// upq and downq hold the frames on their way, oldest first; upFn and downFn deliver the
	// oldest (built once per connection).
	upq          []relay.ClientFrame
	downq        []relay.ServerFrame
	upFn, downFn func()
	// upAt and downAt are the latest arrival times each way: a connection is a TCP stream, so
	// jitter never lets a frame overtake the one sent before it.
	upAt, downAt time.Time
}

// up schedules fn at the relay one crossing from now, in order behind earlier frames.
func (c *vconn) up(fn func()) {
	at := c.w.eng.Now().Add(c.w.latencyOf(c.dev))
	if at.Before(c.upAt) {
		at = c.upAt
	}
	c.upAt = at
	c.w.eng.At(at, fn)
}

// down schedules fn at the device one crossing from now, in order behind earlier frames.
func (c *vconn) down(fn func()) {
	at := c.w.eng.Now().Add(c.w.latencyOf(c.dev))
	if at.Before(c.downAt) {
		at = c.downAt
	}
	c.downAt = at
	c.w.eng.At(at, fn)
}

// DialRelay (Env) opens an app connection through the virtual network.
func (w *World) DialRelay(d *Device) RelayLink {
	w.nextCon++
	c := &vconn{w: w, id: w.nextCon, dev: d}
	lat := w.latencyOf(d)
	w.eng.After(lat, func() {
		if w.cut(d) || c.devClosed {
			w.eng.After(lat, func() { d.OnRelayClosed(c, "connect failed: no network") })
			return
		}
		w.conns[c.id] = c
		c.relayOpen = true
		w.tapped(TapEvent{Kind: TapOpened, Conn: c.id, Device: d})
		w.RelayDo(func(core *relay.Core, now time.Time) { core.Open(now, c.id) })
		c.down(func() {
			if !c.devClosed {
				d.OnRelayOpen(c)
			}
		})
	})
	return c
}

// Send carries a frame to the relay, unless the network is down or drops it.
func (c *vconn) Send(f relay.ClientFrame) {
	if c.devClosed || c.w.cut(c.dev) || c.w.lost(c.dev) {
		return
	}
	if !c.relayOpen && c.relayShut {
		// The relay closed this connection while the close could not reach the phone: its
		// TCP stack answers the frame with a reset.
		c.relayShut = false
		c.down(func() {
			if !c.devClosed {
				c.devClosed = true
				c.dev.OnRelayClosed(c, "connection reset by the relay")
			}
		})
		return
	}
	if f.Op == relay.OpPing && c.relayOpen {
		// A heartbeat only moves the connection's deadline, 90 s or so away: it is applied when
		// sent rather than a latency later, which spares a day of heartbeats an event each.
		c.receive(f)
		return
	}
	// The frame waits in the connection's queue; the event that delivers it carries no copy
	// (a day in the life sends millions).
	c.upq = append(c.upq, f)
	if c.upFn == nil {
		c.upFn = c.deliverUp
	}
	c.up(c.upFn)
}

// deliverUp hands the oldest frame on its way to the relay.
func (c *vconn) deliverUp() {
	f := c.upq[0]
	c.upq[0] = relay.ClientFrame{}
	c.upq = c.upq[1:]
	if c.relayOpen {
		c.receive(f)
	}
}

// receive hands a frame to the relay core now.
func (c *vconn) receive(f relay.ClientFrame) {
	c.w.tapped(TapEvent{Kind: TapReceived, Conn: c.id, Device: c.dev, Frame: f})
	c.w.relay.Receive(c.w.eng.Now(), c.id, f)
	c.w.relayReady()
}

// Close ends the connection from the device; the relay is told only if the network is up.
func (c *vconn) Close() {
	if c.devClosed {
		return
	}
	c.devClosed = true
	if c.w.cut(c.dev) {
		return // half-open: the relay finds out by its heartbeat deadline
	}
	c.up(func() {
		if c.relayOpen {
			c.relayOpen = false
			delete(c.w.conns, c.id)
			c.w.tapped(TapEvent{Kind: TapClosed, Conn: c.id, Device: c.dev})
			c.w.RelayDo(func(core *relay.Core, now time.Time) { core.Closed(now, c.id) })
		}
	})
}

// toDevice carries a relay frame to the device.
func (c *vconn) toDevice(f relay.ServerFrame) {
	if f.Op == relay.OpPong {
		// A pong only tells the app its connection lives. It is noted at its arrival time without
		// an event of its own, which keeps a day of heartbeats cheap; the only thing missed is a
		// network cut within the one latency it travels.
		if !c.devClosed && !c.w.cut(c.dev) {
			c.dev.heard(c, c.w.eng.Now().Add(c.w.latencyOf(c.dev)))
		}
		return
	}
	if c.w.cut(c.dev) {
		return
	}
	c.downq = append(c.downq, f)
	if c.downFn == nil {
		c.downFn = c.deliverDown
	}
	c.down(c.downFn)
}

// deliverDown hands the oldest frame on its way to the phone.
func (c *vconn) deliverDown() {
	f := c.downq[0]
	c.downq[0] = relay.ServerFrame{}
	c.downq = c.downq[1:]
	if !c.devClosed && !c.w.cut(c.dev) {
		c.dev.OnRelayFrame(c, f)
	}
}

// closedByRelay: the relay closed the connection; the device hears of it if the network is up.
func (c *vconn) closedByRelay(reason string) {
	c.relayOpen = false
	delete(c.w.conns, c.id)
	if c.w.cut(c.dev) {
		c.relayShut = true // the close is lost: the app finds out when it next sends
		return
	}
	c.down(func() {
		if !c.devClosed && !c.w.cut(c.dev) {
			c.devClosed = true
			c.dev.OnRelayClosed(c, reason)
		}
	})
}

// relayGone: the relay process died; the device's next read fails (if it has network), after
// the frames already on their way, as a socket's buffered data arrives before its end.
func (c *vconn) relayGone() {
	c.relayOpen = false
	c.down(func() {
		if !c.devClosed && !c.w.cut(c.dev) {
			c.devClosed = true
			c.dev.OnRelayClosed(c, "relay went away")
		}
	})
}

// vfcm is a phone's FCM channel in the virtual network.
type vfcm struct {
	w      *World
	dev    *Device
	token  string
	open   bool
	closed bool
}

// FCMRegister (Env) registers the app with FCM.
func (w *World) FCMRegister(d *Device) {
	w.eng.After(w.latencyOf(d), func() {
		var tok string
		var err error
		w.fcmDo(func(c *fakefcm.Core, now time.Time) {
			tok, err = c.RegisterDevice(now, fakefcm.DeviceSpec{SenderID: d.cfg.SenderID, PackageName: d.cfg.Package})
		})
		w.eng.After(w.latencyOf(d), func() { d.OnToken(tok, err) })
	})
}

// FCMRefresh (Env) rotates a token.
func (w *World) FCMRefresh(d *Device, token string) {
	w.eng.After(w.latencyOf(d), func() {
		var tok string
		var err error
		w.fcmDo(func(c *fakefcm.Core, now time.Time) { tok, err = c.RefreshToken(now, token) })
		w.eng.After(w.latencyOf(d), func() { d.OnToken(tok, err) })
	})
}

// FCMUnregister (Env) deletes a token.
func (w *World) FCMUnregister(d *Device, token string) {
	w.eng.After(w.latencyOf(d), func() {
		w.fcmDo(func(c *fakefcm.Core, now time.Time) { _ = c.Uninstall(now, token) })
	})
}

// FCMForceStop (Env) marks the app force-stopped at FCM.
func (w *World) FCMForceStop(_ *Device, token string) {
	w.fcmDo(func(c *fakefcm.Core, now time.Time) { _ = c.ForceStop(now, token) })
}

// FCMConnect (Env) opens the phone's FCM channel.
func (w *World) FCMConnect(d *Device, token string) FCMLink {
	l := &vfcm{w: w, dev: d, token: token}
	w.eng.After(w.latencyOf(d), func() {
		if l.closed || !d.netUp {
			return
		}
		if old := w.fcmByTk[token]; old != nil {
			old.open = false
		}
		w.fcmByTk[token] = l
		l.open = true
		w.fcmDo(func(c *fakefcm.Core, now time.Time) { _ = c.Connect(now, token) })
	})
	return l
}

// Ack carries an acknowledgement to FCM.
func (l *vfcm) Ack(id string) {
	if !l.dev.netUp {
		return
	}
	l.w.eng.After(l.w.latencyOf(l.dev), func() {
		if l.open {
			l.w.fcmDo(func(c *fakefcm.Core, now time.Time) { _ = c.Ack(now, l.token, id) })
		}
	})
}

// Close closes the channel; FCM notices at once (the phone's FCM connection heartbeats often).
func (l *vfcm) Close() {
	if l.closed {
		return
	}
	l.closed = true
	if l.open {
		l.open = false
		if l.w.fcmByTk[l.token] == l {
			delete(l.w.fcmByTk, l.token)
		}
		l.w.fcmDo(func(c *fakefcm.Core, now time.Time) { c.Disconnect(now, l.token) })
	}
}

// toDevice carries a delivery to the phone.
func (l *vfcm) toDevice(d fakefcm.Delivery) {
	if d.Kind == fakefcm.CloseChannel {
		l.open = false
		delete(l.w.fcmByTk, l.token)
		l.w.eng.After(l.w.latencyOf(l.dev), func() { l.dev.OnFCMClosed(l) })
		return
	}
	f := fakefcm.DeviceFrame{Type: d.Kind, Message: d.Message}
	l.w.eng.After(l.w.latencyOf(l.dev), func() {
		if l.open && l.dev.netUp {
			l.dev.OnPush(l, f)
		}
	})
}

// eventLog is the run's event log: a hash of every line, and the lines if kept.
type eventLog struct {
	on    bool
	keep  bool
	lines []string
	hash  interface {
		Write([]byte) (int, error)
		Sum64() uint64
	}
}

func (l *eventLog) add(at time.Time, format string, args ...any) {
	line := at.Format("15:04:05.000000") + " " + fmt.Sprintf(format, args...)
	l.hash.Write([]byte(line))
	l.hash.Write([]byte{'\n'})
	if l.keep {
		l.lines = append(l.lines, line)
	}
}

// Compile-time checks that the world is an Env and its links are links.
var (
	_ Env       = (*World)(nil)
	_ RelayLink = (*vconn)(nil)
	_ FCMLink   = (*vfcm)(nil)
)
