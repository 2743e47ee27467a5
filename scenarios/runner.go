package scenarios

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/oracle"
)

// settleTimeout bounds how long a step may take to land (a login to complete, a close to reach
// the relay) before it counts as failed.
const settleTimeout = 10 * time.Second

// appSecret signs the UserSigs of scenario devices.
const appSecret = "pushsim-app-secret-0123456789"

// runner plays one scenario on a twin of the world port.
type runner struct {
	sc      *Scenario
	w       sim.World
	start   time.Time
	devices map[string]*sim.Device
	dcfg    map[string]Device
	cursor  map[string]int // per device: observations already judged by an expectation
	out     reports.Scenario
	// oracle holds the relay to its invariants through the run; nil when the world has no tap.
	oracle *oracle.Oracle
	// found counts the oracle's violations when each step started (found[i]: step i+1), to
	// tell during which step each was found.
	found []int
	// users lists, per device, the users it had in turn: the one it was declared with, then
	// each it was handed to (switchUser).
	users map[string][]string
	// usersApps is Scenario.usersApps, read once: the apps of each user's phones (appOfUser).
	usersApps map[string][]uint64
	// judged holds the push-trace entries already judged by a push or noPush expectation (or there
	// before the run), by traceKey: against an FCM pushsim cannot watch, pushes are judged there.
	judged map[string]bool
}

// unwatched says the world's FCM cannot be watched: pushes are judged from the relay's trace.
func (r *runner) unwatched() bool { return r.w.Features().FCM == sim.FCMUnwatched }

func (r *runner) ms(t time.Time) int64 { return t.Sub(r.start).Milliseconds() }

// run plays the scenario and fills out.
func (r *runner) run(ctx context.Context) {
	r.out = reports.Scenario{Name: r.sc.Name, Description: r.sc.Description, File: r.sc.File, Steps: []reports.Step{}, Expectations: []reports.Expectation{}}
	r.start = r.w.Now()
	if err := r.setup(); err != nil {
		r.out.Error = "setup: " + err.Error()
		r.finish()
		return
	}
	for i, st := range r.sc.Steps {
		if ctx.Err() != nil {
			r.out.Error = "interrupted: " + ctx.Err().Error()
			break
		}
		_ = r.step(i+1, st) // its error is in its record
	}
	r.finish()
}

func (r *runner) setup() error {
	if r.oracle != nil {
		r.w.OnObserve(r.oracle.Observed)
	}
	secrets := map[uint64]string{}
	for _, a := range r.sc.Apps {
		secrets[a.SDKAppID] = a.SecretKey
		if a.SecretKey == "" {
			secrets[a.SDKAppID] = appSecret
		}
		// An empty login policy is the relay's default (single-platform).
		cfg := relay.AppConfig{SDKAppID: a.SDKAppID, Name: a.Name, SecretKey: secret.New(secrets[a.SDKAppID]), LoginPolicy: a.LoginPolicy, Caps: a.Caps,
			DefaultLocale: a.DefaultLocale, PushTemplates: a.PushTemplates}
		if r.oracle != nil {
			r.oracle.AddApp(cfg)
		}
		if err := r.w.AddApp(cfg); err != nil {
			return fmt.Errorf("app %d: %w", a.SDKAppID, err)
		}
	}
	senders := map[int64]string{}
	pkgs := map[int64]string{}
	for _, c := range r.sc.Certificates {
		spec := sim.CertificateSpec{ID: c.ID, SDKAppID: c.App, PackageName: c.PackageName, API: c.API, ChannelID: c.ChannelID}
		if r.oracle != nil {
			r.oracle.AddCertificate(spec)
		}
		s, err := r.w.AddCertificate(spec)
		if err != nil {
			return fmt.Errorf("certificate %d: %w", c.ID, err)
		}
		senders[c.ID], pkgs[c.ID] = s, c.PackageName
	}
	r.devices, r.dcfg, r.cursor, r.users = map[string]*sim.Device{}, map[string]Device{}, map[string]int{}, map[string][]string{}
	r.usersApps = r.sc.usersApps()
	heartbeat := r.sc.Relay.HeartbeatInterval.D()
	if sr, ok := r.w.(sim.SettingsReader); ok && heartbeat == 0 && !r.w.Features().RelayConfig {
		// The relay's rules are not the world's: the phones ping as often as that relay expects.
		st, err := sr.RelaySettings()
		if err != nil {
			return err
		}
		heartbeat = st.HeartbeatInterval.D()
	}
	r.w.Do(func() {
		for _, d := range r.sc.Devices {
			installed := d.Installed == nil || *d.Installed
			r.devices[d.ID] = r.w.AddDevice(sim.DeviceConfig{
				ID: d.ID, User: d.User, Platform: d.Platform, Locale: d.Locale, SDKAppID: d.App, AppSecret: secrets[d.App],
				CertificateID: d.Certificate, SenderID: senders[d.Certificate], Package: pkgs[d.Certificate],
				Heartbeat: heartbeat, Installed: installed, Token: d.Token,
			})
			r.dcfg[d.ID], r.users[d.ID] = d, []string{d.User}
			if r.oracle != nil {
				r.oracle.AddDevice(r.devices[d.ID])
			}
		}
	})
	if !r.sc.settles() {
		// As a property provisions: one second for the installs to get their tokens.
		r.w.Advance(time.Second)
		return nil
	}
	if r.unwatched() {
		// Pushes are judged from the relay's trace: what it holds already is an earlier run's.
		if err := r.markTraceJudged(""); err != nil {
			return err
		}
	}
	// Let the installs get their tokens (against an FCM pushsim cannot watch, only the phones
	// given one have any).
	r.waitFor(r.onDevices(func() bool {
		for id, d := range r.devices {
			if r.unwatched() && r.dcfg[id].Token == "" {
				continue
			}
			if (r.dcfg[id].Installed == nil || *r.dcfg[id].Installed) && d.Token() == "" {
				return false
			}
		}
		return true
	}))
	return nil
}

