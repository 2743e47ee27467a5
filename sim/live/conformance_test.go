package live_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/live"
)

// The twin conformance test plays the same short scripts on the three twins of the world port —
// the virtual world (the cores on the virtual clock), the live world (an embedded stack) and the
// remote world (a stack started elsewhere, reached by its URLs) — and compares what the devices
// observed, the push trace and FCM's fates. The live and remote stacks are served in memory
// inside a testing/synctest bubble, so that the caps' refills and the heartbeat deadlines pass
// in fake time. A script is data: it reaches each twin through sim.World alone.

const (
	confApp     = 1400000001
	confCert    = 6768
	confPackage = "com.example.im"
	confSecret  = "conformance-app-secret-0123456789"
	confSeed    = 7
	// confSettle bounds how long a step may take to land, as the scenario runner's settleTimeout.
	confSettle = 10 * time.Second
	// confGap passes after every step, on every twin: what the step set off lands (the relay's
	// answer to FCM, a frame on its way) before the next step, so that each device sees things
	// in one order whichever twin runs. The live world settles its bubble at the end of it.
	confGap = 200 * time.Millisecond
	// confTail passes after the last step, before what was observed is read.
	confTail = 30 * time.Second
)

// opKind names a script step.
type opKind string

// The script steps: device lifecycle steps as the scenario runner plays them, and the world's.
const (
	opLogin        opKind = "login"
	opKill         opKind = "kill"
	opRelaunch     opKind = "relaunch"
	opLogout       opKind = "logout"
	opBackground   opKind = "background"
	opSend         opKind = "send"
	opKick         opKind = "kick"
	opPushes       opKind = "pushes" // the administrator turns user's pushes text ("on" or "off")
	opTokenRefresh opKind = "tokenRefresh"
	opUninstall    opKind = "uninstall"
	opNetLoss      opKind = "netLoss"
	opNetRestore   opKind = "netRestore"
	opFault        opKind = "fault"
	opPartition    opKind = "partition"
	opHeal         opKind = "heal"
	opWait         opKind = "wait"
	opAwait        opKind = "await"
)

// step is one step of a script.
type step struct {
	op opKind
	// dev is the device acted on: the sender of a send, the observer of an await.
	dev string
	// user is a send's recipient, or the user an admin kicks or sets the pushes of.
	user string
	// text is a send's text, or the text an await waits for.
	text string
	// kind is what an await waits for (one more observation of that kind with that text).
	kind  sim.ObsKind
	fault fakefcm.FaultRule
	d     time.Duration
}

func (s step) String() string {
	parts := []string{string(s.op)}
	for _, p := range []string{s.dev, s.user, string(s.kind), s.text} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if s.d != 0 {
		parts = append(parts, s.d.String())
	}
	return strings.Join(parts, " ")
}

func act(op opKind, dev string) step { return step{op: op, dev: dev} }
func send(from, to, text string) step {
	return step{op: opSend, dev: from, user: to, text: text}
}
func await(dev string, kind sim.ObsKind, text string) step {
	return step{op: opAwait, dev: dev, kind: kind, text: text}
}
func wait(d time.Duration) step { return step{op: opWait, d: d} }

// confDevice is a script's phone.
type confDevice struct {
	id, user, platform string
	// heartbeat is the app's ping interval (30 s when zero).
	heartbeat time.Duration
}

// script is a world (the relay's rules, the app's policy and caps, the phones) and its steps.
type script struct {
	name    string
	relay   relay.Config
	policy  relay.LoginPolicy
	caps    relay.Caps
	devices []confDevice
	steps   []step
}

var (
	alice = confDevice{id: "alice-phone", user: "alice"}
	bob   = confDevice{id: "bob-phone", user: "bob"}
)

