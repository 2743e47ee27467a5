package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/relay/cluster"
)

func partitionsOf(ls []cluster.Lease) []int {
	var ps []int
	for _, l := range ls {
		ps = append(ps, l.Partition)
	}
	return ps
}

// propNode is one node of the property's cluster: its owner core and what the world did to it.
type propNode struct {
	id     string
	o      *cluster.Owner
	killed bool
	// stalled is a node that is up and beats but takes no part in ownership (say, every restore
	// it tries fails): the others must take its share.
	stalled bool
	// pausedUntil, when set, is when the node's pause ends: until then it does nothing, and it
	// resumes believing it holds what it held when the pause began.
	pausedUntil time.Time
}

func (n *propNode) paused() bool { return !n.pausedUntil.IsZero() }

// propCluster is nodes sharing one MemLeases on a virtual clock.
type propCluster struct {
	t     *rapid.T
	ctx   context.Context
	cfg   cluster.Config // without ID
	tb    *cluster.MemLeases
	now   time.Time
	nodes []*propNode
	// epochs is each partition's epoch as last seen: it never goes down.
	epochs map[int]uint64
	// writers is who wrote each partition under each epoch, through Fence.
	writers map[[2]uint64]string
}

const propMaxNodes = 7

func (c *propCluster) newNode(id string) *propNode {
	cfg := c.cfg
	cfg.ID = id
	o, err := cluster.NewOwner(cfg)
	require.NoError(c.t, err)
	return &propNode{id: id, o: o}
}

func (c *propCluster) leases() map[int]cluster.Lease {
	ls, err := c.tb.Leases(c.ctx)
	require.NoError(c.t, err)
	m := map[int]cluster.Lease{}
	for _, l := range ls {
		m[l.Partition] = l
	}
	return m
}

// ids lists the nodes' IDs, for the draws' labels.
func ids(ns []*propNode) string {
	var s []string
	for _, n := range ns {
		s = append(s, n.id)
	}
	return strings.Join(s, ",")
}

