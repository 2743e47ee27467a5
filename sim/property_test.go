package sim_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/scenarios"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/oracle"
)

const (
	propApp   = scenarios.DefaultSDKAppID
	propGroup = "g"
)

// worldSpec is the small world a property draws before its actions.
type worldSpec struct {
	Seed    uint64
	Users   []string
	Devices []devSpec
	Policy  relay.LoginPolicy
	Caps    relay.Caps
	FCM     fakefcm.Behaviour
	Jitter  time.Duration
	Group   []string
	// GroupName is the group's display name ("" for none), and Templates the app's
	// pushTemplates (nil for none).
	GroupName string
	Templates map[string]relay.PushTemplate
	// DefaultLocale is the app's defaultLocale ("" for none): the fallback before English;
	// AppName its name, the title of its summaries unless a template of it gives one.
	DefaultLocale, AppName string
	// LoggedIn says which devices log in before the actions start.
	LoggedIn []bool
	// Cluster, if set, runs the world on the cluster twin.
	Cluster *scenarios.Cluster
	// ChannelID is the certificate's default Android notification channel ("" for none).
	ChannelID string
}

// devSpec is a phone of the world: Locale is the language its logins send ("" for none).
type devSpec struct{ ID, User, Platform, Locale string }

// The property vocabulary of the texts the relay writes: the locales phones log in with (none,
// English, Simplified Chinese, two that fall back to zh by dropping subtags, and one with no
// texts at all), the nicknames a profile step sets ("" removes the profile), the group names,
// and the app templates that put an app's own text ahead of the built-in ones for some locales.
var (
	propLocales    = []string{"", "en", "zh-CN", "zh-HK", "zh-Hant-TW", "fr", "en-GB"}
	propNicknames  = []string{"", "Ann", "小明", "Bob (work)", "{group} {count}"}
	propGroupNames = []string{"", "Team", "周末 hike"}
)

// propTemplates are the app templates a world may draw.
func propTemplates() map[string]relay.PushTemplate {
	return map[string]relay.PushTemplate{
		"zh-HK": {SummaryBody: "{count} 則新訊息"},
		"fr":    {SummaryTitle: "Nouveaux messages ({count})", GroupTitle: "{nickname} — {group}"},
	}
}

func drawSpec(t *rapid.T) worldSpec {
	s := worldSpec{Seed: rapid.Uint64().Draw(t, "seed")}
	nUsers := rapid.IntRange(2, 5).Draw(t, "users")
	for u := range nUsers {
		user := fmt.Sprintf("u%d", u+1)
		s.Users = append(s.Users, user)
		for k := range rapid.IntRange(1, 3).Draw(t, "devices of "+user) {
			platform := rapid.SampledFrom([]string{"android", "tablet"}).Draw(t, "platform")
			locale := rapid.SampledFrom(propLocales).Draw(t, "locale")
			s.Devices = append(s.Devices, devSpec{ID: fmt.Sprintf("%s-%c", user, 'a'+k), User: user, Platform: platform, Locale: locale})
			s.LoggedIn = append(s.LoggedIn, rapid.Float64Range(0, 1).Draw(t, "logged in at start") < 0.8)
		}
	}
	s.Policy = rapid.SampledFrom([]relay.LoginPolicy{relay.PolicyMulti, relay.PolicySinglePlatform, relay.PolicySingle}).Draw(t, "policy")
	if rapid.Float64Range(0, 1).Draw(t, "tight caps") < 0.7 {
		s.Caps = relay.Caps{
			PerMinute: rapid.IntRange(1, 4).Draw(t, "perMinute"),
			PerHour:   rapid.IntRange(4, 40).Draw(t, "perHour"),
			Burst:     rapid.IntRange(1, 3).Draw(t, "burst"),
			Refill:    duration.Of(rapid.SampledFrom([]time.Duration{10 * time.Second, time.Minute, 3 * time.Minute}).Draw(t, "refill")),
		}
	}
	s.FCM.Latency = duration.Of(rapid.SampledFrom([]time.Duration{0, 100 * time.Millisecond, 2 * time.Second}).Draw(t, "fcm latency"))
	s.FCM.Loss = rapid.SampledFrom([]float64{0, 0, 0.1}).Draw(t, "fcm loss")
	s.Jitter = rapid.SampledFrom([]time.Duration{0, 50 * time.Millisecond}).Draw(t, "jitter")
	for _, u := range s.Users {
		if rapid.Bool().Draw(t, "in group") {
			s.Group = append(s.Group, u)
		}
	}
	s.GroupName = rapid.SampledFrom(propGroupNames).Draw(t, "group name")
	if rapid.Bool().Draw(t, "app templates") {
		s.Templates = propTemplates()
	}
	s.DefaultLocale = rapid.SampledFrom([]string{"", "", "zh", "fr"}).Draw(t, "default locale")
	s.AppName = rapid.SampledFrom([]string{"", "Chat", "{count} Chat"}).Draw(t, "app name")
	s.ChannelID = rapid.SampledFrom([]string{"", "messages"}).Draw(t, "certificate channel")
	return s
}

