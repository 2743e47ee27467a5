// Package clustertest holds the conformance suites of the cluster package's ports: the lease table
// (RunLeaseTable, RunMembers), passed by cluster.MemLeases (the reference) and the database-backed
// ones, and the bus (RunBus), passed by cluster.MemBus and natsbus.
package clustertest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay/cluster"
)

// t0 is the suites' start time; the tables are told every time they use.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// ttl is the lease and beat duration the suites use.
const ttl = 10 * time.Second

// RunLeaseTable runs the LeaseTable conformance suite. open returns an empty table, a fresh one
// per subtest (cleaned up through t).
func RunLeaseTable(t *testing.T, open func(t *testing.T) cluster.LeaseTable) {
	ctx := context.Background()
	leaseAt := func(t *testing.T, tb cluster.LeaseTable, p int) cluster.Lease {
		t.Helper()
		ls, err := tb.Leases(ctx)
		require.NoError(t, err)
		for _, l := range ls {
			if l.Partition == p {
				return l
			}
		}
		require.Failf(t, "no lease row", "partition %d", p)
		return cluster.Lease{}
	}
	requireLease := func(t *testing.T, want, got cluster.Lease) {
		t.Helper()
		require.Equal(t, want.Partition, got.Partition, "partition")
		require.Equal(t, want.Node, got.Node, "node")
		require.Equal(t, want.Epoch, got.Epoch, "epoch")
		require.True(t, want.Expires.Equal(got.Expires), "expires: want %v, got %v", want.Expires, got.Expires)
	}

	t.Run("EmptyTableHasNoRows", func(t *testing.T) {
		ls, err := open(t).Leases(ctx)
		require.NoError(t, err)
		require.Empty(t, ls)
	})

	t.Run("AcquireUnownedStartsAtEpochOne", func(t *testing.T) {
		tb := open(t)
		l, err := tb.Acquire(ctx, 3, "a", t0, ttl)
		require.NoError(t, err)
		want := cluster.Lease{Partition: 3, Node: "a", Epoch: 1, Expires: t0.Add(ttl)}
		requireLease(t, want, l)
		requireLease(t, want, leaseAt(t, tb, 3))
	})

	t.Run("LeasesSortedByPartition", func(t *testing.T) {
		tb := open(t)
		for _, p := range []int{7, 0, 63, 2} {
			_, err := tb.Acquire(ctx, p, "a", t0, ttl)
			require.NoError(t, err)
		}
		ls, err := tb.Leases(ctx)
		require.NoError(t, err)
		var ps []int
		for _, l := range ls {
			ps = append(ps, l.Partition)
		}
		require.Equal(t, []int{0, 2, 7, 63}, ps)
	})

	t.Run("AcquireHeldByAnotherFails", func(t *testing.T) {
		tb := open(t)
		a, err := tb.Acquire(ctx, 1, "a", t0, ttl)
		require.NoError(t, err)
		_, err = tb.Acquire(ctx, 1, "b", t0.Add(ttl-time.Nanosecond), ttl)
		require.ErrorIs(t, err, cluster.ErrLeaseHeld)
		requireLease(t, a, leaseAt(t, tb, 1))
	})

	t.Run("AcquireAtExpiryTakesOverUnderNewEpoch", func(t *testing.T) {
		tb := open(t)
		_, err := tb.Acquire(ctx, 1, "a", t0, ttl)
		require.NoError(t, err)
		at := t0.Add(ttl) // Expires is the first instant the lease no longer holds
		b, err := tb.Acquire(ctx, 1, "b", at, ttl)
		require.NoError(t, err)
		requireLease(t, cluster.Lease{Partition: 1, Node: "b", Epoch: 2, Expires: at.Add(ttl)}, b)
	})

	t.Run("AcquireOwnLiveLeaseBumpsEpochAndFencesTheOldOne", func(t *testing.T) {
		tb := open(t)
		old, err := tb.Acquire(ctx, 1, "a", t0, ttl)
		require.NoError(t, err)
		l, err := tb.Acquire(ctx, 1, "a", t0.Add(time.Second), ttl)
		require.NoError(t, err)
		requireLease(t, cluster.Lease{Partition: 1, Node: "a", Epoch: 2, Expires: t0.Add(time.Second + ttl)}, l)
		_, err = tb.Renew(ctx, old, t0.Add(2*time.Second), ttl)
		require.ErrorIs(t, err, cluster.ErrLeaseLost)
		require.ErrorIs(t, tb.Fence(ctx, 1, old.Epoch), cluster.ErrFenced)
	})

	t.Run("RenewExtendsAndKeepsEpoch", func(t *testing.T) {
		tb := open(t)
		l, err := tb.Acquire(ctx, 1, "a", t0, ttl)
		require.NoError(t, err)
		at := t0.Add(ttl - time.Nanosecond)
		r, err := tb.Renew(ctx, l, at, ttl)
		require.NoError(t, err)
		requireLease(t, cluster.Lease{Partition: 1, Node: "a", Epoch: 1, Expires: at.Add(ttl)}, r)
		requireLease(t, r, leaseAt(t, tb, 1))
		// The old value of the same lease renews too: the epoch is what counts.
		_, err = tb.Renew(ctx, l, at.Add(time.Second), ttl)
		require.NoError(t, err)
	})

	t.Run("RenewAfterExpiryIsLostEvenIfNobodyTookIt", func(t *testing.T) {
		tb := open(t)
		l, err := tb.Acquire(ctx, 1, "a", t0, ttl)
		require.NoError(t, err)
		_, err = tb.Renew(ctx, l, t0.Add(ttl), ttl)
		require.ErrorIs(t, err, cluster.ErrLeaseLost)
		requireLease(t, l, leaseAt(t, tb, 1))
	})

	t.Run("RenewOfSupersededOrForeignLeaseIsLost", func(t *testing.T) {
		tb := open(t)
		a, err := tb.Acquire(ctx, 1, "a", t0, ttl)
		require.NoError(t, err)
		at := t0.Add(ttl)
		b, err := tb.Acquire(ctx, 1, "b", at, ttl)
		require.NoError(t, err)
		_, err = tb.Renew(ctx, a, at, ttl)
		require.ErrorIs(t, err, cluster.ErrLeaseLost, "superseded epoch")
		forged := b
		forged.Node = "a"
		_, err = tb.Renew(ctx, forged, at, ttl)
		require.ErrorIs(t, err, cluster.ErrLeaseLost, "current epoch, other node")
		_, err = tb.Renew(ctx, cluster.Lease{Partition: 9, Node: "a", Epoch: 1}, at, ttl)
		require.ErrorIs(t, err, cluster.ErrLeaseLost, "partition never acquired")
		requireLease(t, b, leaseAt(t, tb, 1))
	})

	t.Run("ReleaseFreesAndKeepsEpoch", func(t *testing.T) {
		tb := open(t)
		l, err := tb.Acquire(ctx, 1, "a", t0, ttl)
		require.NoError(t, err)
		require.NoError(t, tb.Release(ctx, l))
		got := leaseAt(t, tb, 1)
		require.Empty(t, got.Node)
		require.Equal(t, uint64(1), got.Epoch)
		require.False(t, got.Live(t0))
		_, err = tb.Renew(ctx, l, t0, ttl)
		require.ErrorIs(t, err, cluster.ErrLeaseLost, "a released lease does not renew")
		b, err := tb.Acquire(ctx, 1, "b", t0, ttl)
		require.NoError(t, err, "a released partition is free at once")
		require.Equal(t, uint64(2), b.Epoch)
	})

	t.Run("ReleaseOfStaleLeaseChangesNothing", func(t *testing.T) {
		tb := open(t)
		a, err := tb.Acquire(ctx, 1, "a", t0, ttl)
		require.NoError(t, err)
		b, err := tb.Acquire(ctx, 1, "b", t0.Add(ttl), ttl)
		require.NoError(t, err)
		require.ErrorIs(t, tb.Release(ctx, a), cluster.ErrLeaseLost)
		require.ErrorIs(t, tb.Release(ctx, cluster.Lease{Partition: 5, Node: "a", Epoch: 1}), cluster.ErrLeaseLost)
		requireLease(t, b, leaseAt(t, tb, 1))
	})

	t.Run("FenceAcceptsOnlyTheCurrentEpoch", func(t *testing.T) {
		tb := open(t)
		require.ErrorIs(t, tb.Fence(ctx, 1, 0), cluster.ErrFenced, "never acquired, epoch 0")
		require.ErrorIs(t, tb.Fence(ctx, 1, 1), cluster.ErrFenced, "never acquired, epoch 1")
		_, err := tb.Acquire(ctx, 1, "a", t0, ttl)
		require.NoError(t, err)
		require.NoError(t, tb.Fence(ctx, 1, 1))
		require.NoError(t, tb.Fence(ctx, 1, 1), "fencing changes nothing")
		require.ErrorIs(t, tb.Fence(ctx, 1, 2), cluster.ErrFenced, "an epoch not granted yet")
		_, err = tb.Acquire(ctx, 1, "b", t0.Add(ttl), ttl)
		require.NoError(t, err)
		err = tb.Fence(ctx, 1, 1)
		require.ErrorIs(t, err, cluster.ErrFenced)
		require.ErrorContains(t, err, "partition 1")
		require.ErrorContains(t, err, "epoch 1")
		require.ErrorContains(t, err, "epoch 2")
		require.NoError(t, tb.Fence(ctx, 1, 2))
		require.ErrorIs(t, tb.Fence(ctx, 2, 2), cluster.ErrFenced, "epochs are per partition")
	})

	t.Run("FenceIgnoresExpiryUntilSomeoneAcquires", func(t *testing.T) {
		tb := open(t)
		_, err := tb.Acquire(ctx, 1, "a", t0, ttl)
		require.NoError(t, err)
		// Fence takes no time: after the lease lapsed, nobody else wrote under a newer epoch.
		require.NoError(t, tb.Fence(ctx, 1, 1))
	})

	t.Run("EpochsOnlyGrow", func(t *testing.T) {
		tb := open(t)
		now := t0
		var last uint64
		for i, node := range []string{"a", "a", "b", "c", "c", "a"} {
			l, err := tb.Acquire(ctx, 4, node, now, ttl)
			require.NoError(t, err, "acquisition %d", i)
			require.Equal(t, last+1, l.Epoch, "acquisition %d", i)
			last = l.Epoch
			if i%2 == 0 {
				require.NoError(t, tb.Release(ctx, l))
			} else {
				now = now.Add(ttl)
			}
		}
	})

	t.Run("BadArgumentsAreErrors", func(t *testing.T) {
		tb := open(t)
		_, err := tb.Acquire(ctx, -1, "a", t0, ttl)
		require.Error(t, err)
		_, err = tb.Acquire(ctx, 1, "", t0, ttl)
		require.Error(t, err)
		_, err = tb.Acquire(ctx, 1, "a", t0, 0)
		require.Error(t, err)
		l, err := tb.Acquire(ctx, 1, "a", t0, ttl)
		require.NoError(t, err)
		_, err = tb.Renew(ctx, l, t0, -time.Second)
		require.Error(t, err)
		ls, err := tb.Leases(ctx)
		require.NoError(t, err)
		require.Len(t, ls, 1)
	})
}