// conformanceScripts cover the push rule, kicks, FCM's answers and the network rules.
var conformanceScripts = []script{{
	name:    "killed device gets a push and syncs at relaunch",
	devices: []confDevice{alice, bob},
	steps: []step{
		act(opLogin, "alice-phone"), act(opLogin, "bob-phone"), act(opKill, "alice-phone"),
		send("bob-phone", "alice", "hi"), await("alice-phone", sim.ObsPush, "hi"),
		act(opRelaunch, "alice-phone"), await("alice-phone", sim.ObsSynced, "hi"),
	},
}, {
	name:    "foreground app gets the message live, not pushed",
	devices: []confDevice{alice, bob},
	steps: []step{
		act(opLogin, "alice-phone"), act(opLogin, "bob-phone"),
		send("bob-phone", "alice", "live"), await("alice-phone", sim.ObsMsg, "live"),
		send("alice-phone", "bob", "back"), await("bob-phone", sim.ObsMsg, "back"),
		wait(5 * time.Second),
	},
}, {
	name:    "logout means no push, and the message is synced at the next login",
	devices: []confDevice{alice, bob},
	steps: []step{
		act(opLogin, "alice-phone"), act(opLogin, "bob-phone"), act(opLogout, "alice-phone"), act(opKill, "alice-phone"),
		send("bob-phone", "alice", "while out"), wait(5 * time.Second),
		act(opLogin, "alice-phone"), await("alice-phone", sim.ObsSynced, "while out"),
	},
}, {
	name:   "single-platform login kicks the same platform only",
	policy: relay.PolicySinglePlatform,
	devices: []confDevice{alice, {id: "alice-new-phone", user: "alice"},
		{id: "alice-ipad", user: "alice", platform: "ipad"}, bob},
	steps: []step{
		act(opLogin, "alice-phone"), act(opLogin, "alice-ipad"), act(opLogin, "bob-phone"),
		act(opLogin, "alice-new-phone"), await("alice-phone", sim.ObsKicked, ""),
		send("bob-phone", "alice", "still there"),
		await("alice-ipad", sim.ObsMsg, "still there"), await("alice-new-phone", sim.ObsMsg, "still there"),
		act(opKill, "alice-ipad"), act(opKill, "alice-new-phone"),
		send("bob-phone", "alice", "which phone"),
		await("alice-ipad", sim.ObsPush, "which phone"), await("alice-new-phone", sim.ObsPush, "which phone"),
	},
}, {
	name:    "admin kick ends every login, online or killed",
	policy:  relay.PolicyMulti,
	devices: []confDevice{alice, {id: "alice-tablet", user: "alice"}, bob},
	steps: []step{
		act(opLogin, "alice-phone"), act(opLogin, "alice-tablet"), act(opLogin, "bob-phone"),
		act(opKill, "alice-tablet"), {op: opKick, user: "alice"}, await("alice-phone", sim.ObsKicked, ""),
		send("bob-phone", "alice", "after the kick"), wait(5 * time.Second),
		act(opLogin, "alice-phone"), await("alice-phone", sim.ObsSynced, "after the kick"),
	},
}, {
	name:    "pushes off: nothing pushed, all synced; back on, the next message is pushed",
	devices: []confDevice{alice, bob},
	steps: []step{
		act(opLogin, "alice-phone"), act(opLogin, "bob-phone"), {op: opPushes, user: "alice", text: "off"},
		act(opKill, "alice-phone"), send("bob-phone", "alice", "while off"), wait(5 * time.Second),
		{op: opPushes, user: "alice", text: "on"}, send("bob-phone", "alice", "back on"),
		await("alice-phone", sim.ObsPush, "back on"),
		act(opRelaunch, "alice-phone"), await("alice-phone", sim.ObsSynced, "while off"),
	},
}, {
	name:    "uninstall: FCM answers UNREGISTERED and the binding goes",
	devices: []confDevice{alice, bob},
	steps: []step{
		act(opLogin, "alice-phone"), act(opLogin, "bob-phone"), act(opKill, "alice-phone"),
		send("bob-phone", "alice", "before uninstall"), await("alice-phone", sim.ObsPush, "before uninstall"),
		act(opUninstall, "alice-phone"),
		send("bob-phone", "alice", "to a dead token"), wait(2 * time.Second),
		send("bob-phone", "alice", "not sent at all"), wait(2 * time.Second),
	},
}, {
	name:    "caps coalesce held pushes into one summary",
	caps:    relay.Caps{Burst: 2, Refill: duration.Duration(20 * time.Second)},
	devices: []confDevice{alice, bob},
	steps: []step{
		act(opLogin, "alice-phone"), act(opLogin, "bob-phone"), act(opKill, "alice-phone"),
		send("bob-phone", "alice", "m1"), send("bob-phone", "alice", "m2"), send("bob-phone", "alice", "m3"),
		send("bob-phone", "alice", "m4"), send("bob-phone", "alice", "m5"),
		wait(30 * time.Second), await("alice-phone", sim.ObsPush, "3 new messages"),
	},
}, {
	name:    "FCM 503 is retried until the push is accepted",
	devices: []confDevice{alice, bob},
	steps: []step{
		act(opLogin, "alice-phone"), act(opLogin, "bob-phone"), act(opKill, "alice-phone"),
		{op: opFault, fault: fakefcm.FaultRule{Status: 503, Count: 2}},
		send("bob-phone", "alice", "retry me"), await("alice-phone", sim.ObsPush, "retry me"),
	},
}, {
	// alice pings every 5 s and the relay gives a connection 6 s: cut, her connection is declared
	// dead after 6 s and the message written to it is pushed; the relay's close is lost on the
	// cut link, and her first send once healed gets a reset, before her own heartbeat (10 s of
	// silence) would have given up.
	name: "partitioned link: pushed at the heartbeat deadline, reset at the next send",
	relay: relay.Config{HeartbeatDeadline: duration.Duration(6 * time.Second),
		HeartbeatInterval: duration.Duration(2 * time.Second)},
	devices: []confDevice{{id: "alice-phone", user: "alice", heartbeat: 5 * time.Second},
		{id: "bob-phone", user: "bob", heartbeat: 2 * time.Second}},
	steps: []step{
		act(opLogin, "alice-phone"), act(opLogin, "bob-phone"), act(opBackground, "alice-phone"),
		act(opPartition, "alice-phone"), send("bob-phone", "alice", "into the void"),
		await("alice-phone", sim.ObsPush, "into the void"),
		act(opHeal, "alice-phone"), send("alice-phone", "bob", "lost in the reset"),
		await("alice-phone", sim.ObsSynced, "into the void"),
	},
}, {
	name:    "token refresh, then a lost network holds the push until it returns",
	devices: []confDevice{alice, bob},
	steps: []step{
		act(opLogin, "alice-phone"), act(opLogin, "bob-phone"), act(opTokenRefresh, "alice-phone"),
		act(opKill, "alice-phone"), send("bob-phone", "alice", "to the new token"),
		await("alice-phone", sim.ObsPush, "to the new token"),
		act(opNetLoss, "alice-phone"), send("bob-phone", "alice", "while offline"), wait(5 * time.Second),
		act(opNetRestore, "alice-phone"), await("alice-phone", sim.ObsPush, "while offline"),
		act(opRelaunch, "alice-phone"), await("alice-phone", sim.ObsSynced, "while offline"),
	},
}}