// drawPush draws a send's offlinePush options: its own title, Android options and whether it
// is silent; mostly none, so that the rest of the vocabulary keeps its weight.
func drawPush(t *rapid.T) relay.OfflinePush {
	if rapid.Float64Range(0, 1).Draw(t, "push options") < 0.7 {
		return relay.OfflinePush{}
	}
	return relay.OfflinePush{
		Title: rapid.SampledFrom([]string{"", "", "Boss"}).Draw(t, "title"),
		Android: relay.AndroidPush{
			ChannelID:   rapid.SampledFrom([]string{"", "calls", "mentions"}).Draw(t, "channel"),
			Sound:       rapid.SampledFrom([]string{"", "default", "ring"}).Draw(t, "sound"),
			ClickAction: rapid.SampledFrom([]string{"", "com.example.im.OPEN_CHAT", "https://example.com/chat"}).Draw(t, "click action"),
		},
		Silent: rapid.Bool().Draw(t, "silent"),
	}
}

// act is one action, as data: it is applied, replayed for the determinism invariant, and
// written out as a scenario step.
type act struct {
	Kind string
	Dev  int // device index
	To   int // user index (send, kick)
	N    int // unread, fault count, status, acks released
	D    time.Duration
	Text string
	Rev  bool // releaseAcks: the newest first
	// Push is a send's offlinePush options: title, Android options, silent.
	Push relay.OfflinePush
}

// propRun is one world under test with its invariant oracle: the virtual twin (vw set) or the
// live one, both through the world port.
type propRun struct {
	spec worldSpec
	// sc is the spec's world as a replay scenario, and rp drives the world through the
	// scenario runner's own steps: the counterexample written from a run plays the same code.
	sc *scenarios.Scenario
	rp *scenarios.Replayer
	w  sim.World
	vw *sim.VirtualWorld // the virtual world; nil in the live property
	// o rebuilds what the relay should have done from the world's tap and the phones'
	// observations, and names every broken invariant.
	o *oracle.Oracle
	// broken lists what failed outside the oracle's invariants (a restart that did not come back).
	broken []string
	// reach, if set, adds up the states this run reached, across the property's checks.
	reach *oracle.Reach
	devs  []*sim.Device
	acts  []act
	texts int
	// settled says the run got to its settled end (settle), where the final checks ran.
	settled bool
	// t0 is when the world started, before provisioning.
	t0 time.Time
	// crossKicks counts the cross-node kicks the cluster property checked.
	crossKicks int
}

// specScenario is a spec's world as a scenario that replays a property run: its seed, steps
// back to back. Its steps are given to the Replayer one at a time.
func specScenario(spec worldSpec) *scenarios.Scenario {
	settle := false
	seed := spec.Seed
	sc := &scenarios.Scenario{Name: "property world",
		Apps: []scenarios.App{{SDKAppID: propApp, Name: spec.AppName, LoginPolicy: spec.Policy, Caps: spec.Caps, PushTemplates: spec.Templates, DefaultLocale: spec.DefaultLocale}},
		FCM:  spec.FCM, Network: scenarios.Network{Jitter: duration.Of(spec.Jitter)},
		Replay: &scenarios.Replay{Seed: &seed, Settle: &settle}, Cluster: spec.Cluster,
		Certificates: []scenarios.Certificate{{ID: scenarios.DefaultCertificate, ChannelID: spec.ChannelID}}}
	for _, d := range spec.Devices {
		sc.Devices = append(sc.Devices, scenarios.Device{ID: d.ID, User: d.User, Platform: d.Platform, Locale: d.Locale})
	}
	if err := sc.Prepare(); err != nil {
		panic(fmt.Sprintf("the property's world is not a valid scenario: %v", err))
	}
	return sc
}

// newPropRun builds a spec's virtual world as the scenario runner builds a replay scenario's.
func newPropRun(t require.TestingT, spec worldSpec, r *oracle.Reach, log bool) *propRun {
	sc := specScenario(spec)
	p := &propRun{spec: spec, sc: sc, o: scenarios.NewOracle(sc), reach: r}
	cfg := scenarios.VirtualConfig(sc, spec.Seed)
	cfg.Log, cfg.KeepLog = log, os.Getenv("PUSHLAB_PROPERTY_LOG") != ""
	var w *sim.VirtualWorld
	var err error
	if c := spec.Cluster; c != nil {
		w, err = sim.NewCluster(cfg, sim.ClusterConfig{Nodes: c.Nodes, Partitions: c.Partitions, LeaseTTL: c.LeaseTTL.D(), RenewEvery: c.RenewEvery.D()})
	} else {
		w, err = sim.NewVirtual(cfg)
	}
	require.NoError(t, err)
	w.SetTap(p.o.Tap)
	p.w, p.vw, p.t0 = w, w, w.Now()
	p.provision(t)
	return p
}

// addReach adds the states this run reached to the property's counts.
func (p *propRun) addReach() {
	if p.reach != nil {
		p.reach.Add(p.o.Reach())
	}
}

// firstBroken is the first broken invariant (or other failure), "" if none.
func (p *propRun) firstBroken() string {
	if v := p.o.Violations(); len(v) > 0 {
		return v[0].String()
	}
	if len(p.broken) > 0 {
		return p.broken[0]
	}
	return ""
}

