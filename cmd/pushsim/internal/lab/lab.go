// Package lab is pushsim serve's device lab: a page on which a person creates simulated phones,
// drives each through its app's lifecycle and sends messages between users, against the relay and
// fakefcm that pushsim serve runs, in real time. Each phone shows what it got — live and synced
// messages, notifications with their badge, the relay's push-trace reason for each message — and
// a swimlane draws the session as it happens. The session can be saved as a scenario that
// pushsim run replays in the virtual world, with the expectations the person ticked.
//
// The phones are the simulator's (sim.Device), driven through the world port's live twin on the
// serve stack: the lab adds no device model of its own.
package lab

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/scenarios"
	"github.com/pushlab/pushlab/sim"
)

// Config is what a lab drives its phones with.
type Config struct {
	// World is the world the phones live in: the live twin on pushsim serve's stack. The lab
	// drives and reads its devices, and reads the relay's push trace through it.
	World sim.World
	// App is the app the phones log in to, AppSecret the secret that signs their UserSigs (it
	// never leaves the lab: no page or answer carries it).
	App       uint64
	AppSecret secret.Secret
	// Certificate, SenderID and Package are the push certificate the phones report their tokens
	// for, and what their FCM SDK registers with.
	Certificate int64
	SenderID    string
	Package     string
	// TracePoll is how often the relay's push trace is read for changes (500 ms when zero).
	TracePoll time.Duration
	// Logger receives the lab's log lines; nil discards them.
	Logger *slog.Logger
}

// Lab is one session of the device lab: its phones, what they saw, the actions taken and the
// expectations ticked. Its methods are safe for concurrent use.
type Lab struct {
	cfg    Config
	csrf   string
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// mu guards what follows. The world's lock (Do) is taken before mu, never inside it: the
	// observation callback runs under the world's lock and takes mu.
	mu sync.Mutex
	// start is when the first phone was created: the session's times count from it.
	start   time.Time
	phones  []*phone
	byDev   map[*sim.Device]*phone
	actions []action
	ticks   map[tickKey]bool
	trace   []relay.TraceEntry
	flash   string
	version uint64
	subs    map[chan struct{}]bool
}

// phone is one simulated phone of the session, with its own copy of what it observed.
type phone struct {
	ID, User, Platform string
	dev                *sim.Device
	obs                []sim.Observation
}

// action is one thing the person did, as a scenario step, at the time it was done.
type action struct {
	At   time.Time
	Step scenarios.Step
}

// tickKey names one observation of one phone: the expectation ticked on it.
type tickKey struct {
	Phone string
	Obs   int
}

// New starts a session; Close ends it (its phones stay in the world until the world closes).
func New(cfg Config) (*Lab, error) {
	if cfg.World == nil {
		return nil, errors.New("the lab needs a world to drive its phones in")
	}
	if cfg.TracePoll == 0 {
		cfg.TracePoll = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tok, err := newToken()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Lab{cfg: cfg, csrf: tok, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		byDev: map[*sim.Device]*phone{}, ticks: map[tickKey]bool{}, subs: map[chan struct{}]bool{}}
	cfg.World.OnObserve(l.observed)
	go l.pollTrace()
	return l, nil
}

// Close ends the session: the trace is no longer read, and live-update streams end.
func (l *Lab) Close() error {
	l.cancel()
	<-l.done
	return nil
}

// observed keeps a copy of a phone's observation (called under the world's lock).
func (l *Lab) observed(d *sim.Device, o sim.Observation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.byDev[d]; p != nil {
		p.obs = append(p.obs, o)
		l.changed()
	}
}

// pollTrace reads the relay's push trace until the lab closes, and tells the page when it grew.
// A failure is logged once, not on every poll, until a read works again (the relay stopped).
func (l *Lab) pollTrace() {
	defer close(l.done)
	t := time.NewTicker(l.cfg.TracePoll)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		tr, err := l.cfg.World.Trace()
		if err != nil {
			if !failing {
				l.cfg.Logger.Warn("lab: read the relay's push trace (told once until it reads again)", "err", err)
			}
			failing = true
			continue
		}
		if failing {
			l.cfg.Logger.Info("lab: the relay's push trace reads again")
			failing = false
		}
		l.mu.Lock()
		if len(tr) != len(l.trace) {
			l.trace = tr
			l.changed()
		}
		l.mu.Unlock()
	}
}

// changed tells every live-update stream that the session changed (call holding mu).
func (l *Lab) changed() {
	l.version++
	for ch := range l.subs {
		select {
		case ch <- struct{}{}:
		default: // one pending notice is enough: the page reads the whole state
		}
	}
}

// subscribe returns a channel told of changes, and the function that stops it.
func (l *Lab) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	l.subs[ch] = true
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.subs, ch)
		l.mu.Unlock()
	}
}

// userError is a request the lab refuses or could not carry out, in words for the person, with
// the HTTP status it is answered with.
type userError struct {
	status int
	msg    string
}

func (e *userError) Error() string { return e.msg }