// seen is one observation made twin-neutral. Times are left out (the virtual network has a
// latency, the in-memory one none), and so are a token observation's detail (the token: each
// FCM draws its own) and a push's (FCM's message ID, drawn likewise). Everything else must be
// the same on every twin: the kind, the message (seq, sender or title, text, conversation, badge),
// the device's state after it, and the detail of lifecycle steps, kicks, refusals and closes.
// Their wording comes from the relay core and the device model, which every twin shares: the
// relay shell closes a WebSocket with the core's reason as its text, and the live phone reports
// that text as the virtual phone reports the core's reason, so close reasons are compared too.
// (A connection attempt over a cut link is the exception — the virtual phone fails it at once,
// "no network", the live one after its connect timeout, "no answer" — and no script makes one.)
type seen struct {
	Kind  sim.ObsKind
	Seq   uint64
	Title string
	Text  string
	Conv  string
	Badge int
	// CollapseKey and Data are a push's payload beyond its notification (msgId left out).
	CollapseKey string
	Data        map[string]string
	Detail      string
	State       sim.DeviceState
}

// tokenAfterStep puts every token observation after the install or token refresh that asked
// for it. The live and remote twins' phones ask fakefcm within the step (so that the step's
// effect is there for the next one) and see the token before the step's own observation, made
// when it ends; the virtual phone's request crosses its network and is answered after. Which of
// the two a device observes first is plumbing, not behaviour.
func tokenAfterStep(obs []seen) {
	for i := 1; i < len(obs); i++ {
		prev, cur := obs[i-1], obs[i]
		if prev.Kind == sim.ObsToken && cur.Kind == sim.ObsLifecycle && (cur.Detail == "install" || cur.Detail == "tokenRefresh") {
			obs[i-1], obs[i] = cur, prev
		}
	}
}

