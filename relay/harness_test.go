package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
)

var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const (
	testApp    = uint64(1400000001)
	testSecret = "0123456789abcdef-test-secret"
	testCert   = int64(6768)
)

// world drives a relay core on a virtual clock like a shell would: it persists every Ready's
// records to a MemoryStore, keeps the frames each connection received, the closes and the
// pushes, and can rebuild the core from the store (a restart).
type world struct {
	t      testingT
	cfg    Config
	core   *Core
	store  *MemoryStore
	now    time.Time
	nextID ConnID

	frames map[ConnID][]ServerFrame
	closed map[ConnID]CloseConn
	pushes []Push
	pushAt []time.Time // when each push was handed out
	trace  []TraceEntry
	// cancelled are the Ready.Cancelled ids and records every Ready's records, in order.
	cancelled []uint64
	records   []Record
	// remote, answers and sendsDone are every Ready's partition traffic, in order; routed, when
	// set, is called after each settle (a cluster's router).
	remote    []RemoteSend
	answers   []RemoteReply
	sendsDone []SendDone
	routed    func()
}

// testingT is what a world needs of a test: a *testing.T, or a *rapid.T in property tests.
type testingT interface {
	require.TestingT
	Helper()
	Fatalf(format string, args ...any)
}

func newWorld(t testingT, cfg Config) *world {
	t.Helper()
	return newWorldOn(t, cfg, NewMemoryStore())
}

// newWorldOn is newWorld persisting to store, which partitions of a cluster share.
func newWorldOn(t testingT, cfg Config, store *MemoryStore) *world {
	t.Helper()
	if cfg.FramesPerSecond == 0 {
		// Tests send bursts in zero virtual time; flood control has its own test.
		cfg.FramesPerSecond, cfg.FrameBurst = 1_000_000, 1_000_000
	}
	c, err := New(cfg, nil)
	require.NoError(t, err)
	w := &world{t: t, cfg: cfg, core: c, store: store, now: epoch,
		frames: map[ConnID][]ServerFrame{}, closed: map[ConnID]CloseConn{}}
	w.app(AppConfig{SDKAppID: testApp, SecretKey: secret.New(testSecret)})
	w.cert(testApp, testCert)
	return w
}

func (w *world) app(a AppConfig) {
	w.t.Helper()
	_, err := w.core.PutApp(w.now, a, true)
	require.NoError(w.t, err)
	w.settle()
}

func (w *world) cert(app uint64, id int64) {
	w.t.Helper()
	_, err := w.core.PutCertificate(w.now, Certificate{ID: id, SDKAppID: app, Platform: "google", PackageName: "com.example.im",
		ServiceAccount: secret.New(`{"type":"service_account","project_id":"demo","private_key":"k","client_email":"a@b.c","private_key_id":"abcdef"}`)}, true)
	require.NoError(w.t, err)
	w.settle()
}

// settle carries out the core's Ready the way a shell must: records first.
func (w *world) settle() {
	w.t.Helper()
	rd := w.core.TakeReady()
	require.NoError(w.t, w.store.Apply(context.Background(), rd.Records))
	w.records = append(w.records, rd.Records...)
	w.cancelled = append(w.cancelled, rd.Cancelled...)
	for _, f := range rd.Frames {
		// Every frame must encode: the shell writes them as JSON.
		_, err := json.Marshal(f.Frame)
		require.NoError(w.t, err)
		w.frames[f.Conn] = append(w.frames[f.Conn], f.Frame)
	}
	for _, cl := range rd.Closes {
		w.closed[cl.Conn] = cl
	}
	for _, p := range rd.Pushes {
		w.pushes = append(w.pushes, p)
		w.pushAt = append(w.pushAt, w.now)
	}
	w.trace = append(w.trace, rd.Trace...)
	w.remote = append(w.remote, rd.Remote...)
	w.answers = append(w.answers, rd.Answers...)
	w.sendsDone = append(w.sendsDone, rd.SendsDone...)
	if w.routed != nil {
		w.routed()
	}
}

// advance runs the virtual clock forward, firing timers at their own times.
func (w *world) advance(d time.Duration) {
	end := w.now.Add(d)
	for {
		at, ok := w.core.NextWake()
		if !ok || at.After(end) {
			break
		}
		if at.After(w.now) {
			w.now = at
		}
		w.core.Tick(w.now)
		w.settle()
	}
	w.now = end
	w.core.Tick(w.now)
	w.settle()
}

// restart rebuilds the core from the store (its partition's part of it), as after a crash:
// connections are gone.
func (w *world) restart() {
	w.t.Helper()
	st, err := w.store.Load(context.Background())
	require.NoError(w.t, err)
	c, err := New(w.cfg, st.ForPartition(w.cfg.Partition))
	require.NoError(w.t, err)
	w.core = c
	for id := range w.frames {
		if _, done := w.closed[id]; !done {
			w.closed[id] = CloseConn{Conn: id, Code: CloseGoingAway, Reason: "relay restarted"}
		}
	}
}

func (w *world) open() ConnID {
	w.nextID++
	w.core.Open(w.now, w.nextID)
	w.settle()
	return w.nextID
}

