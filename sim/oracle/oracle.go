// Package oracle holds a relay to the invariants of DESIGN.md §7 from the outside. An Oracle is
// fed what crossed the relay core's boundary (a world's tap: sim.TapEvent), what the phones
// observed, and the apps and devices a run provisions; it rebuilds what the relay should have
// done by the rules of DESIGN.md §4, on its own, and never reads the relay's state. Where the
// relay and the rules disagree, a Violation names the invariant, the time, the device and the
// evidence.
//
// The property tests and the scenario runner use it alike, on every twin that has a tap (the
// virtual and the live ones; a remote relay has none). It is safe for concurrent use — the live
// twin calls Tap from the relay's loop goroutine and Observed under its devices' lock — and it
// never calls back into the world, so neither call can deadlock on it.
package oracle

import (
	"slices"
	"sync"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
)

// The invariants, as violations name them (DESIGN.md §7; the retry budget and the login policy
// are the relay's rules of §4 that the same bookkeeping checks).
const (
	// PushOnlyToKilledLoggedInBound is invariant 1: a push goes out only to a device that, when
	// the relay decided it, was logged in, away, bound to that token, and the messages were
	// pushable to it.
	PushOnlyToKilledLoggedInBound = "a push reaches only a killed, logged-in, bound device"
	// NoPushAfterEnd is invariant 2: no push is retried, or reaches FCM, for a device after its
	// logout or kick, nor on a token after it was unbound (UNREGISTERED, or moved).
	NoPushAfterEnd = "no push after logout, kick or UNREGISTERED"
	// WithinCaps is invariant 3: in every window, the pushes for a device stay within its
	// caps, and fakefcm never throttles a relay running with default caps.
	WithinCaps = "pushes stay within the caps"
	// NoLoss is invariant 4: every message reaches each device of its user once, in order.
	NoLoss = "no message is lost: each reaches the device once, in order"
	// PushedOrExplained is invariant 5: every message for a killed-but-logged-in device is
	// covered by a push or by a trace reason that holds.
	PushedOrExplained = "every message for a killed-but-logged-in device is pushed or explained"
	// RetryBudget: one push is sent at most the retry budget's number of times, and never
	// retried before the Retry-After of FCM's answer has passed.
	RetryBudget = "retries stay within the budget and honour Retry-After"
	// PushContent: a push carries what its messages call for — title the sender's nickname as
	// the administrator set it when the message was sent (the user ID without one; in a named
	// group the group title; offlinePush.title first), body the text shortened to 100
	// characters (or offlinePush.desc), the conversation as collapse key and in the data; a
	// summary of several says "N new messages" under the app's name; the texts the relay writes
	// are the reader's locale's by the fallback (sim/oracle/pushtexts.go), and a stored
	// message carries its sender's nickname; the Android channel, sound and click action are the
	// last message's (the channel else the certificate's default; no click action on a summary of
	// several conversations), and the push is silent iff every message it
	// covers asked for that — and its badge is the device's unread count: the latest
	// background {unread}, one more per push decided since. A retry carries the same.
	PushContent = "a push carries its messages' title, body and collapse key, and the unread count as badge"
	// LoginPolicy: a kicked frame goes only to a device whose session the app's login policy
	// (or the administrator) ended.
	LoginPolicy = "kicks follow the login policy"
	// OneUserPerToken: a token is bound to one (user, device) at a time, the one that reported
	// it last (a shared phone changes hands and reports the same token for its new user); no
	// push for anyone else is decided for it, nor reaches FCM on it.
	OneUserPerToken = "a token is bound to one (user, device) at a time; no push for one user reaches a token another reported last"
	// NoPushOfAcknowledged: no push (first attempt, retry or summary) covers a message the
	// device acknowledged since its latest login. An ack says the device has every message up
	// to its seq; only what a connection that ended left unacknowledged is pushed again.
	NoPushOfAcknowledged = "no push for a message the device acknowledged"
	// NoPushWhilePushesOff: no push is decided, held for a summary, retried or reaches FCM for
	// a user while the user's pushes are off (setPushSettings from the app, or the admin API);
	// a user-disabled trace entry is only for such a user.
	NoPushWhilePushesOff = "no push for a user who turned pushes off"
)

// Config is what an oracle knows of the world beyond what it is told while the run goes.
type Config struct {
	// Relay is the relay's rules (zero fields take their defaults): the caps of apps that set
	// none, and the retry budget.
	Relay relay.Config
	// FCM is fakefcm's behaviour. fakefcm throttling a relay with default caps is a violation
	// only while its throttles are FCM's own (a tighter one set on purpose may throttle).
	FCM fakefcm.Behaviour
}