// refuse is a request the lab refuses (422).
func refuse(format string, args ...any) error {
	return &userError{http.StatusUnprocessableEntity, fmt.Sprintf(format, args...)}
}

// platforms are the platforms a phone may log in as.
func platforms() []string { return []string{"android", "ios", "web", "pc"} }

// clipped is a person's input as a refusal quotes it: at most 64 bytes of it.
func clipped(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	return s[:most] + "…" // quoted with %q: a rune cut in two shows as escapes
}

// checkName refuses an empty, overlong, non-UTF-8 or unprintable user or text.
func checkName(what, s string, max int) error {
	if strings.TrimSpace(s) == "" {
		return refuse("%s is empty", what)
	}
	if len(s) > max {
		return refuse("%s is longer than %d bytes", what, max)
	}
	if !utf8.ValidString(s) {
		return refuse("%s %q is not UTF-8 text", what, clipped(s))
	}
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return refuse("%s %q has characters that cannot be shown", what, s)
	}
	return nil
}

// AddPhone creates a phone for a user, without the app installed yet.
func (l *Lab) AddPhone(user, platform string) (string, error) {
	if err := checkName("the user", user, 64); err != nil {
		return "", err
	}
	if !slices.Contains(platforms(), platform) {
		return "", refuse("unknown platform %q: one of %s", clipped(platform), strings.Join(platforms(), ", "))
	}
	l.mu.Lock()
	if len(l.phones) >= 16 {
		l.mu.Unlock()
		return "", refuse("a session has at most 16 phones")
	}
	if len(l.phones) == 0 {
		l.start = l.cfg.World.Now() // the session starts with its first phone
	}
	id := user + "-phone"
	for n := 2; l.phoneByID(id) != nil; n++ {
		id = fmt.Sprintf("%s-phone%d", user, n)
	}
	p := &phone{ID: id, User: user, Platform: platform}
	l.phones = append(l.phones, p)
	l.mu.Unlock()
	l.cfg.World.Do(func() {
		d := l.cfg.World.AddDevice(sim.DeviceConfig{ID: id, User: user, Platform: platform, SDKAppID: l.cfg.App,
			AppSecret: l.cfg.AppSecret.Reveal(), CertificateID: l.cfg.Certificate, SenderID: l.cfg.SenderID, Package: l.cfg.Package})
		l.mu.Lock()
		p.dev = d
		l.byDev[d] = p
		l.changed()
		l.mu.Unlock()
	})
	return id, nil
}