// loggedInDevices are the phones whose app is logged in (call inside Do).
func (p *propRun) loggedInDevices() []*sim.Device {
	var out []*sim.Device
	for _, d := range p.devs {
		if d.LoggedIn() {
			out = append(out, d)
		}
	}
	return out
}

// provision creates the spec's app, certificate and phones through the port as the scenario
// runner does, lets a second pass, and creates the group (the counterexample's first step).
func (p *propRun) provision(t require.TestingT) {
	rp, err := scenarios.NewReplayer(p.sc, p.w, p.o)
	require.NoError(t, err)
	p.rp = rp
	for _, d := range p.spec.Devices {
		p.devs = append(p.devs, rp.Device(d.ID))
	}
	if len(p.spec.Group) > 0 {
		require.NoError(t, rp.Apply(p.groupStep()))
	}
}

// groupStep creates the spec's group.
func (p *propRun) groupStep() scenarios.Step {
	return scenarios.Step{Kind: scenarios.StepCreateGroup, CreateGroup: &scenarios.CreateGroupStep{ID: propGroup, Members: p.spec.Group, Name: p.spec.GroupName}}
}

// start logs in the devices the spec says start logged in.
func (p *propRun) start() {
	for i, in := range p.spec.LoggedIn {
		if in {
			p.apply(act{Kind: "login", Dev: i})
		}
	}
	p.apply(act{Kind: "wait", D: time.Second})
}

// apply carries out one action as a scenario step, back to back: only waits let time pass,
// so that the shrinker can drop any other action without moving the rest in time, and actions
// can race.
func (p *propRun) apply(a act) {
	p.acts = append(p.acts, a)
	if err := p.rp.Apply(p.stepOf(a)); err != nil {
		if p.spec.Cluster != nil && errors.Is(err, cluster.ErrNotOwner) {
			return // no node serves the partition (its nodes are down or cut off): the call says so
		}
		if a.Kind == "restart" {
			p.broken = append(p.broken, fmt.Sprintf("the relay restarts from its store: %v", err))
			return
		}
		p.broken = append(p.broken, fmt.Sprintf("action %s: %v", a.Kind, err))
	}
}

// stepOf is an action as the scenario step that carries it out (and that the counterexample
// scenario writes).
func (p *propRun) stepOf(a act) scenarios.Step {
	st := scenarios.Step{Kind: scenarios.StepKind(a.Kind), Device: p.spec.Devices[a.Dev].ID}
	dev := st.Device
	fault := func(f scenarios.FaultStep) scenarios.Step {
		return scenarios.Step{Kind: scenarios.StepFault, Fault: &f}
	}
	switch a.Kind {
	case "loginNoToken":
		no := false
		st.Kind, st.ReportToken = scenarios.StepLogin, &no
	case "background":
		st.Unread = a.N
	case "releaseAcks":
		st.Count, st.Reverse = a.N, a.Rev
	case "send", "sendOnlineOnly", "sendNoPush":
		st = scenarios.Step{Kind: scenarios.StepSend, Send: &scenarios.SendStep{From: dev, To: p.spec.Users[a.To], Text: a.Text,
			OnlineOnly: a.Kind == "sendOnlineOnly"}}
		if a.Kind == "sendNoPush" {
			st.Send.OfflinePush = &relay.OfflinePush{Disable: true}
		} else if a.Push != (relay.OfflinePush{}) {
			push := a.Push
			st.Send.OfflinePush = &push
		}
	case "sendGroup":
		st = scenarios.Step{Kind: scenarios.StepSendGroup, Send: &scenarios.SendStep{From: dev, Group: propGroup, Text: a.Text}}
	case "mute", "unmute":
		opt := relay.ReceiveNotNotify
		if a.Kind == "unmute" {
			opt = relay.ReceiveAll
		}
		st = scenarios.Step{Kind: scenarios.StepSetReceiveOpt, ReceiveOpt: &scenarios.ReceiveOptStep{Device: dev, Conv: p.conv(a.To), Opt: opt}}
	case "kick":
		st = scenarios.Step{Kind: scenarios.StepKick, User: p.spec.Users[a.To]}
	case "pushesOff", "pushesOn", "pushesOffApp", "pushesOnApp":
		on := strings.HasPrefix(a.Kind, "pushesOn")
		ps := &scenarios.PushSettingsStep{Enabled: &on}
		if strings.HasSuffix(a.Kind, "App") {
			ps.Device = dev // the app on the device, for its user
		} else {
			ps.User = p.spec.Users[a.To] // the administrator
		}
		st = scenarios.Step{Kind: scenarios.StepPushSettings, PushSettings: ps}
	case "profile":
		st = scenarios.Step{Kind: scenarios.StepProfile, Profile: &scenarios.ProfileStep{User: p.spec.Users[a.To], Nickname: a.Text}}
	case "switchUser":
		st.Kind, st.User = scenarios.StepSwitchUser, p.spec.Users[a.To]
	case "fault503":
		st = fault(scenarios.FaultStep{Status: 503, Count: a.N})
	case "fault429":
		st = fault(scenarios.FaultStep{Status: 429, Count: 1, RetryAfter: duration.Of(a.D)})
	case "fault503Dev", "fault429Dev":
		status := 503
		if a.Kind == "fault429Dev" {
			status = 429
		}
		st = fault(scenarios.FaultStep{Device: dev, Status: status, Count: a.N, RetryAfter: duration.Of(a.D)})
	case "faultLoss":
		st = fault(scenarios.FaultStep{Loss: true, Count: a.N})
	case "faultLatency":
		st = fault(scenarios.FaultStep{Latency: duration.Of(a.D), Count: a.N})
	case "faultClear":
		st = fault(scenarios.FaultStep{Clear: true})
	case "restart":
		st = scenarios.Step{Kind: scenarios.StepRestartRelay}
	case "killNode", "restartNode":
		st = scenarios.Step{Kind: scenarios.StepKind(a.Kind), Node: &scenarios.NodeStep{Node: a.Text}}
	case "pauseNode":
		st = scenarios.Step{Kind: scenarios.StepPauseNode, Node: &scenarios.NodeStep{Node: a.Text, For: duration.Of(a.D)}}
	case "cutBus", "healBus", "cutDB", "healDB":
		from := "bus"
		if strings.HasSuffix(a.Kind, "DB") {
			from = "db"
		}
		st = scenarios.Step{Kind: scenarios.StepPartitionNode, Node: &scenarios.NodeStep{Node: a.Text, From: from, Heal: strings.HasPrefix(a.Kind, "heal")}}
	case "wait":
		st = scenarios.Step{Kind: scenarios.StepWait, Wait: duration.Of(a.D)}
	default:
		if !slices.Contains(scenarios.DeviceSteps, st.Kind) {
			panic("unknown action " + a.Kind)
		}
	}
	return st
}