// do sends a frame and returns the reply to it.
func (w *world) do(id ConnID, f ClientFrame) ServerFrame {
	w.t.Helper()
	f.ID = int64(len(w.frames[id]) + 1000)
	before := len(w.frames[id])
	w.core.Receive(w.now, id, f)
	w.settle()
	for _, r := range w.frames[id][before:] {
		if r.Op == OpReply && r.ID == f.ID {
			return r
		}
	}
	w.t.Fatalf("no reply to %s", f.Op)
	return ServerFrame{}
}

// ping sends a heartbeat (answered by a pong, not a reply).
func (w *world) ping(id ConnID) {
	w.core.Receive(w.now, id, ClientFrame{Op: OpPing})
	w.settle()
}

// reasonsOf lists a device's trace entries.
func (w *world) entries(dev string) []TraceEntry {
	var out []TraceEntry
	for _, e := range w.trace {
		if e.DeviceID == dev {
			out = append(out, e)
		}
	}
	return out
}

func sig(user string, expire time.Time) string {
	return MakeUserSig(testSecret, UserSigClaims{SDKAppID: testApp, UserID: user, Expire: expire.Unix()})
}

// phone is a device in the tests: a connection, logged in and bound, that syncs like an app.
type phone struct {
	w          *world
	conn       ConnID
	user, dev  string
	platform   string
	lastSeq    uint64
	token      string
	frameIndex int
}

// login opens a connection, logs in, reports the token and syncs, as the app does on launch.
func (w *world) login(user, dev string) *phone {
	w.t.Helper()
	return w.loginOn(user, dev, "android")
}

func (w *world) loginOn(user, dev, platform string) *phone {
	w.t.Helper()
	p := &phone{w: w, user: user, dev: dev, platform: platform, token: "tok-" + user + "-" + dev}
	p.relaunch()
	return p
}

// relaunch reconnects a phone and logs in again (auto-login with cached credentials).
func (p *phone) relaunch() {
	w := p.w
	w.t.Helper()
	p.conn = w.open()
	r := w.do(p.conn, ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: p.user, UserSig: sig(p.user, w.now.Add(24*time.Hour)), DeviceID: p.dev, Platform: p.platform})
	require.Equal(w.t, OK, r.Code, r.Desc)
	r = w.do(p.conn, ClientFrame{Op: OpSetPushToken, CertificateID: testCert, Token: p.token})
	require.Equal(w.t, OK, r.Code, r.Desc)
	p.sync()
}

// sync pulls what the phone missed, page by page.
func (p *phone) sync() []MsgFrame {
	var got []MsgFrame
	for {
		r := p.w.do(p.conn, ClientFrame{Op: OpSync, Since: p.lastSeq})
		require.Equal(p.w.t, OK, r.Code, r.Desc)
		for _, m := range r.Msgs {
			require.Greater(p.w.t, m.Seq, p.lastSeq, "sync out of order or repeated")
			p.lastSeq = m.Seq
		}
		got = append(got, r.Msgs...)
		if !r.More {
			return got
		}
	}
}

// kill closes the phone's connection without a logout (swiped away).
func (p *phone) kill() {
	p.w.core.Closed(p.w.now, p.conn)
	p.w.settle()
}

// send sends a text to a user and returns the reply.
func (p *phone) send(to, text string) ServerFrame {
	return p.w.do(p.conn, ClientFrame{Op: OpSend, To: to, Text: text})
}

// live returns the msg frames the phone received since the last call, acknowledging them.
func (p *phone) live() []MsgFrame {
	var out []MsgFrame
	frames := p.w.frames[p.conn]
	for ; p.frameIndex < len(frames); p.frameIndex++ {
		if f := frames[p.frameIndex]; f.Op == OpMsg {
			out = append(out, *f.Msg)
			if f.Msg.Seq > 0 {
				p.lastSeq = f.Msg.Seq
			}
		}
	}
	if len(out) > 0 && p.lastSeq > 0 {
		p.w.core.Receive(p.w.now, p.conn, ClientFrame{Op: OpAck, Seq: p.lastSeq})
		p.w.settle()
	}
	return out
}

// pushesTo returns the pushes sent to a device since index from.
func (w *world) pushesTo(dev string) []Push {
	var out []Push
	for _, p := range w.pushes {
		if p.Device.DeviceID == dev {
			out = append(out, p)
		}
	}
	return out
}

// pushTimes returns when first attempts of pushes to a device were handed out.
func (w *world) pushTimes(dev string) []time.Time {
	var out []time.Time
	for i, p := range w.pushes {
		if p.Device.DeviceID == dev && p.Attempt == 1 {
			out = append(out, w.pushAt[i])
		}
	}
	return out
}

// acceptAll tells FCM accepted every push not yet answered.
func (w *world) acceptAll(from int) int {
	for _, p := range w.pushes[from:] {
		w.core.PushResult(w.now, PushResult{ID: p.ID, Name: fmt.Sprintf("projects/demo/messages/%d", p.ID)})
	}
	n := len(w.pushes)
	w.settle()
	return n
}

// reasons lists the trace reasons for a device, in order.
func (w *world) reasons(dev string) []string {
	var out []string
	for _, e := range w.trace {
		if e.DeviceID == dev {
			out = append(out, e.Reason)
		}
	}
	return out
}

func bodies(ps []Push) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Body)
	}
	return out
}

func texts(ms []MsgFrame) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

// tinyCaps lets two pushes through, then one a minute.
var tinyCaps = Caps{PerMinute: 100, PerHour: 1000, Burst: 2, Refill: duration.Of(time.Minute)}
