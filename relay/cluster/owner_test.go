package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay/cluster"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newOwner(t *testing.T, id string, partitions int) *cluster.Owner {
	t.Helper()
	o, err := cluster.NewOwner(cluster.Config{ID: id, Partitions: partitions})
	require.NoError(t, err)
	return o
}

// requirePlan compares a Plan with the one wanted, ignoring Node, Now and TTL.
func requirePlan(t *testing.T, want, got cluster.Plan) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(cluster.Plan{}, "Node", "Now", "TTL"), cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("plan (-want +got):\n%s", d)
	}
}

// lease is a live lease of node on p under epoch, expiring at t0+exp.
func lease(p int, node string, epoch uint64, exp time.Duration) cluster.Lease {
	return cluster.Lease{Partition: p, Node: node, Epoch: epoch, Expires: t0.Add(exp)}
}

func partitions(ls []cluster.Lease) []int {
	var ps []int
	for _, l := range ls {
		ps = append(ps, l.Partition)
	}
	return ps
}

func TestConfigDefaultsAndChecks(t *testing.T) {
	o := newOwner(t, "a", 0)
	require.Equal(t, cluster.Config{ID: "a", Partitions: 64, LeaseTTL: 10 * time.Second, RenewEvery: 10 * time.Second / 3}, o.Config())
	for _, bad := range []cluster.Config{
		{},
		{ID: "a", Partitions: -1},
		{ID: "a", LeaseTTL: -time.Second},
		{ID: "a", RenewEvery: 5*time.Second + 1},
		{ID: "a", RenewEvery: -time.Second},
	} {
		_, err := cluster.NewOwner(bad)
		require.Error(t, err, "%+v", bad)
	}
}

func TestLoneNodeAcquiresEveryPartition(t *testing.T) {
	o := newOwner(t, "a", 4)
	requirePlan(t, cluster.Plan{Acquire: []int{0, 1, 2, 3}}, sortedAcquire(o.Tick(t0, nil, nil)))
}

// sortedAcquire sorts a Plan's Acquire, whose order is the node's own (rendezvous).
func sortedAcquire(p cluster.Plan) cluster.Plan {
	p.Acquire = slices.Sorted(slices.Values(p.Acquire))
	return p
}

func TestFairShareWithLiveNodes(t *testing.T) {
	ctx := context.Background()
	tb := cluster.NewMemLeases()
	a := newOwner(t, "a", 8)
	plan := a.Tick(t0, nil, []string{"a", "b", "c"})
	require.Len(t, plan.Acquire, 3, "ceil(8/3)")
	out, err := cluster.Apply(ctx, tb, plan)
	require.NoError(t, err)
	a.Advance(out)
	require.Len(t, a.Held(), 3)
	for _, l := range a.Held() {
		got, ok := a.Owns(l.Partition, t0)
		require.True(t, ok)
		require.Equal(t, l, got)
	}
}

func TestRenewOnceRenewEveryOld(t *testing.T) {
	ctx := context.Background()
	tb := cluster.NewMemLeases()
	a := newOwner(t, "a", 1)
	_, err := cluster.Step(ctx, a, tb, tb, t0)
	require.NoError(t, err)
	every := a.Config().RenewEvery
	leases, _ := tb.Leases(ctx)
	requirePlan(t, cluster.Plan{}, a.Tick(t0.Add(every-time.Nanosecond), leases, []string{"a"}))
	requirePlan(t, cluster.Plan{Renew: []cluster.Lease{lease(0, "a", 1, 10*time.Second)}}, a.Tick(t0.Add(every), leases, []string{"a"}))
	out, err := cluster.Step(ctx, a, tb, tb, t0.Add(every))
	require.NoError(t, err)
	require.Equal(t, []cluster.Lease{lease(0, "a", 1, every+10*time.Second)}, out.Renewed)
	require.Equal(t, out.Renewed, a.Held())
}

func TestLostWhenViewShowsAnotherEpochOrExpiry(t *testing.T) {
	ctx := context.Background()
	tb := cluster.NewMemLeases()
	a := newOwner(t, "a", 2)
	_, err := cluster.Step(ctx, a, tb, tb, t0)
	require.NoError(t, err)
	require.Equal(t, []int{0, 1}, partitions(a.Held()))

	// The view shows partition 0 under b's epoch 2, partition 1 still a's but expired.
	at := t0.Add(10 * time.Second)
	view := []cluster.Lease{lease(0, "b", 2, 20*time.Second), lease(1, "a", 1, 10*time.Second)}
	_, owns := a.Owns(1, at)
	require.False(t, owns, "Owns checks expiry without a tick")
	plan := a.Tick(at, view, []string{"a", "b"})
	require.Equal(t, []int{0, 1}, partitions(plan.Lost))
	require.Equal(t, []int{1}, plan.Acquire, "its own expired partition is free again")
	require.Empty(t, a.Held(), "lost at once, before Apply")
}