// traced is one push-trace entry without its time, IDs (a remote world shifts the app's and the
// certificate's) and FCM's message name.
type traced struct {
	Reason string
	Seq    uint64
	Seqs   []uint64
}

// fate is what became of one message FCM took.
type fate struct {
	Body  string
	Fate  fakefcm.Fate
	Error fakefcm.ErrorCode
}

// outcome is what a script left on a twin, per device.
type outcome struct {
	// Failed lists the steps that did not land, with why.
	Failed   []string
	Observed map[string][]seen
	Trace    map[string][]traced
	FCM      map[string][]fate
}

// player plays a script on a world through the port.
type player struct {
	w       sim.World
	sc      script
	devs    map[string]*sim.Device
	users   map[string]string // device → user
	awaited map[string]int    // device, kind and text → awaits so far
	failed  []string
}

// play plays a script on w and reads back what it left.
func play(t require.TestingT, w sim.World, sc script) outcome {
	p := &player{w: w, sc: sc, devs: map[string]*sim.Device{}, users: map[string]string{}, awaited: map[string]int{}}
	p.setup(t)
	for i, st := range sc.steps {
		if err := p.step(st); err != nil {
			p.failed = append(p.failed, fmt.Sprintf("step %d (%s): %v", i+1, st, err))
		}
		w.Advance(confGap)
	}
	w.Advance(confTail)
	return p.outcome(t)
}

func (p *player) setup(t require.TestingT) {
	require.NoError(t, p.w.AddApp(relay.AppConfig{SDKAppID: confApp, SecretKey: secret.New(confSecret),
		LoginPolicy: p.sc.policy, Caps: p.sc.caps}))
	sender, err := p.w.AddCertificate(sim.CertificateSpec{ID: confCert, SDKAppID: confApp, PackageName: confPackage, API: "v1"})
	require.NoError(t, err)
	p.w.Do(func() {
		for _, d := range p.sc.devices {
			p.devs[d.id] = p.w.AddDevice(sim.DeviceConfig{ID: d.id, User: d.user, Platform: d.platform, SDKAppID: confApp,
				AppSecret: confSecret, CertificateID: confCert, SenderID: sender, Package: confPackage,
				Heartbeat: d.heartbeat, Installed: true})
			p.users[d.id] = d.user
		}
	})
	require.True(t, p.waitFor(func() bool {
		for _, d := range p.devs {
			if d.Token() == "" {
				return false
			}
		}
		return true
	}), "the installs got no FCM tokens")
}

// waitFor waits up to confSettle for cond, a condition on the phones (checked inside Do).
func (p *player) waitFor(cond func() bool) bool {
	return p.w.WaitUntil(p.w.Now().Add(confSettle), func() bool {
		var ok bool
		p.w.Do(func() { ok = cond() })
		return ok
	})
}

// settle waits for cond, naming what did not happen.
func (p *player) settle(what string, cond func() bool) error {
	if p.waitFor(cond) {
		return nil
	}
	return fmt.Errorf("did not %s within %v", what, confSettle)
}

// settleLogin, settleIdle and settleOffline wait as the scenario runner's helpers of the same
// names do.
func (p *player) settleLogin(d *sim.Device, must bool) error {
	var wants bool
	p.w.Do(func() { wants = must || (d.App() != sim.AppNotRunning && d.Credentials() && d.NetUp()) })
	if !wants {
		return nil
	}
	return p.settle("log in", func() bool { return d.LoggedIn() && d.PendingRequests() == 0 })
}

func (p *player) settleIdle(d *sim.Device) error {
	return p.settle("get its answers", func() bool { return d.PendingRequests() == 0 })
}

