// Package relay is the IM relay's deterministic core: apps, logins and kicks, presence, messages
// with per-user sequence numbers and sync, push certificates and bindings, the push rule,
// frequency caps with coalescing, FCM retries and the push trace.
//
// The core is a state machine in the shape of etcd's raft RawNode. The driver feeds it events —
// a connection opened, a frame arrived, a connection closed, a push's result, an admin call, the
// passing of time (Tick) — each with the current time, and then takes a Ready: the records to
// persist, the frames to write, the connections to close, the pushes to send and the push-trace
// entries made. The core never reads a clock, starts a goroutine or does I/O; its only randomness
// (retry jitter) comes from the seed in Config. The WebSocket and HTTP shell in relay/server and
// the simulator in sim/ both drive it this way; see Ready for the order the driver must keep.
package relay

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/pushlab/pushlab/internal/ratelimit"
	"github.com/pushlab/pushlab/internal/timerq"
)

// Errors of the core's admin operations, for errors.Is.
var (
	ErrNotFound = errors.New("relay: not found")
	ErrExists   = errors.New("relay: already exists")
	ErrInvalid  = errors.New("relay: invalid request")
)

// ConnID names one transport connection. The driver numbers connections; the core never reuses a
// number it has seen.
type ConnID uint64

// Ready is the work the driver owes the core, in this order:
//
//  1. persist Records (Store.Apply) — nothing below may become visible before they are durable;
//  2. write Frames to their connections, in order, then carry out Closes (a kicked device gets its
//     kicked frame before its connection closes);
//  3. start Pushes; their outcomes come back through PushResult. Cancelled names pushes of earlier
//     Readies that must not be sent any more (their device logged out, was kicked, came back or
//     lost its token): drop them if they are still waiting to be sent;
//  4. Trace is for observers (metrics, reports); the core keeps its own copy for queries.
//
// A partitioned core (Config.Partition) adds, also once the records are durable: Remote, the
// messages to send to other partitions' cores (each answered later with InputRemoteAnswer);
// Answers, its replies to the messages other partitions sent it (InputRemoteMsg); and SendsDone,
// the outcomes of admin sends that waited for other partitions. A single relay's are always empty.
//
// If persisting fails, the driver must not carry out the rest and should stop: the core's state
// is ahead of the store.
type Ready struct {
	Records   []Record
	Frames    []OutFrame
	Closes    []CloseConn
	Pushes    []Push
	Cancelled []uint64
	Trace     []TraceEntry
	Remote    []RemoteSend
	Answers   []RemoteReply
	SendsDone []SendDone
}

// Empty reports whether there is nothing to do.
func (rd *Ready) Empty() bool {
	return len(rd.Records) == 0 && len(rd.Frames) == 0 && len(rd.Closes) == 0 && len(rd.Pushes) == 0 &&
		len(rd.Cancelled) == 0 && len(rd.Trace) == 0 && len(rd.Remote) == 0 && len(rd.Answers) == 0 && len(rd.SendsDone) == 0
}

// OutFrame is a frame to write to a connection.
type OutFrame struct {
	Conn  ConnID
	Frame ServerFrame
}

// CloseConn asks the driver to close a connection with a WebSocket close code and reason.
type CloseConn struct {
	Conn   ConnID
	Code   int
	Reason string
}

// WebSocket close codes the core asks for.
const (
	CloseNormal     = 1000
	ClosePolicy     = 1008 // floods, kicks
	CloseTooBig     = 1009
	CloseGoingAway  = 1001
	CloseTryAgain   = 1013
	closeReplaced   = "replaced by a newer connection of the same device"
	closeHeartbeat  = "no heartbeat within the deadline"
	closeFloodLimit = "too many frames refused for flooding"
)

// Core is the relay's state machine. It is not safe for concurrent use.
type Core struct {
	cfg Config
	rng *rand.Rand
	now time.Time

	apps   map[uint64]*app
	certs  map[int64]*Certificate
	users  map[UserKey]*user
	tokens map[tokenKey]DeviceKey // (app, token) → the device bound to it
	groups map[groupKey]*Group
	conns  map[ConnID]*conn
	pushes map[uint64]*pendingPush
	// cancelled remembers the tokens of pushes cancelled after they were handed out.
	cancelled struct {
		token map[uint64]tokenKey
		order []uint64
	}

	timers timerq.Queue[timer]
	trace  traceLog
	logins *ratelimit.Bucket // nil when logins are not bounded

	msgCounter  uint64
	pushCounter uint64

	// sends are the messages waiting for other partitions' answers (a partitioned core only).
	sends           map[uint64]*pendingSend
	sendsByClientID map[clientSendKey]uint64
	sendToken       uint64

	ready Ready

	heard HeardFunc // nil unless the driver answers heartbeats itself (SetHeard)
}

// HeardFunc answers, for a connection, when the driver last took a heartbeat (ping) on it that
// it did not hand to the core as a frame (the zero time if none), and every, how often it goes
// on taking them: positive when that ping is one of a steady heartbeat the driver keeps — a
// ping every every from it on, each taken the same way — until it calls
// Core.HeartbeatStopped; zero when it makes no such promise.
type HeardFunc func(ConnID) (at time.Time, every time.Duration)