func TestRenewRefusedIsLost(t *testing.T) {
	ctx := context.Background()
	tb := cluster.NewMemLeases()
	a := newOwner(t, "a", 1)
	_, err := cluster.Step(ctx, a, tb, tb, t0)
	require.NoError(t, err)
	at := t0.Add(5 * time.Second)
	plan := a.Tick(at, []cluster.Lease{lease(0, "a", 1, 10*time.Second)}, nil)
	require.Len(t, plan.Renew, 1)
	// Between the read and the renewal, another incarnation of a took the partition back.
	_, err = tb.Acquire(ctx, 0, "a", at, 10*time.Second)
	require.NoError(t, err)
	out, err := cluster.Apply(ctx, tb, plan)
	require.NoError(t, err)
	require.Equal(t, []int{0}, partitions(out.Lost))
	a.Advance(out)
	require.Empty(t, a.Held())
}

// Beyond its share, a node takes a free partition only once every node had a tick to take it.
func TestTakesBeyondShareOnlyAfterRenewEvery(t *testing.T) {
	a := newOwner(t, "a", 4)
	every := a.Config().RenewEvery
	// b holds 2, a holds 2 (its fair share of 4 over a, b and c), partition 3 is free; c is live
	// by its beat but does not take it.
	view := []cluster.Lease{lease(0, "b", 1, 10*time.Second), lease(1, "a", 1, 10*time.Second), lease(2, "a", 1, 10*time.Second)}
	a.Advance(cluster.Outcome{Acquired: view[1:]})
	live := []string{"a", "b", "c"}
	requirePlan(t, cluster.Plan{}, a.Tick(t0, view, live))
	requirePlan(t, cluster.Plan{Renew: a.Held()}, a.Tick(t0.Add(every), view, live))
	requirePlan(t, cluster.Plan{Renew: a.Held(), Acquire: []int{3}}, a.Tick(t0.Add(every+time.Nanosecond), view, live))
}

func TestReleasesSurplusToAJoiningNode(t *testing.T) {
	ctx := context.Background()
	tb := cluster.NewMemLeases()
	a := newOwner(t, "a", 4)
	_, err := cluster.Step(ctx, a, tb, tb, t0)
	require.NoError(t, err)
	require.Len(t, a.Held(), 4)

	b := newOwner(t, "b", 4)
	at := t0.Add(a.Config().RenewEvery) // a's leases are due for renewal too
	out, err := cluster.Step(ctx, b, tb, tb, at)
	require.NoError(t, err)
	require.Empty(t, out.Acquired, "nothing free yet")
	out, err = cluster.Step(ctx, a, tb, tb, at)
	require.NoError(t, err)
	require.Equal(t, []int{2, 3}, partitions(out.Released), "a gives up its highest partitions")
	require.Equal(t, []int{0, 1}, partitions(out.Renewed), "a renews what it keeps, only")
	require.Empty(t, out.Lost)
	require.Equal(t, []int{0, 1}, partitions(a.Held()))
	out, err = cluster.Step(ctx, b, tb, tb, at)
	require.NoError(t, err)
	require.Equal(t, []int{2, 3}, partitions(out.Acquired))
	for _, l := range out.Acquired {
		require.Equal(t, uint64(2), l.Epoch, "a new owner, a new epoch")
	}
}

func TestNoReleaseWhilePartitionsAreFree(t *testing.T) {
	a := newOwner(t, "a", 4)
	view := []cluster.Lease{lease(0, "a", 1, 10*time.Second), lease(1, "a", 1, 10*time.Second), lease(2, "a", 1, 10*time.Second)}
	a.Advance(cluster.Outcome{Acquired: view})
	plan := a.Tick(t0, view, []string{"a", "b"})
	require.Empty(t, plan.Release, "b has partition 3 to take first")
}

func TestRestartedNodeTakesItsLeasesBackUnderANewEpoch(t *testing.T) {
	ctx := context.Background()
	tb := cluster.NewMemLeases()
	old := newOwner(t, "a", 2)
	_, err := cluster.Step(ctx, old, tb, tb, t0)
	require.NoError(t, err)
	b := newOwner(t, "b", 2)
	_, err = cluster.Step(ctx, b, tb, tb, t0)
	require.NoError(t, err)

	restarted := newOwner(t, "a", 2)
	at := t0.Add(time.Second)
	out, err := cluster.Step(ctx, restarted, tb, tb, at)
	require.NoError(t, err)
	require.Equal(t, []int{0, 1}, partitions(out.Acquired))
	for _, l := range out.Acquired {
		require.Equal(t, uint64(2), l.Epoch)
		require.ErrorIs(t, tb.Fence(ctx, l.Partition, 1), cluster.ErrFenced, "the former incarnation is fenced")
	}
}

func TestApplySkipsLostRacesAndReportsOtherErrors(t *testing.T) {
	ctx := context.Background()
	tb := cluster.NewMemLeases()
	_, err := tb.Acquire(ctx, 0, "b", t0, 10*time.Second)
	require.NoError(t, err)
	plan := cluster.Plan{Node: "a", Now: t0, TTL: 10 * time.Second, Acquire: []int{0, 1}}
	out, err := cluster.Apply(ctx, tb, plan)
	require.NoError(t, err, "losing a race for a partition is no error")
	require.Equal(t, []int{1}, partitions(out.Acquired))

	plan.TTL = 0
	plan.Acquire = []int{2}
	out, err = cluster.Apply(ctx, tb, plan)
	require.Error(t, err)
	require.Empty(t, out.Acquired)
}
