package sim_test

import (
	"fmt"
	"slices"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
)

// model is what the relay should have done, rebuilt from what crossed its boundary (the World's
// tap: frames in, frames and pushes out, FCM's answers) and from the admin operations the test
// made itself. It applies the rules of DESIGN.md §4 on its own and never reads the relay's
// state: where the relay and the model disagree, an invariant names the difference.
type model struct {
	policy      relay.LoginPolicy
	caps        relay.Caps // with defaults filled in
	defaultCaps bool

	devs   map[string]*mdev // by device ID
	users  map[string][]*mdev
	conns  map[relay.ConnID]*mconn
	msgs   map[string]map[uint64]relay.StoredMsg // user → seq → message
	latest map[string]uint64                     // user → newest seq
	muted  map[string]map[string]bool            // user → conv → receive but do not notify
	pushes map[uint64]*mpush
	// owed are the (device, seq) the relay owes a decision about a push: messages stored while
	// the device was logged in and away, and frames an ended connection left unacknowledged.
	owed map[owedKey]bool
	// held are the seqs a cap held back per device, for a summary push.
	held map[string]map[uint64]bool

	// violations lists every broken invariant, first first; the check after each action fails
	// on the first.
	violations []string
	reach      *reach
}

// mdev is one phone as the rules see it.
type mdev struct {
	id, user, platform string
	dev                *sim.Device
	loggedIn           bool
	ended              string       // why the last session ended
	conn               relay.ConnID // the connection it is logged in on; 0 when away
	token              string       // its binding; "" when none
	cert               int64
	acked              uint64
	sent               []time.Time // pushes handed to FCM, for the caps
	// seen is the last seq the app took in since its install, for the no-loss invariant.
	seen       uint64
	relaunched bool
}

// mconn is one connection the relay has open.
type mconn struct {
	dev      *mdev
	pending  map[int64]relay.ClientFrame
	framed   []uint64 // seqs written to it as msg frames
	loginSeq uint64   // the user's newest seq when the device logged in on it
	synced   bool
}

// mpush is one push the relay handed out.
type mpush struct {
	dev     *mdev
	token   string
	seqs    []uint64
	lastErr string
	// sends counts the times it reached FCM; answered is when FCM's latest error came back,
	// retryAfter what that answer asked for.
	sends      int
	answered   time.Time
	retryAfter time.Duration
}

type owedKey struct {
	dev string
	seq uint64
}

// reach counts how often the interesting states happened, across every check of a property.
type reach struct {
	pushToKilled, coalesced, offlineKick, unregistered, retryAfter503, syncAfterRelaunch int
}

