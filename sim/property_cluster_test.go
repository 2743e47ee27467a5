package sim_test

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/cluster/vcluster"
	"github.com/pushlab/pushlab/scenarios"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/oracle"
)

// clusterChecks is how many checks the cluster property runs in the normal suite (a few seconds);
// PUSHLAB_CLUSTER_CHECKS sets another count (make prop runs it deep).
const clusterChecks = 5

// clusterDeepChecks is the count from which a run of the cluster property must also have
// checked a kick across nodes and seen a zombie's write refused: a short run may draw neither.
const clusterDeepChecks = 100

// clusterCheckCount is how many checks the cluster property runs: its own number, not the
// virtual properties' (-rapid.checks, RAPID_CHECKS).
func clusterCheckCount(t *testing.T) int {
	v, ok := os.LookupEnv("PUSHLAB_CLUSTER_CHECKS")
	if !ok {
		return clusterChecks
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "PUSHLAB_CLUSTER_CHECKS=%q: a number of checks", v)
	require.Positive(t, n, "PUSHLAB_CLUSTER_CHECKS")
	return n
}

// Cross-node kicks: a login under a kicking policy ends the user's other logins wherever they
// are connected.
const CrossNodeKick = "a login on any node kicks per the policy across nodes"

// nodeActions are the cluster's fault actions: a node killed, restarted, paused past its lease,
// cut off the bus or the database and healed; and a login that must kick across nodes.
func (p *propRun) nodeActions(t0 *rapid.T) map[string]func(*rapid.T) {
	nodes := p.vw.Nodes()
	node := func(t *rapid.T) string { return rapid.SampledFrom(nodes).Draw(t, "node") }
	out := map[string]func(*rapid.T){}
	out["killNode"] = func(t *rapid.T) {
		n := node(t)
		if p.vw.Cluster().Alive(n) && p.liveNodes() > 1 {
			p.apply(act{Kind: "killNode", Text: n})
		}
	}
	out["restartNode"] = func(t *rapid.T) {
		n := node(t)
		if !p.vw.Cluster().Alive(n) {
			p.apply(act{Kind: "restartNode", Text: n})
		}
	}
	out["pauseNode"] = func(t *rapid.T) {
		n := node(t)
		if p.vw.Cluster().Alive(n) {
			p.apply(act{Kind: "pauseNode", Text: n, D: rapid.SampledFrom([]time.Duration{2 * time.Second, 10 * time.Second, 40 * time.Second}).Draw(t, "pause")})
		}
	}
	for _, k := range []string{"cutBus", "healBus", "cutDB", "healDB"} {
		out[k] = func(t *rapid.T) {
			if n := node(t); p.vw.Cluster().Alive(n) {
				p.apply(act{Kind: k, Text: n})
			}
		}
	}
	// A zombie with work: a node pauses past its lease while messages go to every user, and
	// resumes to what waited for it.
	out["zombieWithTraffic"] = func(t *rapid.T) {
		n := node(t)
		if !p.vw.Cluster().Alive(n) {
			return
		}
		p.apply(act{Kind: "pauseNode", Text: n, D: 40 * time.Second})
		p.apply(act{Kind: "wait", D: 30 * time.Second})
		for u := range p.spec.Users {
			p.apply(act{Kind: "send", Dev: rapid.IntRange(0, len(p.devs)-1).Draw(t, "from"), To: u, Text: fmt.Sprintf("z%d", u)})
		}
		p.apply(act{Kind: "wait", D: 10 * time.Second})
	}
	out["crossNodeLogin"] = p.crossNodeLogin
	out["crossNodeLogin#2"] = p.crossNodeLogin
	return out
}

// liveNodes counts the nodes running.
func (p *propRun) liveNodes() int {
	n := 0
	for _, name := range p.vw.Nodes() {
		if p.vw.Cluster().Alive(name) {
			n++
		}
	}
	return n
}

// crossNodeLogin logs a device in while another device of its user is logged in and connected
// on another node; under the single policy (or single-platform, on the same platform) the other
// device must see its kick.
func (p *propRun) crossNodeLogin(t *rapid.T) {
	a := rapid.IntRange(0, len(p.devs)-1).Draw(t, "logged-in device")
	var others []int
	for i, d := range p.spec.Devices {
		if i != a && d.User == p.spec.Devices[a].User {
			others = append(others, i)
		}
	}
	if len(others) == 0 {
		return
	}
	crossNodeLoginOf(p, a, rapid.SampledFrom(others).Draw(t, "logging-in device"))
}