// conv is the conversation a receive option names: a user's one-to-one chat, or the group.
func (p *propRun) conv(to int) string {
	if to == len(p.spec.Users) {
		return "group_" + propGroup
	}
	return "c2c_" + p.spec.Users[to]
}

// settle ends a run: faults cleared, networks back, hours of quiet for retries and summaries,
// then every app with credentials launched so that it syncs.
func (p *propRun) settle() { p.settleFor(3 * time.Hour) }

// settleFor is settle with a given quiet time.
func (p *propRun) settleFor(quiet time.Duration) {
	p.apply(act{Kind: "faultClear"})
	for i, d := range p.devs {
		var up bool
		p.w.Do(func() { up = d.NetUp() })
		if !up {
			p.apply(act{Kind: "netRestore", Dev: i})
		}
	}
	p.apply(act{Kind: "wait", D: quiet})
	for i, d := range p.devs {
		var relaunch bool
		p.w.Do(func() { relaunch = d.Credentials() && d.App() == sim.AppNotRunning })
		if relaunch {
			p.apply(act{Kind: "relaunch", Dev: i})
		}
	}
	p.apply(act{Kind: "wait", D: 5 * time.Minute})
}

// check fails the test on the first broken invariant.
func (p *propRun) check(t *rapid.T) {
	if first := p.firstBroken(); first != "" {
		t.Fatalf("invariant broken: %s\n(after %d actions; a replayable scenario is written on failure)", first, len(p.acts))
	}
}