func (r *reach) missing() []string {
	var out []string
	for name, n := range map[string]int{"push to a killed device": r.pushToKilled, "cap hit and coalesced": r.coalesced,
		"kick of an offline device": r.offlineKick, "UNREGISTERED cleanup": r.unregistered,
		"retry after 503": r.retryAfter503, "sync after relaunch": r.syncAfterRelaunch} {
		if n == 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func newModel(policy relay.LoginPolicy, caps relay.Caps, r *reach) *model {
	def := caps == relay.Caps{}
	if caps.PerMinute == 0 {
		caps.PerMinute = relay.DefaultCapsPerMinute
	}
	if caps.PerHour == 0 {
		caps.PerHour = relay.DefaultCapsPerHour
	}
	if caps.Burst == 0 {
		caps.Burst = relay.DefaultCapsBurst
	}
	if caps.Refill == 0 {
		caps.Refill = duration.Of(relay.DefaultCapsRefill)
	}
	if policy == "" {
		policy = relay.PolicySinglePlatform
	}
	return &model{policy: policy, caps: caps, defaultCaps: def,
		devs: map[string]*mdev{}, users: map[string][]*mdev{}, conns: map[relay.ConnID]*mconn{},
		msgs: map[string]map[uint64]relay.StoredMsg{}, latest: map[string]uint64{}, muted: map[string]map[string]bool{},
		pushes: map[uint64]*mpush{}, owed: map[owedKey]bool{}, held: map[string]map[uint64]bool{}, reach: r}
}

func (m *model) addDevice(d *sim.Device) {
	md := &mdev{id: d.ID(), user: d.User(), platform: d.Config().Platform, dev: d}
	m.devs[md.id] = md
	m.users[md.user] = append(m.users[md.user], md)
}

func (m *model) violate(invariant, format string, args ...any) {
	m.violations = append(m.violations, invariant+": "+fmt.Sprintf(format, args...))
}

// tap takes one event from the world (virtual or live): what crossed the relay core's boundary.
func (m *model) tap(e sim.TapEvent) {
	switch e.Kind {
	case sim.TapInput:
		m.input(e)
	case sim.TapReady:
		m.ready(e.Time, e.Ready)
	case sim.TapFCM:
		if !e.Stale {
			invariantNoPushAfterEnd(m, e.Push, "reached FCM")
			invariantRetryBudget(m, e.Time, e.Push, "reached FCM")
		}
	case sim.TapRestarted:
		for id := range m.conns {
			if c := m.conns[id]; c.dev.conn == id {
				c.dev.conn = 0
			}
		}
		clear(m.conns)
	}
}

// input takes one input of the relay core.
func (m *model) input(e sim.TapEvent) {
	in := e.Input
	switch in.Kind {
	case relay.InputOpen:
		c := &mconn{pending: map[int64]relay.ClientFrame{}}
		if e.Device != nil {
			c.dev = m.devs[e.Device.ID()]
		}
		m.conns[in.Conn] = c
	case relay.InputReceive:
		c := m.conns[in.Conn]
		if c == nil {
			return
		}
		if in.Frame.Op == relay.OpLogin && c.dev == nil {
			c.dev = m.devs[in.Frame.DeviceID] // a live relay's connection says who it is at login
		}
		if c.dev == nil {
			return
		}
		if in.Frame.ID != 0 {
			c.pending[in.Frame.ID] = in.Frame
		}
		if in.Frame.Op == relay.OpAck && c.dev.loggedIn && c.dev.conn == in.Conn {
			c.dev.acked = max(c.dev.acked, in.Frame.Seq)
		}
	case relay.InputClosed:
		m.closed(in.Conn)
	case relay.InputPushResult:
		m.result(e.Time, in.Result)
	case relay.InputKick:
		m.kick(in.User)
	}
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
		for _, s := range c.framed {
			if s > d.acked {
				m.owe(d, s)
			}
		}
		return
	}
	for s := max(d.acked, c.loginSeq) + 1; s <= m.latest[d.user]; s++ {
		m.owe(d, s)
	}
}

func (m *model) owe(d *mdev, seq uint64) {
	if _, ok := m.msgs[d.user][seq]; ok {
		m.owed[owedKey{d.id, seq}] = true
	}
}

// end ends a device's session: its binding goes with it.
func (m *model) end(d *mdev, why string) {
	if why == relay.ReasonKicked && d.loggedIn && d.conn == 0 {
		m.reach.offlineKick++
	}
	d.loggedIn, d.ended, d.conn, d.token, d.cert = false, why, 0, "", 0
}

// kick is the administrator kicking a user (the test calls it before the relay's Kick).
func (m *model) kick(user string) {
	for _, d := range m.users[user] {
		if d.loggedIn {
			m.end(d, relay.ReasonKicked)
		}
	}
}

// ready takes the relay's answer to one input.
func (m *model) ready(now time.Time, rd *relay.Ready) {
	decided := map[owedKey]bool{}
	// Replies first: they change sessions, bindings and receive options.
	for _, f := range rd.Frames {
		if c := m.conns[f.Conn]; c != nil && c.dev != nil && f.Frame.Op == relay.OpReply {
			req, ok := c.pending[f.Frame.ID]
			delete(c.pending, f.Frame.ID)
			if ok && f.Frame.Code == relay.OK {
				m.accepted(f.Conn, c, req, f.Frame)
			}
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
				m.violate("kicks follow the login policy", "%s was sent a kicked frame but the rules ended no session of it", c.dev.id)
			}
		}
	}
	for _, cl := range rd.Closes {
		m.closed(cl.Conn)
	}
	// Messages stored now are owed a decision for every device logged in and away.
	for _, r := range rd.Records {
		pm, ok := r.(relay.PutMessage)
		if !ok {
			continue
		}
		user := pm.User.UserID
		if m.msgs[user] == nil {
			m.msgs[user] = map[uint64]relay.StoredMsg{}
		}
		m.msgs[user][pm.Msg.Seq] = pm.Msg
		m.latest[user] = max(m.latest[user], pm.Msg.Seq)
		for _, d := range m.users[user] {
			if d.loggedIn && d.conn == 0 {
				m.owe(d, pm.Msg.Seq)
			}
		}
	}
	for k := range m.owed {
		if m.owed[k] {
			decided[k] = false
		}
	}
	for _, e := range rd.Trace {
		m.traced(e, decided)
	}
	for k, ok := range decided {
		m.owed[k] = false
		if !ok {
			m.violate("every message for a killed-but-logged-in device is pushed or explained",
				"%s seq %d: the relay owed a decision (logged in and away when it was stored, or unacknowledged on a connection that ended) and traced none", k.dev, k.seq)
		}
	}
	for _, p := range rd.Pushes {
		if m.pushes[p.ID] == nil {
			invariantPushOnlyToKilledLoggedInBound(m, p)
		} else {
			if m.pushes[p.ID].lastErr == "UNAVAILABLE" {
				m.reach.retryAfter503++
			}
			invariantNoPushAfterEnd(m, p, "retried")
			invariantRetryBudget(m, now, p, "retried")
		}
		invariantCaps(m, now, p)
	}
}