// crossNodeLoginOf brings device a to the foreground, logs device b in, and checks a's kick when
// both were live on two nodes as the same user (b was not handed to another user since) under a
// kicking policy.
func crossNodeLoginOf(p *propRun, a, b int) {
	p.apply(act{Kind: "foreground", Dev: a})
	p.apply(act{Kind: "wait", D: 2 * time.Second})
	da, db := p.devs[a], p.devs[b]
	var ready bool
	var nodeA string
	var seen int
	var sameUser bool
	p.w.Do(func() {
		ready = da.LoggedIn() && da.NetUp() && da.App() == sim.AppForeground
		nodeA, seen = p.vw.NodeOf(da), len(da.Observations())
		sameUser = da.User() == db.User() // a phone that changed hands logs in as its new user
	})
	p.apply(act{Kind: "login", Dev: b})
	p.apply(act{Kind: "wait", D: 3 * time.Second})
	var loggedIn, kicked, closed bool
	var nodeB string
	p.w.Do(func() {
		loggedIn, nodeB = db.LoggedIn(), p.vw.NodeOf(db)
		for _, o := range da.Observations()[seen:] {
			kicked = kicked || o.Kind == sim.ObsKicked
			closed = closed || o.Kind == sim.ObsClosed
		}
	})
	// Whether a's connection was live is the phone's own view (what the relay believes is what
	// is checked): connected, and not closed for another reason (a partition moving) meanwhile.
	online := kicked || !closed
	kicks := p.spec.Policy == relay.PolicySingle ||
		(p.spec.Policy == relay.PolicySinglePlatform && p.spec.Devices[a].Platform == p.spec.Devices[b].Platform)
	if !ready || !online || !loggedIn || !sameUser || nodeA == "" || nodeB == "" || nodeA == nodeB || !kicks {
		return // not the case this checks: both logins of one user live, on two nodes, under a kicking policy
	}
	p.crossKicks++
	if !kicked {
		p.broken = append(p.broken, fmt.Sprintf("%s: %s logged in on node %s under policy %s, but %s, logged in and connected on node %s, saw no kick",
			CrossNodeKick, db.ID(), nodeB, p.spec.Policy, da.ID(), nodeA))
	}
}

// checkCluster holds the cluster to its own invariant: at most one node writes a partition per
// epoch (a zombie's writes are refused).
func (p *propRun) checkCluster(t *rapid.T) {
	if err := vcluster.OneWriterPerEpoch(p.vw.Cluster().Writes()); err != nil {
		p.broken = append(p.broken, "one writer per partition per epoch: "+err.Error())
	}
	p.check(t)
}

// TestPropertyCluster runs the property's vocabulary on the cluster twin — three nodes, the bus
// and the lease table in virtual time — with node faults added, and holds it to invariants 1–6
// (the oracle), one writer per partition per epoch, and kicks across nodes.
// The normal suite runs a few checks (clusterChecks); make prop runs CLUSTER_CHECKS of them.
func TestPropertyCluster(t *testing.T) {
	r := &oracle.Reach{}
	checks := flag.Lookup("rapid.checks")
	require.NotNil(t, checks)
	prev := checks.Value.String()
	n := clusterCheckCount(t)
	require.NoError(t, checks.Value.Set(strconv.Itoa(n)))
	defer func() { require.NoError(t, checks.Value.Set(prev)) }()
	var crossKicks, fenced int
	rapid.Check(t, func(t *rapid.T) {
		spec := drawSpec(t)
		// A lease of 20 s renewed every 4 s: failovers as in production, at a fifth of the
		// owner-loop steps over the hours a run waits.
		spec.Cluster = &scenarios.Cluster{Nodes: 3, Partitions: 8, LeaseTTL: duration.Of(20 * time.Second), RenewEvery: duration.Of(4 * time.Second)}
		p := newPropRun(t, spec, r, true)
		defer p.addReach()
		defer p.writeCounterexample(t, "TestPropertyCluster")
		p.start()
		actions := p.actions()
		delete(actions, "waitLong") // hours of owner-loop steps; settle still waits hours once
		for k, a := range p.nodeActions(t) {
			actions[k] = a
		}
		actions[""] = p.checkCluster
		t.Repeat(actions)
		for _, n := range p.vw.Nodes() {
			if !p.vw.Cluster().Alive(n) {
				p.apply(act{Kind: "restartNode", Text: n})
			}
			p.apply(act{Kind: "healBus", Text: n})
			p.apply(act{Kind: "healDB", Text: n})
		}
		p.settle()
		p.settled = true
		trace, _ := p.vw.Trace()
		p.o.CheckSettled(p.w.Now(), trace)
		p.o.CheckCaughtUp(p.w.Now(), p.loggedInDevices())
		p.checkCluster(t)
		invariantSameSeedSameRun(t, p)
		crossKicks += p.crossKicks
		for _, w := range p.vw.Cluster().Writes() {
			if w.Err != nil {
				fenced++
			}
		}
	})
	if !t.Failed() {
		t.Logf("cross-node kicks checked: %d; writes refused: %d; reach: %+v", crossKicks, fenced, *r)
		if n < clusterDeepChecks {
			return
		}
		require.Positive(t, crossKicks, "no run checked a kick across nodes")
		require.Positive(t, fenced, "no run had a write refused: the zombies never wrote")
	}
}