// settleServer waits for cond, a question to the servers (asked outside Do), naming what did
// not happen.
func (p *player) settleServer(what string, cond func() bool) error {
	if p.w.WaitUntil(p.w.Now().Add(confSettle), cond) {
		return nil
	}
	return fmt.Errorf("did not %s within %v", what, confSettle)
}

func (p *player) settleOffline(id string) error {
	return p.settleServer("be seen offline by the relay", func() bool {
		on, err := p.w.Online(confApp, p.users[id], id)
		return err == nil && !on
	})
}

// step carries out one step and waits for it to land.
func (p *player) step(st step) error {
	d := p.devs[st.dev]
	switch st.op {
	case opLogin:
		p.w.Do(func() { d.Login(true) })
		return p.settleLogin(d, true)
	case opRelaunch:
		p.w.Do(d.Relaunch)
		return p.settleLogin(d, false)
	case opNetRestore:
		p.w.Do(d.NetRestore)
		return p.settleLogin(d, false)
	case opLogout:
		p.w.Do(d.Logout)
		return p.settleIdle(d)
	case opBackground:
		p.w.Do(func() { d.Background(0) })
		return p.settleIdle(d)
	case opKill:
		p.w.Do(d.Kill)
		return p.settleOffline(st.dev)
	case opUninstall:
		var token string
		p.w.Do(func() { token = d.Token(); d.Uninstall() })
		if err := p.settleOffline(st.dev); err != nil {
			return err
		}
		return p.settleServer("be unregistered at FCM", func() bool {
			on, err := p.w.FCMRegistered(token)
			return err == nil && !on
		})
	case opNetLoss:
		p.w.Do(d.NetLoss)
		return nil
	case opTokenRefresh:
		var old string
		p.w.Do(func() { old = d.Token(); d.TokenRefresh() })
		return p.settle("get a new token", func() bool {
			return d.Token() != "" && d.Token() != old && d.PendingRequests() == 0
		})
	case opSend:
		ok := true
		p.w.Do(func() { ok = d.Send(relay.ClientFrame{To: st.user, Text: st.text}) })
		if !ok {
			return fmt.Errorf("%s is not logged in", st.dev)
		}
		return p.settleIdle(d)
	case opPushes:
		return p.w.SetPushSettings(confApp, st.user, relay.PushSettings{Enabled: st.text == "on"})
	case opKick:
		if err := p.w.Kick(confApp, st.user); err != nil {
			return err
		}
		return p.settle("log "+st.user+" out everywhere", func() bool {
			for id, dev := range p.devs {
				if p.users[id] == st.user && dev.LoggedIn() {
					return false
				}
			}
			return true
		})
	case opFault:
		return p.w.AddFaults([]fakefcm.FaultRule{st.fault})
	case opPartition, opHeal:
		var err error
		p.w.Do(func() {
			l := p.w.LinkOf(d)
			l.Partitioned = st.op == opPartition
			err = p.w.SetLink(d, l)
		})
		return err
	case opWait:
		p.w.Advance(st.d)
		return nil
	case opAwait:
		key := fmt.Sprintf("%s/%s/%s", st.dev, st.kind, st.text)
		p.awaited[key]++
		n := p.awaited[key]
		return p.settle(fmt.Sprintf("observe %s %q", st.kind, st.text), func() bool {
			count := 0
			for _, o := range d.Observations() {
				if o.Kind == st.kind && o.Text == st.text {
					count++
				}
			}
			return count >= n
		})
	}
	return fmt.Errorf("unknown step %q", st.op)
}