// accepted applies a request the relay answered OK.
func (m *model) accepted(id relay.ConnID, c *mconn, req relay.ClientFrame, reply relay.ServerFrame) {
	d := c.dev
	switch req.Op {
	case relay.OpLogin:
		for _, o := range m.users[d.user] {
			if o == d || !o.loggedIn {
				continue
			}
			if m.policy == relay.PolicySingle || (m.policy == relay.PolicySinglePlatform && o.platform == d.platform) {
				m.end(o, relay.ReasonKicked)
			}
		}
		// A login starts the connection afresh: what came before it is the app's to sync.
		d.loggedIn, d.conn, d.acked = true, id, 0
		c.loginSeq, c.framed, c.synced = m.latest[d.user], nil, false
	case relay.OpLogout:
		m.end(d, relay.ReasonLoggedOut)
	case relay.OpSetPushToken:
		for _, o := range m.devs {
			if o != d && o.token == req.Token {
				o.token, o.cert = "", 0 // a token already bound to another device moves
			}
		}
		d.token, d.cert = req.Token, req.CertificateID
	case relay.OpSetReceiveOpt:
		if m.muted[d.user] == nil {
			m.muted[d.user] = map[string]bool{}
		}
		m.muted[d.user][req.Conv] = req.Opt == relay.ReceiveNotNotify
	case relay.OpSync:
		if !reply.More {
			c.synced = true
		}
	}
}