// The cluster twin's own invariants on a fixed run: a node pauses past its lease while messages
// go to every user (a zombie, whose writes when it resumes are refused), a node dies and comes
// back, and under the single policy logins on two nodes kick across them; the oracle's
// invariants hold throughout.
func TestClusterZombieIsFencedAndLoginsKickAcrossNodes(t *testing.T) {
	spec := worldSpec{Seed: 7, Users: []string{"u1", "u2", "u3"}, Policy: relay.PolicySingle,
		Devices:  []devSpec{{"u1-a", "u1", "android", ""}, {"u1-b", "u1", "android", ""}, {"u2-a", "u2", "android", ""}, {"u3-a", "u3", "android", ""}},
		LoggedIn: []bool{true, false, true, true},
		Cluster:  &scenarios.Cluster{Nodes: 3, Partitions: 8}}
	p := newPropRun(t, spec, nil, false)
	p.start()
	for _, n := range p.vw.Nodes() {
		p.apply(act{Kind: "pauseNode", Text: n, D: 12 * time.Second})
		p.apply(act{Kind: "wait", D: 8 * time.Second})
		for u := range spec.Users {
			p.apply(act{Kind: "send", Dev: 2 - u/2, To: u, Text: fmt.Sprintf("to u%d while %s pauses", u+1, n)})
		}
		p.apply(act{Kind: "wait", D: 20 * time.Second})
	}
	p.apply(act{Kind: "killNode", Text: "n2"})
	p.apply(act{Kind: "wait", D: 15 * time.Second})
	p.apply(act{Kind: "restartNode", Text: "n2"})
	p.apply(act{Kind: "wait", D: 5 * time.Second})
	for range 3 {
		crossNodeLoginOf(p, 0, 1)
		crossNodeLoginOf(p, 1, 0)
	}
	p.settleFor(10 * time.Minute)
	// The cluster's own invariants first, then the oracle's.
	require.NoError(t, vcluster.OneWriterPerEpoch(p.vw.Cluster().Writes()))
	for _, b := range p.broken {
		require.NotContains(t, b, CrossNodeKick)
	}
	require.Empty(t, p.firstBroken())
	refused := 0
	for _, w := range p.vw.Cluster().Writes() {
		if w.Err != nil {
			refused++
		}
	}
	require.Positive(t, refused, "a zombie wrote after it resumed, and was refused")
	require.Positive(t, p.crossKicks, "a login kicked a device on another node")
}

// An admin call no node can serve (every node dead or cut off the database) fails with
// cluster.ErrNotOwner through the scenario step that made it, so that the property takes it for
// the cluster's "retry" answer it is rather than a broken invariant.
func TestClusterAdminCallWithNoOwnerIsErrNotOwnerThroughItsStep(t *testing.T) {
	spec := worldSpec{Seed: 5, Users: []string{"u1", "u2"}, Policy: relay.PolicyMulti,
		Devices:  []devSpec{{"u1-a", "u1", "android", ""}, {"u2-a", "u2", "android", ""}},
		LoggedIn: []bool{true, true},
		Cluster:  &scenarios.Cluster{Nodes: 3, Partitions: 8}}
	p := newPropRun(t, spec, nil, false)
	p.start()
	for _, st := range []act{{Kind: "killNode", Text: "n1"}, {Kind: "killNode", Text: "n2"}, {Kind: "cutDB", Text: "n3"}, {Kind: "wait", D: 20 * time.Second}} {
		require.NoError(t, p.rp.Apply(p.stepOf(st)))
	}
	err := p.rp.Apply(p.stepOf(act{Kind: "kick", To: 0}))
	require.ErrorIs(t, err, cluster.ErrNotOwner)
}

// A phone that changed hands logs in as its new user: the check of kicks across nodes does not
// expect it to kick its former user's other devices.
func TestCrossNodeLoginOfAPhoneThatChangedHandsKicksNobody(t *testing.T) {
	spec := worldSpec{Seed: 9, Users: []string{"u1", "u2"}, Policy: relay.PolicySingle,
		Devices:  []devSpec{{"u1-a", "u1", "android", ""}, {"u1-b", "u1", "android", ""}, {"u1-c", "u1", "android", ""}, {"u2-a", "u2", "android", ""}},
		LoggedIn: []bool{true, false, false, true},
		Cluster:  &scenarios.Cluster{Nodes: 3, Partitions: 8}}
	p := newPropRun(t, spec, nil, false)
	p.start()
	for _, b := range []int{1, 2} {
		p.apply(act{Kind: "switchUser", Dev: b, To: 1})
		crossNodeLoginOf(p, 0, b)
	}
	require.Empty(t, p.broken)
}