// step runs one step and records it.
func (r *runner) step(index int, st Step) error {
	r.markStep()
	rec := reports.Step{Index: index, Kind: string(st.Kind), Line: st.Pos.Line, Column: st.Pos.Column, AtMs: r.ms(r.w.Now()), Device: st.Device}
	if st.Send != nil {
		rec.Device = st.Send.From
	}
	text, err := r.act(index, st)
	if !r.sc.settles() && st.Kind != StepWait && st.Kind != StepExpect {
		// Back to back, as a property applies its actions: what is due now runs, no more.
		r.w.Advance(0)
	}
	rec.Text = text
	if err != nil {
		rec.Error = err.Error()
	}
	r.out.Steps = append(r.out.Steps, rec)
	return err
}

// act carries out a step and waits for it to land.
func (r *runner) act(index int, st Step) (string, error) {
	d := r.devices[st.Device]
	switch st.Kind {
	case StepInstall:
		r.w.Do(d.Install)
		return st.Device + " installs the app", r.settle(st.Device, "get an FCM token", func() bool { return d.Token() != "" })
	case StepLaunch, StepRelaunch, StepTap:
		r.w.Do(map[StepKind]func(){StepLaunch: d.Launch, StepRelaunch: d.Relaunch, StepTap: d.Tap}[st.Kind])
		return fmt.Sprintf("%s: %s", st.Device, st.Kind), r.settleLogin(st.Device, d, false)
	case StepLogin:
		report := st.ReportToken == nil || *st.ReportToken
		r.w.Do(func() { d.Login(report) })
		text := st.Device + " logs in as " + d.User()
		if !report {
			text += " (no token report)"
		}
		return text, r.settleLogin(st.Device, d, true)
	case StepReportToken:
		r.w.Do(d.ReportToken)
		return st.Device + " reports its push token", r.settleIdle(st.Device, d)
	case StepForeground:
		r.w.Do(d.Foreground)
		return st.Device + " comes to the foreground", r.settleIdle(st.Device, d)
	case StepBackground:
		r.w.Do(func() { d.Background(st.Unread) })
		return fmt.Sprintf("%s goes to the background (unread %d)", st.Device, st.Unread), r.settleIdle(st.Device, d)
	case StepKill, StepForceStop, StepUninstall:
		var token string
		r.w.Do(func() {
			token = d.Token()
			map[StepKind]func(){StepKill: d.Kill, StepForceStop: d.ForceStop, StepUninstall: d.Uninstall}[st.Kind]()
		})
		err := r.settleOffline(st.Device)
		if st.Kind == StepUninstall && err == nil && token != "" {
			err = r.settle(st.Device, "be unregistered at FCM", func() bool {
				on, err := r.w.FCMRegistered(token)
				return err == nil && !on
			})
		}
		return fmt.Sprintf("%s: %s", st.Device, map[StepKind]string{StepKill: "swiped away (killed)", StepForceStop: "force-stopped", StepUninstall: "uninstalled"}[st.Kind]), err
	case StepNetLoss:
		r.w.Do(d.NetLoss)
		return st.Device + " loses its network (the relay is not told)", nil
	case StepNetRestore:
		r.w.Do(d.NetRestore)
		return st.Device + " gets its network back", r.settleLogin(st.Device, d, false)
	case StepLogout:
		r.w.Do(d.Logout)
		return st.Device + " logs out", r.settleIdle(st.Device, d)
	case StepSwitchUser:
		return r.switchUser(st)
	case StepHoldAcks:
		r.w.Do(d.HoldAcks)
		return st.Device + " holds its acks (takes messages in, acknowledges none)", nil
	case StepReleaseAcks:
		var sent []uint64
		left := 0
		r.w.Do(func() {
			sent = d.ReleaseAcks(st.Count, st.Reverse)
			left = len(d.HeldAcks())
		})
		// Acks have no answer: nothing to wait for. The relay reads them before anything the
		// phone sends or closes after them (one connection is one ordered stream).
		if len(sent) == 0 {
			return st.Device + " releases its acks: none held", nil
		}
		order := "oldest first"
		if st.Reverse {
			order = "newest first"
		}
		return fmt.Sprintf("%s acknowledges seq %s (%s; %d still held)", st.Device, strings.Trim(fmt.Sprint(sent), "[]"), order, left), nil
	case StepKick:
		app := r.appOfUser(st.User)
		return "the administrator kicks " + st.User, r.w.Kick(app, st.User)
	case StepTokenRefresh:
		var old string
		r.w.Do(func() { old = d.Token(); d.TokenRefresh() })
		return st.Device + " gets a new FCM token", r.settle(st.Device, "get a new token", r.onDevices(func() bool {
			return d.Token() != "" && d.Token() != old && !hasPending(d)
		}))
	case StepSend, StepSendGroup:
		return r.send(st)
	case StepCreateGroup:
		g := st.CreateGroup
		app := g.App
		if app == 0 {
			app = r.sc.Apps[0].SDKAppID
		}
		what := fmt.Sprintf("group %s created with %s", g.ID, strings.Join(g.Members, ", "))
		if g.Name != "" {
			what = fmt.Sprintf("group %s (%q) created with %s", g.ID, g.Name, strings.Join(g.Members, ", "))
		}
		return what, r.w.PutGroup(relay.Group{SDKAppID: app, ID: g.ID, Name: g.Name, Members: g.Members})
	case StepProfile:
		p := st.Profile
		app := cmp.Or(p.App, r.appOfUser(p.User))
		what := fmt.Sprintf("%s's nickname is %q", p.User, p.Nickname)
		if p.Nickname == "" {
			what = p.User + "'s profile is removed"
		}
		return what, r.w.SetProfile(relay.Profile{SDKAppID: app, UserID: p.User, Nickname: p.Nickname})
	case StepSetReceiveOpt:
		o := st.ReceiveOpt
		dev := r.devices[o.Device]
		ok := true
		r.w.Do(func() { ok = dev.SetReceiveOpt(o.Conv, o.Opt) })
		if !ok {
			if !r.sc.settles() {
				return fmt.Sprintf("%s cannot set %s (not logged in)", o.Device, o.Conv), nil
			}
			return "", fmt.Errorf("%s is not logged in", o.Device)
		}
		return fmt.Sprintf("%s sets %s to %s", o.Device, o.Conv, o.Opt), r.settleIdle(o.Device, dev)
	case StepPushSettings:
		return r.pushSettings(st.PushSettings)
	case StepFault:
		return r.fault(st.Fault)
	case StepNetwork:
		return r.network(st.Network)
	case StepKillNode, StepRestartNode, StepPauseNode, StepPartitionNode:
		return r.node(st)
	case StepRestartRelay:
		if err := r.w.RestartRelay(); err != nil {
			return "", err
		}
		// Running apps reconnect and log in again by themselves: wait until the new relay sees
		// each of them (an app still on its old connection has not noticed yet).
		for _, d := range r.sc.Devices {
			if err := r.settleRelogin(d.ID, r.devices[d.ID]); err != nil {
				return "the relay restarts", err
			}
		}
		return "the relay restarts", nil
	case StepWait:
		r.w.Advance(st.Wait.D())
		return "wait " + st.Wait.String(), nil
	case StepExpect:
		r.expect(index, st.Expect)
		return "expect " + describeExpect(st.Expect), nil
	}
	return "", fmt.Errorf("step %q is not implemented", st.Kind)
}