// traced checks one push-trace entry against the model and settles what it decides.
func (m *model) traced(e relay.TraceEntry, decided map[owedKey]bool) {
	d := m.devs[e.DeviceID]
	if d == nil {
		return
	}
	seqs := e.Seqs
	if e.Seq != 0 {
		seqs = []uint64{e.Seq}
	}
	switch e.Reason {
	case relay.ReasonLoggedOut, relay.ReasonKicked:
		if d.loggedIn {
			m.violate("no push after logout or kick", "%s traced %s but its session is on", d.id, e.Reason)
		}
	case relay.ReasonOnline:
		if d.conn == 0 {
			m.violate("every message for a killed-but-logged-in device is pushed or explained", "%s traced online for %v but it is away", d.id, seqs)
		}
	case relay.ReasonNoBinding:
		if p := m.pushes[e.PushID]; e.PushID == 0 && d.token != "" || p != nil && d.token == p.token {
			m.violate("every message for a killed-but-logged-in device is pushed or explained", "%s traced no-binding for %v but it is bound", d.id, seqs)
		}
	case relay.ReasonCapped:
		for _, s := range seqs {
			if m.held[d.id] == nil {
				m.held[d.id] = map[uint64]bool{}
			}
			m.held[d.id][s] = true
		}
		if m.pushable(d, seqs) != "" {
			m.violate("a push reaches only a killed, logged-in, bound device", "%s held %v for a summary: %s", d.id, seqs, m.pushable(d, seqs))
		}
	case relay.ReasonMuted, relay.ReasonPushDisabled, relay.ReasonOwnMessage:
		for _, s := range seqs {
			if !m.explains(d, s, e.Reason) {
				m.violate("every message for a killed-but-logged-in device is pushed or explained", "%s seq %d traced %s, which does not hold", d.id, s, e.Reason)
			}
		}
	}
	if e.PushID == 0 || e.Reason == relay.ReasonPushed {
		for _, s := range seqs {
			k := owedKey{d.id, s}
			if _, ok := decided[k]; ok {
				decided[k] = true
			}
		}
	}
	if e.PushID == 0 && e.Reason != relay.ReasonCapped {
		for _, s := range seqs {
			delete(m.held[d.id], s) // a held summary cancelled
		}
	}
}

// explains reports whether a non-push reason holds for a message to a device.
func (m *model) explains(d *mdev, seq uint64, reason string) bool {
	msg, ok := m.msgs[d.user][seq]
	if !ok {
		return false
	}
	switch reason {
	case relay.ReasonMuted:
		return m.muted[d.user][msg.Conv]
	case relay.ReasonPushDisabled:
		return msg.Push.Disable
	case relay.ReasonOwnMessage:
		return msg.From == d.user
	}
	return false
}

// pushable says why messages may not be pushed to a device ("" if they may).
func (m *model) pushable(d *mdev, seqs []uint64) string {
	switch {
	case !d.loggedIn:
		return "not logged in"
	case d.conn != 0:
		return "connected"
	case d.token == "":
		return "not bound"
	}
	for _, s := range seqs {
		msg, ok := m.msgs[d.user][s]
		switch {
		case !ok:
			return fmt.Sprintf("seq %d is no stored message of %s", s, d.user)
		case msg.From == d.user:
			return fmt.Sprintf("seq %d is the user's own message", s)
		case msg.Push.Disable:
			return fmt.Sprintf("seq %d has its push disabled", s)
		}
	}
	return ""
}

// result takes FCM's answer to a push.
func (m *model) result(now time.Time, r relay.PushResult) {
	p := m.pushes[r.ID]
	if p == nil {
		return
	}
	if r.Err == nil {
		return
	}
	p.lastErr = r.Err.Code
	p.answered, p.retryAfter = now, r.Err.RetryAfter
	if r.Err.Code == "UNREGISTERED" || r.Err.TokenInvalid {
		for _, d := range m.devs {
			if d.token == p.token {
				d.token, d.cert = "", 0
				m.reach.unregistered++
			}
		}
	}
}

// observed checks what a phone took in: the no-loss invariant's order half.
func (m *model) observed(dev *sim.Device, o sim.Observation) {
	d := m.devs[dev.ID()]
	switch o.Kind {
	case sim.ObsLifecycle:
		switch o.Detail {
		case "uninstall":
			d.seen = 0
		case "relaunch":
			d.relaunched = true
		}
	case sim.ObsMsg, sim.ObsSynced:
		if o.Seq == 0 {
			return
		}
		if o.Seq != d.seen+1 {
			m.violate("no message is lost: each reaches the device once, in order",
				"%s took in seq %d (%s) after seq %d", d.id, o.Seq, o.Kind, d.seen)
		}
		d.seen = o.Seq
		if o.Kind == sim.ObsSynced && d.relaunched {
			m.reach.syncAfterRelaunch++
			d.relaunched = false
		}
	case sim.ObsDuplicate:
		m.violate("no message is lost: each reaches the device once, in order", "%s got seq %d a second time (%s)", d.id, o.Seq, o.Detail)
	case sim.ObsPush:
		if dev.App() == sim.AppNotRunning {
			m.reach.pushToKilled++
		}
	}
}