// RunMembers runs the Members conformance suite. open returns an empty table.
func RunMembers(t *testing.T, open func(t *testing.T) cluster.Members) {
	ctx := context.Background()
	live := func(t *testing.T, m cluster.Members, at time.Time) []string {
		t.Helper()
		ns, err := m.Live(ctx, at)
		require.NoError(t, err)
		return ns
	}

	t.Run("NobodyLiveAtFirst", func(t *testing.T) {
		require.Empty(t, live(t, open(t), t0))
	})

	t.Run("LiveUntilTTLAfterLastBeatSorted", func(t *testing.T) {
		m := open(t)
		require.NoError(t, m.Beat(ctx, "c", t0, ttl))
		require.NoError(t, m.Beat(ctx, "a", t0, ttl))
		require.NoError(t, m.Beat(ctx, "b", t0.Add(time.Second), ttl))
		require.Equal(t, []string{"a", "b", "c"}, live(t, m, t0.Add(ttl-time.Nanosecond)))
		require.Equal(t, []string{"b"}, live(t, m, t0.Add(ttl)))
		require.NoError(t, m.Beat(ctx, "a", t0.Add(ttl), ttl))
		require.Equal(t, []string{"a", "b"}, live(t, m, t0.Add(ttl)))
		require.Empty(t, live(t, m, t0.Add(3*ttl)))
	})

	t.Run("BadArgumentsAreErrors", func(t *testing.T) {
		m := open(t)
		require.Error(t, m.Beat(ctx, "", t0, ttl))
		require.Error(t, m.Beat(ctx, "a", t0, 0))
		require.Empty(t, live(t, m, t0))
	})
}