// pushSettings turns a user's pushes on or off: through the admin API (user), or from the app on
// a phone (device), which waits for the relay's answer.
func (r *runner) pushSettings(ps *PushSettingsStep) (string, error) {
	onOff := map[bool]string{true: "on", false: "off"}[*ps.Enabled]
	if ps.User != "" {
		app := cmp.Or(ps.App, r.appOfUser(ps.User))
		return fmt.Sprintf("the administrator turns %s's pushes %s", ps.User, onOff), r.w.SetPushSettings(app, ps.User, relay.PushSettings{Enabled: *ps.Enabled})
	}
	dev := r.devices[ps.Device]
	ok := true
	var user string
	r.w.Do(func() { ok, user = dev.SetPushSettings(*ps.Enabled), dev.User() })
	text := fmt.Sprintf("%s's app turns %s's pushes %s", ps.Device, user, onOff)
	if !ok {
		if !r.sc.settles() {
			return text + " (not logged in: nothing sent)", nil
		}
		return "", fmt.Errorf("%s is not logged in", ps.Device)
	}
	return text, r.settleIdle(ps.Device, dev)
}

// appOfUser is the app of the user's phones, for the steps that name a user without an app:
// the first app a phone of theirs is in (Scenario.usersApps: the devices', then those a
// switchUser gives them), else the scenario's first app. (A step whose user must be one app's,
// ownerOf, is refused at load when the user's phones are in two.)
func (r *runner) appOfUser(user string) uint64 {
	if apps := r.usersApps[user]; len(apps) > 0 {
		return apps[0]
	}
	return r.sc.Apps[0].SDKAppID
}