// Violation is one broken invariant.
type Violation struct {
	// Invariant is one of the names above.
	Invariant string
	// Time is when the oracle saw it break: the time of the event that broke it, or the time
	// given to an end-of-run check.
	Time time.Time
	// Device is the ID of the device concerned; empty when the violation names none.
	Device string
	// Evidence says what happened, in words.
	Evidence string
}

// String is the invariant and the evidence, on one line.
func (v Violation) String() string { return v.Invariant + ": " + v.Evidence }

// Reach counts how often the states the properties must get to happened: a property that
// never reaches them would pass by never getting there.
type Reach struct {
	PushToKilled, Coalesced, OfflineKick, Unregistered, RetryAfter503, SyncAfterRelaunch int
	// TokenMoved counts tokens reported by a second (user, device) while the first was still
	// logged in and bound to them: a shared phone whose previous user's logout was lost.
	TokenMoved int
	// The combinations where the push rule's exceptions and the retry budget's edge are put to
	// the test: each counts a message or an answer the relay took while the combination held.
	//
	// OnlineOnlyToKilled: an online-only message accepted for a user with a device killed,
	// logged in and bound. PushDisabledToKilled, MutedToKilled, GroupToKilled: a push-disabled
	// message, a message in a muted conversation, a group message stored for such a device;
	// UnmutedToKilled: a message stored for such a device in a conversation muted once and
	// unmuted since.
	OnlineOnlyToKilled, PushDisabledToKilled, MutedToKilled, UnmutedToKilled, GroupToKilled int
	// RetryAfterHonoured: a retry of a push whose last answer carried a Retry-After.
	// LastAttemptFailed: a retryable answer to a push's attempt number retry.maxAttempts.
	RetryAfterHonoured, LastAttemptFailed int
	// HalfOpenClosed: the relay closed a connection silent past its heartbeat deadline while
	// frames written to it were unacknowledged.
	HalfOpenClosed int
	// CapsAcrossLogin, CapsAcrossRestart: a push decided or held for a device while a push of
	// an earlier session of it (before its latest login), or from before the latest relay
	// restart, is inside its caps' minute.
	CapsAcrossLogin, CapsAcrossRestart int
	// UnackedAtClose: a connection of a logged-in device ended with msg frames the phone had
	// taken in but not acknowledged: its acks trailed what was written. (A half-open connection
	// ends with frames the phone never got; that is not counted here.)
	UnackedAtClose int
	// PushesOffToKilled: a message stored for a killed, logged-in, bound device whose user has
	// pushes off. PushesBackOnToKilled: one stored for such a device whose user turned pushes
	// off and on again since.
	PushesOffToKilled, PushesBackOnToKilled int
	// NicknameTitle: a push decided for one message titled from its sender's nickname.
	// LocalizedSummary: a summary push decided for a device whose locale gets texts other than
	// the built-in English ones.
	NicknameTitle, LocalizedSummary int
}

// Add adds o's counts to r's.
func (r *Reach) Add(o Reach) {
	r.PushToKilled += o.PushToKilled
	r.Coalesced += o.Coalesced
	r.OfflineKick += o.OfflineKick
	r.Unregistered += o.Unregistered
	r.RetryAfter503 += o.RetryAfter503
	r.SyncAfterRelaunch += o.SyncAfterRelaunch
	r.TokenMoved += o.TokenMoved
	r.OnlineOnlyToKilled += o.OnlineOnlyToKilled
	r.PushDisabledToKilled += o.PushDisabledToKilled
	r.MutedToKilled += o.MutedToKilled
	r.UnmutedToKilled += o.UnmutedToKilled
	r.GroupToKilled += o.GroupToKilled
	r.RetryAfterHonoured += o.RetryAfterHonoured
	r.LastAttemptFailed += o.LastAttemptFailed
	r.HalfOpenClosed += o.HalfOpenClosed
	r.CapsAcrossLogin += o.CapsAcrossLogin
	r.CapsAcrossRestart += o.CapsAcrossRestart
	r.UnackedAtClose += o.UnackedAtClose
	r.PushesOffToKilled += o.PushesOffToKilled
	r.PushesBackOnToKilled += o.PushesBackOnToKilled
	r.NicknameTitle += o.NicknameTitle
	r.LocalizedSummary += o.LocalizedSummary
}