// Invariant 1: a push goes out only to a device that, when the relay decided it, was logged
// in, away, bound to that token, and the messages were pushable to it. (Later attempts of the
// same push are invariant 2's.)
func invariantPushOnlyToKilledLoggedInBound(m *model, p relay.Push) {
	const name = "a push reaches only a killed, logged-in, bound device"
	d := m.devs[p.Device.DeviceID]
	if d == nil {
		m.violate(name, "push %d to unknown device %s", p.ID, p.Device.DeviceID)
		return
	}
	if why := m.pushable(d, nil); why != "" {
		m.violate(name, "push %d (attempt %d) to %s, which is %s", p.ID, p.Attempt, d.id, why)
		return
	}
	if p.Token != d.token || p.CertificateID != d.cert {
		m.violate(name, "push %d to %s on token %.12s… (certificate %d), bound to %.12s… (certificate %d)", p.ID, d.id, p.Token, p.CertificateID, d.token, d.cert)
	}
	switch {
	case len(p.Seqs) > 1:
		for _, s := range p.Seqs {
			if !m.held[d.id][s] {
				m.violate(name, "summary push %d to %s covers seq %d, which no cap held", p.ID, d.id, s)
			}
			delete(m.held[d.id], s)
		}
		m.reach.coalesced++
	default:
		if why := m.pushable(d, p.Seqs); why != "" {
			m.violate(name, "push %d to %s: %s", p.ID, d.id, why)
		}
		for _, s := range p.Seqs {
			if m.muted[d.user][m.msgs[d.user][s].Conv] && !m.held[d.id][s] {
				m.violate(name, "push %d to %s: seq %d is in a muted conversation", p.ID, d.id, s)
			}
			delete(m.held[d.id], s)
		}
	}
	m.pushes[p.ID] = &mpush{dev: d, token: p.Token, seqs: slices.Clone(p.Seqs)}
}

// Invariant 2: no push is retried, or reaches FCM, for a device after its logout or kick, nor
// for a token after it was unbound (FCM called it UNREGISTERED, or it moved).
func invariantNoPushAfterEnd(m *model, p relay.Push, what string) {
	const name = "no push after logout, kick or UNREGISTERED"
	d := m.devs[p.Device.DeviceID]
	if d == nil {
		return
	}
	switch {
	case !d.loggedIn:
		m.violate(name, "push %d (attempt %d) %s for %s after its session ended (%s)", p.ID, p.Attempt, what, d.id, d.ended)
	case d.token != p.Token:
		m.violate(name, "push %d (attempt %d) %s on a token %s no longer holds (unbound, moved or UNREGISTERED)", p.ID, p.Attempt, what, d.id)
	case what == "retried" && d.conn != 0:
		m.violate(name, "push %d retried to %s, which is connected", p.ID, d.id)
	}
}

// invariantRetryBudget (FCM chaos): one push is sent at most the retry budget's number of times,
// attempts included, so no fault turns it into a storm; and a retry never goes out before the
// Retry-After of FCM's answer has passed.
func invariantRetryBudget(m *model, now time.Time, p relay.Push, what string) {
	const name = "retries stay within the budget and honour Retry-After"
	mp := m.pushes[p.ID]
	if mp == nil {
		return
	}
	switch what {
	case "reached FCM":
		if mp.sends++; mp.sends > relay.DefaultRetryMaxAttempts {
			m.violate(name, "push %d reached FCM %d times, over the budget of %d sends", p.ID, mp.sends, relay.DefaultRetryMaxAttempts)
		}
	case "retried":
		if p.Attempt > relay.DefaultRetryMaxAttempts {
			m.violate(name, "push %d retried as attempt %d, over the budget of %d", p.ID, p.Attempt, relay.DefaultRetryMaxAttempts)
		}
		if !mp.answered.IsZero() && now.Before(mp.answered.Add(mp.retryAfter)) {
			m.violate(name, "push %d retried %v after FCM answered with Retry-After %v", p.ID, now.Sub(mp.answered), mp.retryAfter)
		}
	}
}