// SetHeard lets the driver answer steady heartbeats itself: it writes the pong and keeps the
// ping's time, and the core asks fn for it only when the connection's heartbeat deadline comes
// due, as if every ping had arrived as a frame. The connection and its device count as last
// heard from at that time from then on (DeviceView.LastSeen lags meanwhile: while the
// heartbeat is steady, until it stops or the device sends a frame), and such pings
// take no token of the flood limit. When fn promises a steady heartbeat whose pings come
// within the deadline, the core stops looking at the connection's deadline until the driver
// calls HeartbeatStopped: a heartbeat that never misses needs no look. For a simulator's long
// runs, where millions of heartbeats change nothing; fn must answer deterministically, and
// never with a time ahead of the one the core was last given.
func (c *Core) SetHeard(fn HeardFunc) { c.heard = fn }

type app struct {
	cfg   AppConfig
	caps  Caps       // effective caps, defaults filled in
	texts textBounds // the longest texts and IDs the relay writes into the app's pushes
	sig   *UserSigKey
}

// newApp is the core's state of an app configured as cfg in a core configured as core.
func newApp(cfg AppConfig, core Config) *app {
	return &app{cfg: cfg, caps: cfg.Caps.withDefaults(core.DefaultCaps), texts: boundTexts(cfg, core.Partition),
		sig: NewUserSigKey(cfg.SecretKey.Reveal())}
}

// tokenKey scopes a token to an app: a token reported in one app never unbinds another app's
// device.
type tokenKey struct {
	app   uint64
	token string
}

type groupKey struct {
	app uint64
	id  string
}

// New builds a core from a loaded state (nil for an empty relay).
func New(cfg Config, st *State) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("relay config: %w", err)
	}
	cfg = cfg.withDefaults()
	c := &Core{
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5bd1e995)),
		apps:   map[uint64]*app{},
		certs:  map[int64]*Certificate{},
		users:  map[UserKey]*user{},
		tokens: map[tokenKey]DeviceKey{},
		groups: map[groupKey]*Group{},
		conns:  map[ConnID]*conn{},
		pushes: map[uint64]*pendingPush{},
		trace:  traceLog{limit: cfg.TraceLimit},
	}
	c.cancelled.token = map[uint64]tokenKey{}
	c.pushCounter = cfg.Partition.firstPush()
	c.sends = map[uint64]*pendingSend{}
	c.sendsByClientID = map[clientSendKey]uint64{}
	if cfg.LoginsPerSecond > 0 {
		c.logins = ratelimit.MustBucket(cfg.LoginsPerSecond, time.Second/time.Duration(cfg.LoginsPerSecond))
	}
	if st == nil {
		return c, nil
	}
	if err := c.restore(st); err != nil {
		return nil, fmt.Errorf("restore relay state: %w", err)
	}
	return c, nil
}

// restore rebuilds the core's state from a store's State.
func (c *Core) restore(st *State) error {
	for _, a := range st.Apps {
		c.apps[a.SDKAppID] = newApp(a, c.cfg)
	}
	for _, cert := range st.Certificates {
		c.certs[cert.ID] = &cert
	}
	shared := newRestoring()
	for k, msgs := range st.Messages {
		u := c.user(k)
		u.inbox = shared.inbox(msgs)
		if n := len(msgs); n > 0 {
			u.seq = msgs[n-1].Seq
		}
	}
	for k, opts := range st.ReceiveOpts {
		u := c.user(k)
		for conv, opt := range opts {
			u.setOpt(conv, opt)
		}
	}
	for k, s := range st.PushSettings {
		c.user(k).pushesOff = !s.Enabled
	}
	for _, s := range st.Sessions {
		if _, ok := c.apps[s.Key.SDKAppID]; !ok {
			return fmt.Errorf("session %v of unknown app", s.Key)
		}
		d := c.device(s.Key)
		if !s.LoggedOut {
			d.loggedIn, d.platform, d.loginAt, d.unread, d.locale = true, s.Platform, s.LoginAt, s.Unread, s.Locale
			d.held = slices.Clone(s.Held)
		}
		if s.Caps != nil {
			dc := c.capsOf(d)
			dc.perMinute.Restore(s.Caps.PerMinute)
			dc.perHour.Restore(s.Caps.PerHour)
			dc.burst.Restore(s.Caps.BucketFull)
		}
	}
	for _, b := range st.Bindings {
		d := c.device(b.Key)
		d.binding = &b
		d.lastCert = b.CertificateID
		c.tokens[tokenKey{b.Key.SDKAppID, b.Token}] = b.Key
	}
	for _, g := range st.Groups {
		c.groups[groupKey{g.SDKAppID, g.ID}] = &g
	}
	for _, p := range st.Profiles {
		c.user(UserKey{p.SDKAppID, p.UserID}).nickname = p.Nickname
	}
	c.msgCounter = st.Counters[c.cfg.Partition.counter(counterMessages)]
	c.pushCounter = max(st.Counters[c.cfg.Partition.counter(counterPushes)], c.cfg.Partition.firstPush())
	// Unfinished pushes are sent again; summaries that were waiting are rescheduled.
	for _, ps := range st.Pushes {
		p := &pendingPush{push: ps.Push}
		c.pushes[p.push.ID] = p
		d := c.device(p.push.Device)
		d.pushes = append(d.pushes, p.push.ID)
		c.timers.Push(ps.NotBefore, timer{kind: timerRetry, push: p.push.ID, gen: p.gen})
	}
	for _, k := range c.sortedUserKeys() {
		u := c.users[k]
		for _, d := range u.devices {
			if len(d.held) > 0 {
				c.scheduleSummary(d, time.Time{})
			}
		}
	}
	return nil
}