// Missing names the states never reached, sorted.
func (r Reach) Missing() []string {
	var out []string
	for name, n := range map[string]int{"push to a killed device": r.PushToKilled, "cap hit and coalesced": r.Coalesced,
		"kick of an offline device": r.OfflineKick, "UNREGISTERED cleanup": r.Unregistered,
		"retry after 503": r.RetryAfter503, "sync after relaunch": r.SyncAfterRelaunch,
		"token moved from a user still logged in": r.TokenMoved,
		"online-only message for a killed device": r.OnlineOnlyToKilled, "push-disabled message for a killed device": r.PushDisabledToKilled,
		"muted conversation's message for a killed device": r.MutedToKilled, "unmuted conversation's message for a killed device": r.UnmutedToKilled,
		"group message for a killed member": r.GroupToKilled, "retry after a Retry-After": r.RetryAfterHonoured,
		"last allowed attempt failed": r.LastAttemptFailed, "half-open connection closed at its deadline with frames unacknowledged": r.HalfOpenClosed,
		"caps carried across a login": r.CapsAcrossLogin, "caps carried across a relay restart": r.CapsAcrossRestart,
		"connection ended with frames taken in, unacknowledged":           r.UnackedAtClose,
		"message for a killed device of a user with pushes off":           r.PushesOffToKilled,
		"message for a killed device of a user who turned pushes back on": r.PushesBackOnToKilled,
		"push titled with a nickname":                                     r.NicknameTitle, "summary push in a language other than English": r.LocalizedSummary} {
		if n == 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Oracle rebuilds what the relay should have done and collects the violations. Make one with
// New for each run.
type Oracle struct {
	mu sync.Mutex
	m  *model
}

// New makes an oracle for one run.
func New(cfg Config) *Oracle { return &Oracle{m: newModel(cfg)} }

// do runs fn on the model under the oracle's lock.
func (o *Oracle) do(fn func(m *model)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fn(o.m)
}

// AddApp tells the oracle an app's login policy and caps. A device of an app it was not told of
// follows the relay's defaults (single-platform, the relay's default caps).
func (o *Oracle) AddApp(a relay.AppConfig) { o.do(func(m *model) { m.addApp(a) }) }

// AddDevice tells the oracle of a phone. Events about phones it was not told of are ignored.
func (o *Oracle) AddDevice(d *sim.Device) { o.do(func(m *model) { m.addDevice(d) }) }

// AddCertificate tells the oracle of a certificate the run provisions: its default Android
// channel is what pushes through it carry when their message names none.
func (o *Oracle) AddCertificate(c sim.CertificateSpec) {
	o.do(func(m *model) { m.channels[c.ID] = c.ChannelID })
}

// Tap takes one event from a world's tap (sim.VirtualWorld.SetTap, live.Config.Tap).
func (o *Oracle) Tap(e sim.TapEvent) { o.do(func(m *model) { m.tap(e) }) }

// Observed takes one observation of a phone (sim.World.OnObserve).
func (o *Oracle) Observed(d *sim.Device, obs sim.Observation) {
	o.do(func(m *model) { m.observed(d, obs) })
}

// Violations lists the violations found so far, first first.
func (o *Oracle) Violations() []Violation {
	var out []Violation
	o.do(func(m *model) { out = slices.Clone(m.violations) })
	return out
}

// Reach is how often the oracle saw the states a property must reach.
func (o *Oracle) Reach() Reach {
	var out Reach
	o.do(func(m *model) { out = m.reach })
	return out
}

// CheckNoThrottle is the end-of-run half of invariant 3: fakefcm throttled no push of an app
// that runs with the relay's default caps (while fakefcm's throttles are FCM's own).
func (o *Oracle) CheckNoThrottle(at time.Time, recs []fakefcm.Record) {
	o.do(func(m *model) { m.checkNoThrottle(at, recs) })
}

// CheckSettled is the second half of invariant 5, for a world that has been quiet for hours
// with everything healed: every decision the relay owed ended in a push FCM answered or in a
// reason, and no message waits for a summary. trace is the relay's push trace, read back.
func (o *Oracle) CheckSettled(at time.Time, trace []relay.TraceEntry) {
	o.do(func(m *model) { m.checkSettled(at, trace) })
}

// CheckCaughtUp is the completeness half of invariant 4: each of devs that the relay sees
// logged in and connected has taken in every message of its user. The caller passes the
// devices it knows have settled — logged in on the phone, on a whole link, nothing left in
// flight to them — and calls it inside the world's Do if it read them there.
func (o *Oracle) CheckCaughtUp(at time.Time, devs []*sim.Device) {
	o.do(func(m *model) { m.checkCaughtUp(at, devs) })
}

// Behind lists those of devs that CheckCaughtUp would name now: a consumer waits for them to
// catch up (messages in flight) before it checks.
func (o *Oracle) Behind(devs []*sim.Device) []*sim.Device {
	var out []*sim.Device
	o.do(func(m *model) {
		for _, d := range devs {
			if md := m.devs[keyOf(d)]; md != nil && m.behind(md) {
				out = append(out, d)
			}
		}
	})
	return out
}