// Invariant 3: in every window, the pushes handed to FCM for a device stay within its caps.
func invariantCaps(m *model, now time.Time, p relay.Push) {
	const name = "pushes stay within the caps"
	d := m.devs[p.Device.DeviceID]
	if d == nil {
		return
	}
	d.sent = append(d.sent, now)
	n := len(d.sent)
	// Only windows ending now can newly break: count back from the newest push.
	for i := n - 1; i >= 0; i-- {
		span := now.Sub(d.sent[i])
		count := n - i
		switch {
		case span < time.Minute && count > m.caps.PerMinute:
			m.violate(name, "%s: %d pushes within %v, over %d per minute", d.id, count, span, m.caps.PerMinute)
			return
		case span < time.Hour && count > m.caps.PerHour:
			m.violate(name, "%s: %d pushes within %v, over %d per hour", d.id, count, span, m.caps.PerHour)
			return
		case count > m.caps.Burst+int(span/m.caps.Refill.D()):
			m.violate(name, "%s: %d pushes within %v, over a burst of %d plus one per %v", d.id, count, span, m.caps.Burst, m.caps.Refill)
			return
		}
	}
}

// invariantNoThrottle: a relay with default caps never makes fakefcm throttle it.
func invariantNoThrottle(m *model, recs []fakefcm.Record) {
	if !m.defaultCaps {
		return
	}
	for _, r := range recs {
		if r.Throttle != "" {
			m.violate("pushes stay within the caps", "fakefcm throttled record %d (%s) of a relay with default caps", r.Seq, r.Throttle)
			return
		}
	}
}

// invariantEverythingOwedSettled runs once the world has been quiet for hours, everything
// healed: every owed decision ended in a push FCM accepted or a reason, and no held message
// waits (invariant 5's second half).
func invariantEverythingOwedSettled(m *model, trace []relay.TraceEntry) {
	last := map[owedKey]relay.TraceEntry{}
	for _, e := range trace {
		seqs := e.Seqs
		if e.Seq != 0 {
			seqs = []uint64{e.Seq}
		}
		for _, s := range seqs {
			last[owedKey{e.DeviceID, s}] = e
		}
	}
	keys := make([]owedKey, 0, len(m.owed))
	for k := range m.owed {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b owedKey) int {
		if a.dev != b.dev {
			return compareStrings(a.dev, b.dev)
		}
		return int(a.seq) - int(b.seq)
	})
	for _, k := range keys {
		e, ok := last[k]
		switch {
		case !ok:
			m.violate("every message for a killed-but-logged-in device is pushed or explained", "%s seq %d: nothing in the trace", k.dev, k.seq)
		case e.Reason == relay.ReasonCapped:
			m.violate("every message for a killed-but-logged-in device is pushed or explained", "%s seq %d: still held for a summary hours later", k.dev, k.seq)
		case e.Reason == relay.ReasonPushed:
			m.violate("every message for a killed-but-logged-in device is pushed or explained", "%s seq %d: push %d never answered", k.dev, k.seq, e.PushID)
		}
	}
}

// invariantEveryDeviceCaughtUp runs once the world has settled: every app logged in and
// connected has every message of its user (invariant 4's completeness half).
func invariantEveryDeviceCaughtUp(m *model) {
	ids := make([]string, 0, len(m.devs))
	for id := range m.devs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		d := m.devs[id]
		if d.loggedIn && d.conn != 0 && d.dev.LoggedIn() && d.seen != m.latest[d.user] {
			m.violate("no message is lost: each reaches the device once, in order",
				"%s is logged in and connected but has seq %d of %s's %d", d.id, d.seen, d.user, m.latest[d.user])
		}
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