// outcome reads what the devices observed, the push trace and FCM's records, per device.
func (p *player) outcome(t require.TestingT) outcome {
	out := outcome{Failed: p.failed, Observed: map[string][]seen{}, Trace: map[string][]traced{}, FCM: map[string][]fate{}}
	byToken := map[string]string{}
	p.w.Do(func() {
		for id, d := range p.devs {
			for _, o := range d.Observations() {
				s := seen{Kind: o.Kind, Seq: o.Seq, Title: o.Title, Text: o.Text, Conv: o.Conv, Badge: o.Badge,
					CollapseKey: o.CollapseKey, Data: o.Data, Detail: o.Detail, State: o.State}
				if o.Kind == sim.ObsToken || o.Kind == sim.ObsPush {
					s.Detail = ""
				}
				if s.Data != nil {
					s.Data = maps.Clone(s.Data)
					delete(s.Data, "msgId") // names the app, whose ID the remote stack chooses
				}
				out.Observed[id] = append(out.Observed[id], s)
			}
			tokenAfterStep(out.Observed[id])
			for _, tok := range d.Tokens() {
				byToken[tok] = id
			}
		}
	})
	trace, err := p.w.Trace()
	require.NoError(t, err)
	for _, e := range trace {
		out.Trace[e.DeviceID] = append(out.Trace[e.DeviceID], traced{Reason: e.Reason, Seq: e.Seq, Seqs: e.Seqs})
	}
	records, err := p.w.FCMRecords()
	require.NoError(t, err)
	for _, r := range records {
		f := fate{Fate: r.Fate, Error: r.Error}
		if r.Payload != nil && r.Payload.Notification != nil {
			f.Body = r.Payload.Notification.Body
		}
		dev, ok := byToken[r.Token]
		if !ok {
			dev = "unknown token"
		}
		out.FCM[dev] = append(out.FCM[dev], f)
	}
	return out
}

// playVirtual plays a script on the virtual twin.
func playVirtual(t *testing.T, sc script) outcome {
	w, err := sim.NewVirtual(sim.VirtualConfig{Seed: confSeed, Relay: sc.relay})
	require.NoError(t, err)
	defer func() { require.NoError(t, w.Close()) }()
	return play(t, w, sc)
}

// playLive plays a script on the live twin: an embedded stack served in memory, in a bubble.
func playLive(t *testing.T, sc script) (out outcome) {
	synctest.Test(t, func(t *testing.T) {
		w, err := live.Open(context.Background(), live.Config{Seed: confSeed, Relay: sc.relay, DB: live.MemoryDB,
			InMemory: true, Settle: synctest.Wait})
		require.NoError(t, err)
		defer closeWorld(t, w)
		out = play(t, w, sc)
	})
	return out
}

// closeWorld closes a world at the end of its bubble, failed or not, so that the bubble ends.
func closeWorld(t *testing.T, w sim.World) {
	if err := w.Close(); err != nil {
		t.Errorf("close the world: %v", err)
	}
	synctest.Wait()
}

// playRemote plays a script on the remote twin: a stack started apart (in memory, in a bubble),
// which the world reaches only by its URLs, admin key and clients.
func playRemote(t *testing.T, sc script) (out outcome) {
	synctest.Test(t, func(t *testing.T) {
		st, err := live.StartStack(context.Background(), live.StackConfig{Seed: confSeed, Relay: sc.relay, DB: live.MemoryDB, InMemory: true})
		require.NoError(t, err)
		defer func() {
			if err := st.Close(); err != nil {
				t.Errorf("stop the stack: %v", err)
			}
		}()
		w, err := live.Open(context.Background(), live.Config{Seed: confSeed, Settle: synctest.Wait,
			Remote: &live.Remote{RelayURL: st.RelayURL, AdminKey: st.AdminKey, FCMURL: st.FCMURL, HTTP: st.HTTP, Dialer: st.Dialer}})
		require.NoError(t, err)
		defer closeWorld(t, w)
		require.Equal(t, "remote", w.Features().Twin)
		out = play(t, w, sc)
	})
	return out
}

// TestConformanceTwins plays each script on the virtual, the live and the remote twin and holds
// the live and the remote to what the virtual one's devices observed.
func TestConformanceTwins(t *testing.T) {
	for _, sc := range conformanceScripts {
		t.Run(sc.name, func(t *testing.T) {
			want := playVirtual(t, sc)
			require.Empty(t, want.Failed, "the script does not land on the virtual twin")
			var diffs []string
			for _, tw := range []struct {
				name string
				play func(*testing.T, script) outcome
			}{{"live", playLive}, {"remote", playRemote}} {
				if diff := cmp.Diff(want, tw.play(t, sc)); diff != "" {
					diffs = append(diffs, fmt.Sprintf("the %s twin differs from the virtual one (-virtual +%s):\n%s", tw.name, tw.name, diff))
				}
			}
			if len(diffs) > 0 {
				require.Fail(t, strings.Join(diffs, "\n"))
			}
		})
	}
}