// switchUser hands a phone to another user. The oracle keys phones by (app, user, device): it is
// told of the phone's new identity, as of a phone provisioned.
func (r *runner) switchUser(st Step) (string, error) {
	d := r.devices[st.Device]
	var from string
	var err error
	r.w.Do(func() {
		from = d.User()
		if err = d.SwitchUser(st.User); err == nil && r.oracle != nil {
			r.oracle.AddDevice(d)
		}
	})
	text := fmt.Sprintf("%s changes hands: %s to %s", st.Device, from, st.User)
	if err != nil {
		if !r.sc.settles() {
			// A replayed property run does what its action did: nothing, and goes on.
			return text + " (not switched: " + err.Error() + ")", nil
		}
		return text, err
	}
	r.users[st.Device] = append(r.users[st.Device], st.User)
	return text, nil
}

// send sends a message from a device's app and waits for the relay's answer.
func (r *runner) send(st Step) (string, error) {
	s := st.Send
	d := r.devices[s.From]
	f := relay.ClientFrame{To: s.To, Group: s.Group, Text: s.Text, OnlineOnly: s.OnlineOnly, OfflinePush: s.OfflinePush}
	ok := true
	r.w.Do(func() { ok = d.Send(f) })
	target := s.To
	if s.Group != "" {
		target = "group " + s.Group
	}
	text := fmt.Sprintf("%s sends %q to %s", s.From, s.Text, target)
	if s.OnlineOnly {
		text += " (online only)"
	}
	if s.OfflinePush != nil && s.OfflinePush.Disable {
		text += " (push disabled)"
	}
	if !ok {
		if !r.sc.settles() {
			// A replayed property run does what its action did: nothing, and goes on.
			return text + " (not sent: not logged in)", nil
		}
		return text, fmt.Errorf("%s is not logged in: the app cannot send", s.From)
	}
	return text, r.settleIdle(s.From, d)
}