// Counter names.
const (
	counterMessages = "messages"
	counterPushes   = "pushes"
)

// TakeReady returns the work accumulated since the last call and starts a new Ready.
func (c *Core) TakeReady() Ready {
	rd := c.ready
	c.ready = Ready{}
	return rd
}

// Recycle hands back a Ready the driver has carried out, so that the next one reuses its
// buffers: for drivers that take millions of Readies (the simulator). Optional; the Ready must
// not be used afterwards.
func (c *Core) Recycle(rd Ready) {
	if !c.ready.Empty() || c.ready.Records != nil || c.ready.Frames != nil {
		return
	}
	clear(rd.Records)
	clear(rd.Frames)
	clear(rd.Pushes)
	clear(rd.Trace)
	c.ready = Ready{Records: rd.Records[:0], Frames: rd.Frames[:0], Closes: rd.Closes[:0], Pushes: rd.Pushes[:0],
		Cancelled: rd.Cancelled[:0], Trace: rd.Trace[:0]}
}

// observe moves the core's present forward; time never goes back inside the core.
func (c *Core) observe(now time.Time) time.Time {
	if now.After(c.now) {
		c.now = now
	}
	return c.now
}

func (c *Core) record(r Record) {
	if !c.cfg.DiscardRecords {
		c.ready.Records = append(c.ready.Records, r)
	}
}

// recording reports whether records are wanted: hot paths ask before building one.
func (c *Core) recording() bool { return !c.cfg.DiscardRecords }

// recordSession records a device's session (built only if records are wanted).
func (c *Core) recordSession(d *device) {
	if !c.cfg.DiscardRecords {
		c.record(PutSession{Session: d.session()})
	}
}

func (c *Core) frame(id ConnID, f ServerFrame) {
	c.ready.Frames = append(c.ready.Frames, OutFrame{Conn: id, Frame: f})
}

// timerKind names what a timer does.
type timerKind uint8

const (
	timerHeartbeat timerKind = iota // a connection's heartbeat deadline
	timerSummary                    // a device's caps reopen: send the coalesced summary
	timerRetry                      // a push's backoff is over
)

type timer struct {
	kind timerKind
	conn *conn
	dev  *device
	push uint64
	gen  uint64
}

// NextWake returns when the core next needs Tick, and false if nothing is scheduled.
func (c *Core) NextWake() (time.Time, bool) {
	for {
		at, t, ok := c.timers.Peek()
		if !ok || c.live(t) {
			return at, ok
		}
		c.timers.Pop()
	}
}

// live reports whether a timer still applies.
func (c *Core) live(t timer) bool {
	switch t.kind {
	case timerHeartbeat:
		return !t.conn.closed && t.conn.gen == t.gen
	case timerSummary:
		return t.dev.summaryGen == t.gen
	default:
		p, ok := c.pushes[t.push]
		return ok && p.gen == t.gen
	}
}

// Tick runs everything due at or before now: heartbeat deadlines, coalesced summaries, retries.
func (c *Core) Tick(now time.Time) {
	now = c.observe(now)
	for {
		_, t, ok := c.timers.PopDue(now)
		if !ok {
			return
		}
		if !c.live(t) {
			continue
		}
		switch t.kind {
		case timerHeartbeat:
			c.checkHeartbeat(t.conn)
		case timerSummary:
			c.sendSummary(t.dev)
		case timerRetry:
			c.retry(c.pushes[t.push])
		}
	}
}

// user returns the user, creating its record on first use.
func (c *Core) user(k UserKey) *user {
	u, ok := c.users[k]
	if !ok {
		u = &user{key: k}
		c.users[k] = u
	}
	return u
}

// device returns a user's device, creating its record on first use.
func (c *Core) device(k DeviceKey) *device {
	u := c.user(k.User())
	i, ok := u.findDevice(k.DeviceID)
	if ok {
		return u.devices[i]
	}
	d := &device{key: k, user: u}
	u.devices = slices.Insert(u.devices, i, d)
	return d
}

// findDevice finds a device of the user by its ID: its index, or where it would go.
func (u *user) findDevice(id string) (int, bool) {
	return slices.BinarySearchFunc(u.devices, id, func(d *device, id string) int { return strings.Compare(d.key.DeviceID, id) })
}

// setOpt sets the user's receive option for a conversation.
func (u *user) setOpt(conv, opt string) {
	if u.opts == nil {
		u.opts = map[string]string{}
	}
	u.opts[conv] = opt
}