// actions is the action vocabulary rapid draws from.
func (p *propRun) actions() map[string]func(*rapid.T) {
	dev := func(t *rapid.T) int { return rapid.IntRange(0, len(p.devs)-1).Draw(t, "device") }
	user := func(t *rapid.T) int { return rapid.IntRange(0, len(p.spec.Users)-1).Draw(t, "user") }
	text := func() string {
		p.texts++
		return fmt.Sprintf("m%d", p.texts)
	}
	out := map[string]func(*rapid.T){"": p.check}
	for _, k := range []string{"install", "launch", "login", "loginNoToken", "reportToken", "foreground", "kill",
		"forceStop", "netLoss", "netRestore", "relaunch", "logout", "uninstall", "tokenRefresh", "tap"} {
		out[k] = func(t *rapid.T) { p.apply(act{Kind: k, Dev: dev(t)}) }
	}
	out["background"] = func(t *rapid.T) {
		p.apply(act{Kind: "background", Dev: dev(t), N: rapid.IntRange(0, 3).Draw(t, "unread")})
	}
	for _, k := range []string{"sendOnlineOnly", "sendNoPush"} {
		out[k] = func(t *rapid.T) { p.apply(act{Kind: k, Dev: dev(t), To: user(t), Text: text()}) }
	}
	out["send"] = func(t *rapid.T) {
		a := act{Kind: "send", Dev: dev(t), To: user(t), Text: text()}
		a.Push = drawPush(t)
		p.apply(a)
	}
	// A burst of messages from one device to one user: what caps and coalescing are about; some
	// silent, some with their own Android options, so that summaries cover a mix.
	out["sendBurst"] = func(t *rapid.T) {
		from, to := dev(t), user(t)
		for range rapid.IntRange(2, 5).Draw(t, "messages") {
			a := act{Kind: "send", Dev: from, To: to, Text: text()}
			a.Push = drawPush(t)
			p.apply(a)
		}
	}
	// The push flow in one go: a device is killed and a burst of messages follows for its user.
	out["killThenBurst"] = func(t *rapid.T) {
		victim, from := dev(t), dev(t)
		p.apply(act{Kind: "kill", Dev: victim})
		to := slices.Index(p.spec.Users, p.spec.Devices[victim].User)
		for range rapid.IntRange(1, 4).Draw(t, "messages") {
			p.apply(act{Kind: "send", Dev: from, To: to, Text: text()})
		}
	}
	// A phone drops the app (or FCM rotates its token while it is killed) and a message follows:
	// the relay learns from FCM that the token is gone.
	out["dropTokenThenSend"] = func(t *rapid.T) {
		victim, from := dev(t), dev(t)
		if rapid.Bool().Draw(t, "uninstall") {
			p.apply(act{Kind: "uninstall", Dev: victim})
		} else {
			p.apply(act{Kind: "kill", Dev: victim})
			p.apply(act{Kind: "tokenRefresh", Dev: victim})
		}
		p.apply(act{Kind: "send", Dev: from, To: slices.Index(p.spec.Users, p.spec.Devices[victim].User), Text: text()})
	}
	// A shared phone changes hands: its user logs out — on a whole link, or lost while the
	// network is down, for the logout alone (the connection survives) or for long enough that
	// the app and the relay gave up on the connection — another user logs in on it and reports
	// the same token, the app is killed, and a message goes to the previous user from another
	// device. Where the previous user's session outlived the logout, the relay must have moved
	// the token (OneUserPerToken).
	out["sharePhone"] = func(t *rapid.T) {
		phone := dev(t)
		var prev string
		p.w.Do(func() { prev = p.devs[phone].User() })
		next := rapid.SampledFrom(slices.DeleteFunc(slices.Clone(p.spec.Users), func(u string) bool { return u == prev })).Draw(t, "next user")
		lost := rapid.SampledFrom([]string{"no", "logout only", "connection", "connection"}).Draw(t, "logout lost")
		if lost != "no" {
			p.apply(act{Kind: "netLoss", Dev: phone})
		}
		if lost == "connection" {
			p.apply(act{Kind: "wait", D: 2 * time.Minute})
		}
		p.apply(act{Kind: "logout", Dev: phone})
		p.apply(act{Kind: "switchUser", Dev: phone, To: slices.Index(p.spec.Users, next)})
		if lost != "no" {
			p.apply(act{Kind: "netRestore", Dev: phone})
		}
		p.apply(act{Kind: "login", Dev: phone})
		p.apply(act{Kind: "wait", D: time.Second}) // the login lands and the token is reported
		p.apply(act{Kind: "kill", Dev: phone})
		var senders, others []int
		p.w.Do(func() {
			for i, d := range p.devs {
				if i != phone {
					others = append(others, i)
					if d.LoggedIn() {
						senders = append(senders, i)
					}
				}
			}
		})
		if len(senders) == 0 {
			senders = others
		}
		p.apply(act{Kind: "send", Dev: rapid.SampledFrom(senders).Draw(t, "from"), To: slices.Index(p.spec.Users, prev), Text: text()})
	}
	// Acks that trail what was written, on a connection that then dies: a phone holds its acks,
	// a burst comes for its user from another user's phone, part of the acks go (oldest or
	// newest first) a moment later, and the phone is killed or loses its network.
	out["ackRace"] = func(t *rapid.T) {
		victim := dev(t)
		user := p.spec.Devices[victim].User
		var others []int
		for i, d := range p.spec.Devices {
			if d.User != user {
				others = append(others, i)
			}
		}
		from := rapid.SampledFrom(others).Draw(t, "from")
		p.apply(act{Kind: "holdAcks", Dev: victim})
		n := rapid.IntRange(1, 4).Draw(t, "messages")
		for range n {
			p.apply(act{Kind: "send", Dev: from, To: slices.Index(p.spec.Users, user), Text: text()})
		}
		p.apply(act{Kind: "wait", D: rapid.SampledFrom([]time.Duration{10 * time.Millisecond, 100 * time.Millisecond, time.Second}).Draw(t, "wait")})
		if k := rapid.IntRange(0, n).Draw(t, "acks released"); k > 0 {
			p.apply(act{Kind: "releaseAcks", Dev: victim, N: k, Rev: rapid.Bool().Draw(t, "newest first")})
		}
		p.apply(act{Kind: rapid.SampledFrom([]string{"kill", "netLoss"}).Draw(t, "then"), Dev: victim})
	}
	if len(p.spec.Group) > 0 {
		out["sendGroup"] = func(t *rapid.T) { p.apply(act{Kind: "sendGroup", Dev: dev(t), Text: text()}) }
	}
	for _, k := range []string{"mute", "unmute"} {
		out[k] = func(t *rapid.T) {
			p.apply(act{Kind: k, Dev: dev(t), To: rapid.IntRange(0, len(p.spec.Users)).Draw(t, "conversation")})
		}
	}
	out["kick"] = func(t *rapid.T) { p.apply(act{Kind: "kick", To: user(t)}) }
	// A user's pushes turned off or on, by the administrator or from the app on one of its phones.
	for _, k := range []string{"pushesOff", "pushesOn"} {
		out[k] = func(t *rapid.T) { p.apply(act{Kind: k, To: user(t)}) }
		out[k+"App"] = func(t *rapid.T) { p.apply(act{Kind: k + "App", Dev: dev(t)}) }
	}
	out["profile"] = func(t *rapid.T) {
		p.apply(act{Kind: "profile", To: user(t), Text: rapid.SampledFrom(propNicknames).Draw(t, "nickname")})
	}
	// A 503 storm (count 0: every send until cleared) is what puts the retry budget to work.
	out["fault503"] = func(t *rapid.T) { p.apply(act{Kind: "fault503", N: rapid.IntRange(0, 3).Draw(t, "count")}) }
	out["fault429"] = func(t *rapid.T) {
		p.apply(act{Kind: "fault429", D: rapid.SampledFrom([]time.Duration{time.Second, 20 * time.Second, 2 * time.Hour}).Draw(t, "retryAfter")})
	}
	out["faultLoss"] = func(t *rapid.T) { p.apply(act{Kind: "faultLoss", N: rapid.IntRange(1, 3).Draw(t, "count")}) }
	out["faultLatency"] = func(t *rapid.T) {
		p.apply(act{Kind: "faultLatency", N: rapid.IntRange(1, 3).Draw(t, "count"),
			D: rapid.SampledFrom([]time.Duration{time.Second, 12 * time.Second}).Draw(t, "latency")})
	}
	out["faultClear"] = func(t *rapid.T) { p.apply(act{Kind: "faultClear"}) }
	out["restart"] = func(t *rapid.T) { p.apply(act{Kind: "restart"}) }
	if p.vw != nil {
		// The composites wait minutes and restart the relay: the virtual property's alone.
		maps.Copy(out, p.combos(text))
	}
	waits := map[string][]time.Duration{
		"waitShort": {10 * time.Millisecond, 100 * time.Millisecond, time.Second},
		"waitMid":   {5 * time.Second, 40 * time.Second, 3 * time.Minute},
		"waitLong":  {10 * time.Minute, time.Hour, 3 * time.Hour},
	}
	for k, ds := range waits {
		out[k] = func(t *rapid.T) { p.apply(act{Kind: "wait", D: rapid.SampledFrom(ds).Draw(t, "wait")}) }
	}
	// rapid draws the keys uniformly: what makes pushes happen (logins, kills, sends, waits)
	// gets more keys than the rare events.
	for k, n := range map[string]int{"login": 3, "kill": 2, "send": 3, "sendBurst": 1, "killThenBurst": 4, "dropTokenThenSend": 1, "fault503": 1, "waitMid": 4, "waitShort": 5, "relaunch": 2, "background": 2, "profile": 1} {
		for i := range n {
			out[fmt.Sprintf("%s#%d", k, i+2)] = out[k]
		}
	}
	return out
}