// network changes a link.
func (r *runner) network(n *NetworkStep) (string, error) {
	if n.Link == "fcm" {
		if *n.Partition {
			return "the relay's link to FCM is cut (sends time out)", r.w.PartitionFCM(true)
		}
		return "the relay's link to FCM is healed", r.w.PartitionFCM(false)
	}
	var parts []string
	if n.Partition != nil {
		if *n.Partition {
			parts = append(parts, "cut both ways, neither side told")
		} else {
			parts = append(parts, "healed")
		}
	}
	if n.Latency != 0 || n.Jitter != 0 {
		parts = append(parts, fmt.Sprintf("latency %s, jitter %s", n.Latency, n.Jitter))
	}
	if n.Loss != nil {
		parts = append(parts, fmt.Sprintf("loses %g of frames", *n.Loss))
	}
	text := fmt.Sprintf("%s's link to the relay: %s", n.Device, strings.Join(parts, ", "))
	d := r.devices[n.Device]
	var err error
	r.w.Do(func() {
		l := r.w.LinkOf(d)
		if n.Partition != nil {
			l.Partitioned = *n.Partition
		}
		if n.Latency != 0 || n.Jitter != 0 {
			l.Latency, l.Jitter = n.Latency.D(), n.Jitter.D()
		}
		if n.Loss != nil {
			l.Loss = *n.Loss
		}
		err = r.w.SetLink(d, l)
	})
	return text, err
}

// fault adds (or clears) fakefcm fault rules.
func (r *runner) fault(f *FaultStep) (string, error) {
	if f.Status == 0 && f.Latency == 0 && !f.Loss && f.Clear {
		return "FCM faults cleared", r.w.SetFaults(nil)
	}
	if f.Clear {
		if err := r.w.SetFaults(nil); err != nil {
			return "", err
		}
	}
	rule := fakefcm.FaultRule{API: fakefcm.API(f.API), Status: f.Status, ErrorCode: fakefcm.ErrorCode(f.ErrorCode),
		Count: f.Count, RetryAfter: f.RetryAfter, Latency: f.Latency, Loss: f.Loss, Probability: f.Probability}
	who := "every push"
	if f.Device != "" {
		var tok string
		r.w.Do(func() { tok = r.devices[f.Device].Token() })
		rule.Token, who = tok, "pushes to "+f.Device
	}
	var parts []string
	if f.Status != 0 {
		parts = append(parts, fmt.Sprintf("answers %d", f.Status))
	}
	if f.RetryAfter > 0 {
		parts = append(parts, "Retry-After "+f.RetryAfter.String())
	}
	if f.Latency > 0 {
		parts = append(parts, "answer delayed "+f.Latency.String())
	}
	if f.Loss {
		parts = append(parts, "loses the message")
	}
	if f.Count > 0 {
		parts = append(parts, fmt.Sprintf("%d time(s)", f.Count))
	}
	// Added, not set: the rules in force keep what they have spent, and a send between two calls
	// cannot be counted twice.
	return fmt.Sprintf("FCM fault for %s: %s", who, strings.Join(parts, ", ")), r.w.AddFaults([]fakefcm.FaultRule{rule})
}

// node carries out a node step on the cluster twin.
func (r *runner) node(st Step) (string, error) {
	nf, ok := r.w.(sim.NodeFaults)
	if !ok || !r.w.Features().NodeFaults {
		return "", fmt.Errorf("%s: %w", st.Kind, sim.ErrUnsupported)
	}
	n := st.Node
	node, who := n.Node, n.Node
	if n.OwnerOf != "" {
		owner, err := nf.PartitionOwner(r.appOfUser(n.OwnerOf), n.OwnerOf)
		if err != nil {
			return "", fmt.Errorf("%s {ownerOf: %s}: %w", st.Kind, n.OwnerOf, err)
		}
		node, who = owner, fmt.Sprintf("%s (holding %s's partition)", owner, n.OwnerOf)
	}
	switch st.Kind {
	case StepKillNode:
		return "node " + who + " is killed", nf.KillNode(node)
	case StepRestartNode:
		return "node " + who + " restarts", nf.RestartNode(node)
	case StepPauseNode:
		return fmt.Sprintf("node %s pauses for %s", who, n.For), nf.PauseNode(node, n.For.D())
	}
	if n.Heal {
		return fmt.Sprintf("node %s is back on the %s", who, n.From), nf.PartitionNode(node, sim.NodeLink(n.From), false)
	}
	return fmt.Sprintf("node %s is cut off the %s", who, n.From), nf.PartitionNode(node, sim.NodeLink(n.From), true)
}