// phoneByID finds a phone (call holding mu).
func (l *Lab) phoneByID(id string) *phone {
	for _, p := range l.phones {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// device is a phone's simulated device, or a refusal naming the phone.
func (l *Lab) device(id string) (*sim.Device, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.phoneByID(id)
	if p == nil || p.dev == nil {
		return nil, refuse("no phone %q", clipped(id))
	}
	return p.dev, nil
}

// button is a button of a phone: a scenario step, its label, and what it does to the device.
type button struct {
	Step  scenarios.StepKind
	Label string
	do    func(*sim.Device)
}

// buttons are the buttons of a phone, in the order the page shows them.
func buttons() []button {
	return []button{
		{scenarios.StepInstall, "install", (*sim.Device).Install},
		{scenarios.StepLaunch, "launch", (*sim.Device).Launch},
		{scenarios.StepLogin, "log in", func(d *sim.Device) { d.Login(false) }}, // the token is reported by its own button
		{scenarios.StepReportToken, "report token", (*sim.Device).ReportToken},
		{scenarios.StepBackground, "background", func(d *sim.Device) { d.Background(0) }},
		{scenarios.StepForeground, "foreground", (*sim.Device).Foreground},
		{scenarios.StepKill, "kill", (*sim.Device).Kill},
		{scenarios.StepForceStop, "force-stop", (*sim.Device).ForceStop},
		{scenarios.StepNetLoss, "network off", (*sim.Device).NetLoss},
		{scenarios.StepNetRestore, "network on", (*sim.Device).NetRestore},
		{scenarios.StepRelaunch, "relaunch", (*sim.Device).Relaunch},
		{scenarios.StepLogout, "log out", (*sim.Device).Logout},
		{scenarios.StepUninstall, "uninstall", (*sim.Device).Uninstall},
	}
}

// Act does what one of a phone's buttons does. What the phone refuses (a login before the install) is
// shown on the phone and not recorded: the saved scenario holds what the phones did.
func (l *Lab) Act(id string, kind scenarios.StepKind) error {
	d, err := l.device(id)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(buttons(), func(b button) bool { return b.Step == kind })
	if i < 0 {
		return refuse("unknown action %q", clipped(string(kind)))
	}
	op := buttons()[i].do
	st := scenarios.Step{Kind: kind, Device: id}
	if kind == scenarios.StepLogin {
		no := false
		st.ReportToken = &no
	}
	return l.do(d, st, func() (string, bool) { op(d); return "", true })
}

// Send has a phone's app send a message to a user.
func (l *Lab) Send(from, to, text string) error {
	if err := checkName("the recipient", to, 64); err != nil {
		return err
	}
	if err := checkName("the message", text, 1000); err != nil {
		return err
	}
	d, err := l.device(from)
	if err != nil {
		return err
	}
	st := scenarios.Step{Kind: scenarios.StepSend, Send: &scenarios.SendStep{From: from, To: to, Text: text}}
	return l.do(d, st, func() (string, bool) {
		if !d.Send(relay.ClientFrame{To: to, Text: text}) {
			return from + " is not logged in: its app cannot send", false
		}
		return "", true
	})
}

// do runs op on a device and records its step once it has landed, unless the device refused it
// (at once, or in the relay's answer): the saved scenario holds what the phones did.
func (l *Lab) do(d *sim.Device, st scenarios.Step, op func() (string, bool)) error {
	var why string
	var ok bool
	var at time.Time
	var before int
	refused := func() {
		for _, o := range d.Observations()[before:] {
			if o.Kind == sim.ObsRefused && ok {
				why, ok = o.Detail, false
			}
		}
	}
	l.cfg.World.Do(func() {
		before = len(d.Observations())
		at = l.cfg.World.Now()
		why, ok = op()
		refused()
	})
	landed := true
	if ok {
		landed = l.settle(d, st)
		l.cfg.World.Do(refused)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changed()
	if !ok {
		return refuse("%s", why)
	}
	l.record(action{At: at, Step: st})
	if !landed {
		// The phone did it; the relay (or FCM) did not answer in time: say so, and keep the step.
		return &userError{http.StatusGatewayTimeout, fmt.Sprintf("%s: %s did not land within %s (is the relay up?): "+
			"it is recorded, and the phone shows what comes of it", d.ID(), st.Kind, settleTimeout)}
	}
	return nil
}

// record keeps an action in the order the actions were taken (call holding mu). Two tabs' actions
// may land in the other order than they were taken (the first waits longer to settle); the saved
// scenario and causeOf's search need them in the order taken.
func (l *Lab) record(a action) {
	l.actions = slices.Insert(l.actions, l.firstAfter(a.At), a)
}

// firstAfter is the index of the first action taken after t (len(actions): none) (call holding
// mu). Actions taken at t count as before it.
func (l *Lab) firstAfter(t time.Time) int {
	i, _ := slices.BinarySearchFunc(l.actions, t, func(a action, t time.Time) int {
		return cmp.Or(a.At.Compare(t), -1)
	})
	return i
}

// settleTimeout bounds how long an action's request waits for the action to land.
const settleTimeout = 5 * time.Second

// settle waits until a step has landed, as the scenario runner does before its next step (an
// install has its token, a login its answers, a killed app's connection is gone at the relay),
// so that the session's steps replay in the order they took effect. What does not land within
// settleTimeout is left to show on the phone; settle reports whether the step landed.
func (l *Lab) settle(d *sim.Device, st scenarios.Step) bool {
	w := l.cfg.World
	on := func(f func() bool) func() bool {
		return func() bool {
			var ok bool
			w.Do(func() { ok = f() })
			return ok
		}
	}
	answered := func() bool { return d.PendingRequests() == 0 }
	loggedIn := func() bool { return d.LoggedIn() && answered() }
	var cond func() bool
	switch st.Kind {
	case scenarios.StepNetLoss:
		return true // nothing is sent: the relay is not told
	case scenarios.StepInstall:
		cond = on(func() bool { return d.Token() != "" })
	case scenarios.StepLogin:
		cond = on(loggedIn)
	case scenarios.StepLaunch, scenarios.StepRelaunch, scenarios.StepNetRestore:
		cond = on(func() bool {
			s := d.State()
			return s.App == sim.AppNotRunning || !s.Credentials || !s.NetUp || loggedIn()
		})
	case scenarios.StepKill, scenarios.StepForceStop, scenarios.StepUninstall:
		cond = func() bool {
			online, err := w.Online(l.cfg.App, d.User(), d.ID())
			return err == nil && !online
		}
	default:
		cond = on(answered)
	}
	return w.WaitUntil(w.Now().Add(settleTimeout), cond)
}

// Tick sets or clears the expectation on one observation of a phone: a notification, a live
// message or a synced one.
func (l *Lab) Tick(id string, obs int, on bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.phoneByID(id)
	if p == nil {
		return refuse("no phone %q", clipped(id))
	}
	if obs < 0 || obs >= len(p.obs) || !tickable(p.obs[obs].Kind) {
		return refuse("%s has no notification or message %d", id, obs)
	}
	k := tickKey{Phone: id, Obs: obs}
	if on {
		l.ticks[k] = true
	} else {
		delete(l.ticks, k)
	}
	l.changed()
	return nil
}

// tickable says whether an expectation can be ticked on an observation of that kind.
func tickable(k sim.ObsKind) bool {
	return k == sim.ObsPush || k == sim.ObsMsg || k == sim.ObsSynced
}

// setFlash shows a message at the top of the page until the next action (no-script pages).
func (l *Lab) setFlash(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flash = msg
	l.changed()
}