// TestPropertyPushRuleCapsAndNoLoss draws small worlds and random lifecycles and holds the relay
// to the invariants of DESIGN.md §7 after every action, then settles the world and checks that
// everything owed was delivered or explained, and that the same seed replays the same run.
func TestPropertyPushRuleCapsAndNoLoss(t *testing.T) {
	r := &oracle.Reach{}
	rapid.Check(t, func(t *rapid.T) {
		spec := drawSpec(t)
		p := newPropRun(t, spec, r, true)
		defer p.addReach()
		defer p.writeCounterexample(t, "TestPropertyPushRuleCapsAndNoLoss")
		p.start()
		t.Repeat(p.actions())
		p.settle()
		p.settled = true
		trace, _ := p.vw.Trace()
		p.o.CheckSettled(p.w.Now(), trace)
		p.o.CheckCaughtUp(p.w.Now(), p.loggedInDevices())
		recs, _ := p.vw.FCMRecords()
		p.o.CheckNoThrottle(p.w.Now(), recs)
		p.check(t)
		invariantSameSeedSameRun(t, p)
	})
	if !t.Failed() {
		require.Empty(t, r.Missing(), "states the actions never reached: the properties would pass by never getting there")
		t.Logf("reach: %+v", *r)
	}
}

// Invariant 6: the same seed and actions give the same run, event for event.
func invariantSameSeedSameRun(t *rapid.T, p *propRun) {
	h1, _ := p.vw.EventLog()
	again := newPropRun(t, p.spec, nil, true)
	for _, a := range p.acts {
		again.apply(a)
	}
	h2, _ := again.vw.EventLog()
	if h1 != h2 {
		t.Fatalf("invariant broken: the same seed gives the same run: event logs differ (%x, %x)", h1, h2)
	}
}