// pick draws one of the nodes ok accepts, or skips the action when there is none.
func (c *propCluster) pick(t *rapid.T, what string, ok func(*propNode) bool) *propNode {
	var cands []*propNode
	for _, n := range c.nodes {
		if ok(n) {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		t.Skip("no node to " + what)
	}
	return cands[rapid.IntRange(0, len(cands)-1).Draw(t, what+" (index among "+ids(cands)+")")]
}

// write is a write by n to partition under epoch, fenced as every write is; it records who wrote
// under which epoch, and fails if the fence's answer is not the one the table's epoch calls for.
func (c *propCluster) write(n *propNode, l cluster.Lease, why string) {
	cur := c.leases()[l.Partition].Epoch
	err := c.tb.Fence(c.ctx, l.Partition, l.Epoch)
	if l.Epoch != cur {
		require.ErrorIs(c.t, err, cluster.ErrFenced, "%s: %s writes partition %d under stale epoch %d (current %d)", why, n.id, l.Partition, l.Epoch, cur)
		return
	}
	require.NoError(c.t, err, "%s: %s writes partition %d under the current epoch %d", why, n.id, l.Partition, l.Epoch)
	key := [2]uint64{uint64(l.Partition), l.Epoch}
	if w, ok := c.writers[key]; ok {
		require.Equal(c.t, w, n.id, "two writers of partition %d under epoch %d", l.Partition, l.Epoch)
	}
	c.writers[key] = n.id
}

// tick runs one Step of n at now; a paused node does nothing until its pause ends, then first
// makes the writes it had in flight (a zombie's: under every lease it still believes it holds).
func (c *propCluster) tick(n *propNode) {
	if n.paused() {
		if c.now.Before(n.pausedUntil) {
			return
		}
		for _, l := range n.o.Held() {
			c.write(n, l, "zombie after its pause")
		}
		n.pausedUntil = time.Time{}
	}
	if n.stalled {
		require.NoError(c.t, c.tb.Beat(c.ctx, n.id, c.now, c.cfg.LeaseTTL))
		return
	}
	_, err := cluster.Step(c.ctx, n.o, c.tb, c.tb, c.now)
	require.NoError(c.t, err)
	c.checkAfterTick(n)
}

// race ticks a and b at now as two processes would: both read the table before either changes
// it, then a's plan is carried out, then b's (whose view is stale by then).
func (c *propCluster) race(a, b *propNode) {
	var plans []cluster.Plan
	for _, n := range []*propNode{a, b} {
		require.NoError(c.t, c.tb.Beat(c.ctx, n.id, c.now, c.cfg.LeaseTTL))
	}
	leases, err := c.tb.Leases(c.ctx)
	require.NoError(c.t, err)
	live, err := c.tb.Live(c.ctx, c.now)
	require.NoError(c.t, err)
	for _, n := range []*propNode{a, b} {
		plans = append(plans, n.o.Tick(c.now, leases, live))
	}
	for i, n := range []*propNode{a, b} {
		out, err := cluster.Apply(c.ctx, c.tb, plans[i])
		require.NoError(c.t, err)
		n.o.Advance(out)
	}
	c.checkAfterTick(a)
	c.checkAfterTick(b)
}

// checkAfterTick holds that right after its tick a node believes it holds exactly leases the
// table gives it, live.
func (c *propCluster) checkAfterTick(n *propNode) {
	table := c.leases()
	for _, h := range n.o.Held() {
		cur := table[h.Partition]
		require.True(c.t, cur.Node == n.id && cur.Epoch == h.Epoch && cur.Live(c.now),
			"%s believes it holds %+v after its tick at %v; the table has %+v", n.id, h, c.now, cur)
	}
}

// check holds the invariants that hold between any two actions.
func (c *propCluster) check(t *rapid.T) {
	table := c.leases()
	// Epochs only grow, and no row disappears.
	for p, e := range c.epochs {
		require.GreaterOrEqual(t, table[p].Epoch, e, "partition %d: epoch went down", p)
	}
	for p, l := range table {
		c.epochs[p] = l.Epoch
	}
	// A node serves a partition at now only under the table's live lease, which names one node:
	// so at most one node serves each partition. A paused node counts: it would serve what Owns
	// says if it woke now.
	for p := range c.cfg.Partitions {
		for _, n := range c.nodes {
			if n.killed {
				continue
			}
			if l, ok := n.o.Owns(p, c.now); ok {
				cur := table[p]
				require.True(t, cur.Node == n.id && cur.Epoch == l.Epoch && cur.Live(c.now),
					"%s serves partition %d under %+v at %v; the table has %+v", n.id, p, l, c.now, cur)
			}
		}
	}
}

// settle resumes the paused nodes, makes sure one node runs, then ticks every running node every
// RenewEvery (in a drawn order each round) for four lease TTLs: every partition must be owned
// within LeaseTTL+RenewEvery of falling free, and at the end, unless a node is stalled, the
// running nodes share the partitions within ceil(P/k) each. (A stalled node is given partitions
// it never takes, and the others take them back a tick later, over and over.)
func (c *propCluster) settle(t *rapid.T) {
	for _, n := range c.nodes {
		if n.paused() && n.pausedUntil.After(c.now) {
			n.pausedUntil = c.now
		}
	}
	running := func() []*propNode {
		var r []*propNode
		for _, n := range c.nodes {
			if !n.killed {
				r = append(r, n)
			}
		}
		return r
	}
	serving := func() int {
		k := 0
		for _, n := range running() {
			if !n.stalled {
				k++
			}
		}
		return k
	}
	if serving() == 0 {
		*c.nodes[0] = *c.newNode(c.nodes[0].id)
	}
	every := c.cfg.RenewEvery
	rounds := int(4*c.cfg.LeaseTTL/every) + 2
	unownedSince := map[int]time.Time{}
	for round := range rounds {
		for _, n := range rapid.Permutation(running()).Draw(t, fmt.Sprintf("order%d", round)) {
			t.Logf("round %d at %v: %s ticks", round, c.now, n.id)
			c.tick(n)
			c.check(t)
		}
		table := c.leases()
		for p := range c.cfg.Partitions {
			if table[p].Live(c.now) {
				delete(unownedSince, p)
				continue
			}
			since, ok := unownedSince[p]
			if !ok {
				since, unownedSince[p] = c.now, c.now
			}
			// Seen free at rounds RenewEvery apart, it fell free at most one round before it
			// was first seen so: within LeaseTTL of that, it must be owned again.
			require.LessOrEqual(t, c.now.Sub(since), c.cfg.LeaseTTL, "partition %d unowned since %v, at %v", p, since, c.now)
		}
		c.now = c.now.Add(every)
	}
	c.now = c.now.Add(-every)
	nodes := running()
	if serving() < len(nodes) {
		return
	}
	fair := (c.cfg.Partitions + len(nodes) - 1) / len(nodes)
	table := c.leases()
	owned := 0
	for _, n := range nodes {
		t.Logf("%s holds %v", n.id, partitionsOf(n.o.Held()))
	}
	for _, n := range nodes {
		held := len(n.o.Held())
		owned += held
		require.LessOrEqual(t, held, fair, "%s holds %d partitions, above ceil(%d/%d) after settling", n.id, held, c.cfg.Partitions, len(nodes))
	}
	require.Equal(t, c.cfg.Partitions, owned, "partitions held after settling; table %v", table)
}

// TestPropertyLeases runs 1–5 nodes on a shared lease table and a virtual clock through ticks
// (alone, or two nodes racing on the same view), waits, kills, restarts, joins, stalls (a node
// that beats but takes nothing) and pauses past the lease TTL (zombies that wake up and write),
// and holds partition ownership to its invariants after every action; then it settles the
// cluster and checks that every partition is owned in time and the ownership balanced.
func TestPropertyLeases(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := &propCluster{
			t:   t,
			ctx: context.Background(),
			cfg: cluster.Config{
				Partitions: rapid.SampledFrom([]int{1, 3, 8, 64}).Draw(t, "partitions"),
				LeaseTTL:   10 * time.Second,
				RenewEvery: rapid.SampledFrom([]time.Duration{0, time.Second, 4 * time.Second}).Draw(t, "renewEvery"),
			},
			tb:      cluster.NewMemLeases(),
			now:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			epochs:  map[int]uint64{},
			writers: map[[2]uint64]string{},
		}
		if c.cfg.RenewEvery == 0 {
			c.cfg.RenewEvery = c.cfg.LeaseTTL / 3
		}
		for i := range rapid.IntRange(1, 5).Draw(t, "nodes") {
			c.nodes = append(c.nodes, c.newNode(fmt.Sprintf("n%d", i)))
		}
		alive := func(n *propNode) bool { return !n.killed }
		t.Repeat(map[string]func(*rapid.T){
			"tick": func(t *rapid.T) { c.tick(c.pick(t, "tick", alive)) },
			"race": func(t *rapid.T) {
				ready := func(n *propNode) bool { return !n.killed && !n.paused() && !n.stalled }
				a := c.pick(t, "race", ready)
				b := c.pick(t, "race with", func(n *propNode) bool { return n != a && ready(n) })
				c.race(a, b)
			},
			"advance": func(t *rapid.T) {
				c.now = c.now.Add(time.Duration(rapid.Int64Range(0, int64(2*c.cfg.LeaseTTL/time.Millisecond)).Draw(t, "ms")) * time.Millisecond)
			},
			"advanceRenewEvery": func(*rapid.T) { c.now = c.now.Add(c.cfg.RenewEvery) },
			"kill":              func(t *rapid.T) { c.pick(t, "kill", alive).killed = true },
			"stall":             func(t *rapid.T) { c.pick(t, "stall", alive).stalled = true },
			"restart": func(t *rapid.T) {
				n := c.pick(t, "restart", func(n *propNode) bool { return n.killed })
				*n = *c.newNode(n.id)
			},
			"add": func(t *rapid.T) {
				if len(c.nodes) == propMaxNodes {
					t.Skip("cluster full")
				}
				c.nodes = append(c.nodes, c.newNode(fmt.Sprintf("n%d", len(c.nodes))))
			},
			"pause": func(t *rapid.T) {
				n := c.pick(t, "pause", func(n *propNode) bool { return !n.killed && !n.paused() })
				past := time.Duration(rapid.Int64Range(1, int64(c.cfg.LeaseTTL/time.Millisecond)).Draw(t, "pastTTLms")) * time.Millisecond
				n.pausedUntil = c.now.Add(c.cfg.LeaseTTL + past)
			},
			"write": func(t *rapid.T) {
				n := c.pick(t, "write", func(n *propNode) bool { return !n.killed && !n.paused() })
				for p := range c.cfg.Partitions {
					if l, ok := n.o.Owns(p, c.now); ok {
						c.write(n, l, "owner")
					}
				}
			},
			"staleWrite": func(t *rapid.T) {
				table := c.leases()
				var ps []int
				for p, l := range table {
					if l.Epoch > 1 {
						ps = append(ps, p)
					}
				}
				if len(ps) == 0 {
					t.Skip("no partition changed hands yet")
				}
				slices.Sort(ps)
				p := rapid.SampledFrom(ps).Draw(t, "partition")
				e := rapid.Uint64Range(1, table[p].Epoch-1).Draw(t, "staleEpoch")
				require.ErrorIs(t, c.tb.Fence(c.ctx, p, e), cluster.ErrFenced)
			},
			"": c.check,
		})
		c.settle(t)
	})
}