// writeCounterexample writes a failing run's actions as a scenario (DESIGN.md §6) that QA can
// replay with pushsim run. rapid calls the property last with the shrunk actions, so the file
// left behind is the shortest counterexample.
func (p *propRun) writeCounterexample(t *rapid.T, test string) {
	if !t.Failed() {
		return
	}
	b, err := scenarioYAML(p, test)
	if err == nil {
		path := filepath.Join("testdata", "counterexamples", test+".yaml")
		if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		if err == nil {
			t.Logf("counterexample scenario: sim/%s (pushsim run sim/%s)", path, path)
		}
		if p.vw == nil {
			// the live world keeps no event log
		} else if _, lines := p.vw.EventLog(); err == nil && len(lines) > 0 {
			logPath := strings.TrimSuffix(path, ".yaml") + ".log"
			err = os.WriteFile(logPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
			t.Logf("its event log: sim/%s", logPath)
		}
	}
	if err != nil {
		t.Logf("could not write the counterexample scenario: %v", err)
	}
}

// scenarioYAML renders a run's world and actions as a scenario that replays it exactly: the
// world's seed, the steps back to back (replay: {seed, settle: false}), the same steps the run
// applied, and no expectations — the runner's oracle holds the replay to the invariants.
func scenarioYAML(p *propRun, test string) ([]byte, error) {
	type yamlApp struct {
		SDKAppID      uint64                        `yaml:"sdkAppId"`
		Name          string                        `yaml:"name,omitempty"`
		LoginPolicy   relay.LoginPolicy             `yaml:"loginPolicy"`
		Caps          *relay.Caps                   `yaml:"caps,omitempty"`
		DefaultLocale string                        `yaml:"defaultLocale,omitempty"`
		PushTemplates map[string]relay.PushTemplate `yaml:"pushTemplates,omitempty"`
	}
	type yamlCertificate struct {
		ID        int64  `yaml:"id"`
		ChannelID string `yaml:"channelId,omitempty"`
	}
	type yamlDevice struct {
		ID       string `yaml:"id"`
		User     string `yaml:"user"`
		Platform string `yaml:"platform"`
		Locale   string `yaml:"locale,omitempty"`
	}
	type doc struct {
		Name        string             `yaml:"name"`
		Description string             `yaml:"description"`
		Replay      scenarios.Replay   `yaml:"replay"`
		Apps        []yamlApp          `yaml:"apps"`
		Certs       []yamlCertificate  `yaml:"certificates"`
		FCM         fakefcm.Behaviour  `yaml:"fcm,omitempty"`
		Network     map[string]any     `yaml:"network,omitempty"`
		Cluster     *scenarios.Cluster `yaml:"cluster,omitempty"`
		Devices     []yamlDevice       `yaml:"devices"`
		Steps       []scenarios.Step   `yaml:"steps"`
	}
	violation := "(none recorded)"
	if first := p.firstBroken(); first != "" {
		violation = first
	}
	seed, settle := p.spec.Seed, false
	d := doc{
		Name: "counterexample from " + test,
		Description: fmt.Sprintf("Written by %s from its shrunk failing run. It broke: %s. "+
			"The steps replay the run exactly (its seed, back to back, time passing only in waits); "+
			"pushsim run holds them to the same invariants, so it fails while the bug is there.", test, violation),
		Replay:  scenarios.Replay{Seed: &seed, Settle: &settle, Settled: p.settled},
		FCM:     p.spec.FCM,
		Apps:    []yamlApp{{SDKAppID: propApp, Name: p.spec.AppName, LoginPolicy: p.spec.Policy, PushTemplates: p.spec.Templates, DefaultLocale: p.spec.DefaultLocale}},
		Certs:   []yamlCertificate{{ID: scenarios.DefaultCertificate, ChannelID: p.spec.ChannelID}},
		Cluster: p.spec.Cluster,
	}
	if p.spec.Caps != (relay.Caps{}) {
		caps := p.spec.Caps
		d.Apps[0].Caps = &caps
	}
	if p.spec.Jitter > 0 {
		d.Network = map[string]any{"jitter": p.spec.Jitter.String()}
	}
	for _, ds := range p.spec.Devices {
		d.Devices = append(d.Devices, yamlDevice{ID: ds.ID, User: ds.User, Platform: ds.Platform, Locale: ds.Locale})
	}
	if len(p.spec.Group) > 0 {
		d.Steps = append(d.Steps, p.groupStep())
	}
	for _, a := range p.acts {
		d.Steps = append(d.Steps, p.stepOf(a))
	}
	return yaml.Marshal(d)
}

// The action kinds, for tests of the scenario writer.
var actKinds = []string{"install", "launch", "login", "loginNoToken", "reportToken", "foreground", "background",
	"kill", "forceStop", "netLoss", "netRestore", "relaunch", "logout", "uninstall", "tokenRefresh", "tap", "send",
	"sendOnlineOnly", "sendNoPush", "sendGroup", "mute", "unmute", "kick", "fault503", "fault429", "faultLoss",
	"faultLatency", "faultClear", "restart", "wait", "switchUser", "fault503Dev", "fault429Dev", "holdAcks", "releaseAcks",
	"pushesOff", "pushesOn", "pushesOffApp", "pushesOnApp", "profile"}

// The counterexample writer speaks the scenario format: a run with every kind of action
// renders to a file the scenario parser accepts, with one step per action, and the world it
// writes is the one the run played in: the app's templates, the certificate's channel and the
// phones' locales included.
func TestCounterexampleScenarioParses(t *testing.T) {
	spec := worldSpec{Seed: 3, Users: []string{"u1", "u2"}, Policy: relay.PolicySingle, Group: []string{"u1", "u2"},
		Caps:      relay.Caps{PerMinute: 2, PerHour: 10, Burst: 1, Refill: duration.Of(time.Minute)},
		FCM:       fakefcm.Behaviour{Latency: duration.Of(time.Second), Loss: 0.1},
		Jitter:    50 * time.Millisecond,
		Devices:   []devSpec{{"u1-a", "u1", "android", "zh-HK"}, {"u2-a", "u2", "tablet", ""}},
		GroupName: "Team", Templates: propTemplates(), DefaultLocale: "zh", AppName: "Chat", ChannelID: "messages"}
	p := newPropRun(t, spec, nil, false)
	for _, k := range actKinds {
		p.apply(act{Kind: k, Dev: 1, To: 0, N: 2, D: 3 * time.Second, Text: "hello",
			Push: relay.OfflinePush{Title: "Boss", Android: relay.AndroidPush{ChannelID: "calls", ClickAction: "https://example.com/chat"}, Silent: true}})
	}
	p.broken = append(p.broken, "an invariant: what broke")
	b, err := scenarioYAML(p, "TestX")
	require.NoError(t, err)
	sc, err := scenarios.Parse("counterexample.yaml", b)
	require.NoError(t, err, "%s", b)
	require.Len(t, sc.Steps, len(actKinds)+1, "one step per action, after createGroup")
	require.Equal(t, relay.PolicySingle, sc.Apps[0].LoginPolicy)
	require.Contains(t, sc.Description, "an invariant: what broke")
	// The file replays the run: its seed, back to back, and the very steps the run applied.
	require.NotNil(t, sc.Replay)
	require.Equal(t, uint64(3), *sc.Replay.Seed)
	require.False(t, *sc.Replay.Settle)
	applied := []scenarios.Step{p.groupStep()}
	for _, a := range p.acts {
		applied = append(applied, p.stepOf(a))
	}
	if diff := cmp.Diff(applied, sc.Steps, cmpopts.IgnoreFields(scenarios.Step{}, "Pos")); diff != "" {
		t.Errorf("the written steps are not those applied (-applied +written):\n%s", diff)
	}
	played := specScenario(spec)
	for _, c := range []struct {
		name          string
		played, wrote any
	}{{"apps", played.Apps, sc.Apps}, {"certificates", played.Certificates, sc.Certificates}, {"devices", played.Devices, sc.Devices}} {
		if diff := cmp.Diff(c.played, c.wrote); diff != "" {
			t.Errorf("the written %s are not the run's (-played +written):\n%s", c.name, diff)
		}
	}
}

// The written counterexample replays the property's run exactly: pushsim run's runner, on the
// file alone, makes the same push decisions at the same instants as the property did.
func TestCounterexampleReplaysTheRun(t *testing.T) {
	spec := worldSpec{Seed: 11, Users: []string{"u1", "u2"}, Policy: relay.PolicyMulti, Group: []string{"u1", "u2"},
		Caps:     relay.Caps{PerMinute: 1, PerHour: 4, Burst: 1, Refill: duration.Of(10 * time.Second)},
		FCM:      fakefcm.Behaviour{Latency: duration.Of(100 * time.Millisecond), Loss: 0.1},
		Jitter:   50 * time.Millisecond,
		Devices:  []devSpec{{"u1-a", "u1", "android", ""}, {"u1-b", "u1", "tablet", ""}, {"u2-a", "u2", "android", ""}},
		LoggedIn: []bool{true, true, true}}
	p := newPropRun(t, spec, nil, false)
	p.start()
	for _, a := range []act{{Kind: "kill", Dev: 0}, {Kind: "send", Dev: 2, To: 0, Text: "m1"}, {Kind: "send", Dev: 2, To: 0, Text: "m2"},
		{Kind: "wait", D: 10 * time.Millisecond}, {Kind: "netLoss", Dev: 1}, {Kind: "sendGroup", Dev: 2, Text: "m3"},
		{Kind: "fault503", N: 2}, {Kind: "wait", D: 40 * time.Second}, {Kind: "relaunch", Dev: 0}, {Kind: "send", Dev: 2, To: 0, Text: "m4"}} {
		p.apply(a)
	}
	p.settle()
	p.settled = true
	b, err := scenarioYAML(p, "TestX")
	require.NoError(t, err)
	sc, err := scenarios.Parse("counterexample.yaml", b)
	require.NoError(t, err, "%s", b)
	res := scenarios.Run(context.Background(), sc, scenarios.Options{Seed: 1})
	require.True(t, res.Passed, "%s %+v", res.Error, res.Oracle)
	type decision struct {
		AtMs           int64
		Device, Reason string
	}
	trace, err := p.w.Trace()
	require.NoError(t, err)
	var want, got []decision
	for _, e := range trace {
		want = append(want, decision{e.Time.Sub(p.t0).Milliseconds(), e.DeviceID, e.Reason})
	}
	for _, e := range res.Trace {
		got = append(got, decision{e.AtMs, e.Device, e.Reason})
	}
	require.NotEmpty(t, want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the replay decided otherwise (-property +replay):\n%s", diff)
	}
}
