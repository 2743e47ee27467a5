package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/storetest"
)

// t0 and ttl are the lease tests' start time and lease duration.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const ttl = 10 * time.Second

func TestApplyFencedOwnersBatchLands(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, pg.Database(t))
	l, err := s.LeaseTable().Acquire(ctx, 3, "a", t0, ttl)
	require.NoError(t, err)
	require.NoError(t, s.ApplyFenced(ctx, 3, l.Epoch, storetest.Sample()))
	mem := relay.NewMemoryStore()
	require.NoError(t, mem.Apply(ctx, storetest.Sample()))
	storetest.RequireEqualStates(t, storetest.Load(t, mem), storetest.Load(t, s))
	require.NoError(t, s.ApplyFenced(ctx, 3, l.Epoch, nil), "no records: the check alone")
}

func TestApplyFencedRefusesAFormerOwnerAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, pg.Database(t))
	lt := s.LeaseTable()
	a, err := lt.Acquire(ctx, 3, "a", t0, ttl)
	require.NoError(t, err)
	require.NoError(t, s.ApplyFenced(ctx, 3, a.Epoch, []relay.Record{relay.PutCounter{Name: "messages", Value: 1}}))
	before := storetest.Load(t, s)

	_, err = lt.Acquire(ctx, 3, "b", t0.Add(ttl), ttl)
	require.NoError(t, err)
	err = s.ApplyFenced(ctx, 3, a.Epoch, storetest.Sample())
	require.ErrorIs(t, err, cluster.ErrFenced)
	require.ErrorContains(t, err, "partition 3: epoch 1 superseded by epoch 2")
	storetest.RequireEqualStates(t, before, storetest.Load(t, s))

	// Epochs never granted: on a partition never acquired, and one ahead of the current.
	require.ErrorIs(t, s.ApplyFenced(ctx, 9, 1, storetest.Sample()), cluster.ErrFenced)
	require.ErrorIs(t, s.ApplyFenced(ctx, 3, 3, storetest.Sample()), cluster.ErrFenced)
	require.ErrorIs(t, s.ApplyFenced(ctx, 3, 0, nil), cluster.ErrFenced)
	storetest.RequireEqualStates(t, before, storetest.Load(t, s))
}

// Owner a's writers apply fenced batches in a loop while a renews its lease and then node b
// acquires the partition: every batch is applied whole, or refused and absent; every batch
// applied was committed before the acquisition was (it is in a Load made once Acquire returned);
// once refused, a writer stays so. The renewal and the acquisition complete while the batches
// keep coming: a writer that reaches maxTrials unrefused fails the test (the ordering of the
// waits is TestApplyFencedHoldsOffAnAcquireUntilItCommits's).
func TestApplyFencedRacesAnAcquire(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, pg.Database(t))
	lt := s.LeaseTable()
	const (
		rounds    = 8
		writers   = 3
		refusals  = 3    // batches each writer tries after its first refusal
		maxTrials = 5000 // a bound for the loop, should refusals never come
	)
	counters := func(st *relay.State, p int) map[string]uint64 {
		out := map[string]uint64{}
		for k, v := range st.Counters {
			if strings.HasPrefix(k, fmt.Sprintf("p%d/", p)) {
				out[k] = v
			}
		}
		return out
	}
	batch := func(p, w, i int) []relay.Record {
		var rs []relay.Record
		for _, part := range []string{"x", "y", "z"} {
			rs = append(rs, relay.PutCounter{Name: fmt.Sprintf("p%d/w%d/b%d/%s", p, w, i, part), Value: uint64(i + 1)})
		}
		return rs
	}
	// Connect the pool's connections now: a connection made during the race takes long enough
	// for the writers to reach maxTrials.
	var conns []*pgxpool.Conn
	for range writers + 1 {
		c, err := s.pool.Acquire(ctx)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Release()
	}
	for p := range rounds {
		a, err := lt.Acquire(ctx, p, "a", t0, ttl)
		require.NoError(t, err)
		accepted := make([][]bool, writers) // per writer, per batch: applied or refused
		started, ready := make(chan struct{}, writers), make(chan struct{})
		errs := make(chan error, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				refused := 0
				for i := 0; refused < refusals && i < maxTrials; i++ {
					err := s.ApplyFenced(ctx, p, a.Epoch, batch(p, w, i))
					if i == 0 { // all writers start the race together
						started <- struct{}{}
						<-ready
					}
					switch {
					case err == nil:
						if refused > 0 {
							errs <- fmt.Errorf("writer %d: batch %d applied after a refusal", w, i)
							return
						}
					case errors.Is(err, cluster.ErrFenced):
						refused++
					default:
						errs <- fmt.Errorf("writer %d, batch %d: %w", w, i, err)
						return
					}
					accepted[w] = append(accepted[w], err == nil)
				}
			})
		}
		for range writers {
			<-started
		}
		close(ready)
		// The owner renews while its batches run (they do not hold renewals off), then b takes over.
		r, err := lt.Renew(ctx, a, t0.Add(time.Second), ttl)
		require.NoError(t, err)
		_, err = lt.Acquire(ctx, p, "b", r.Expires, ttl)
		require.NoError(t, err)
		atAcquire := counters(storetest.Load(t, s), p)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}

		want := map[string]uint64{}
		for w, results := range accepted {
			require.Contains(t, results, false, "writer %d was never refused", w)
			for i, ok := range results {
				if ok {
					for _, r := range batch(p, w, i) {
						want[r.(relay.PutCounter).Name] = r.(relay.PutCounter).Value
					}
				}
			}
		}
		final := counters(storetest.Load(t, s), p)
		if diff := cmp.Diff(want, final); diff != "" {
			t.Fatalf("round %d: the batches applied are not the batches accepted (-accepted +stored):\n%s", p, diff)
		}
		if diff := cmp.Diff(atAcquire, final); diff != "" {
			t.Fatalf("round %d: batches landed after the partition was acquired (-at acquire +final):\n%s", p, diff)
		}
	}
}

// A batch that passed its fence check holds the partition's lease until it commits: an
// acquisition of the partition waits for it, and a batch that comes after the acquisition waits
// behind it (and is then refused) rather than getting through ahead of it, while the owner's
// renewal does not wait at all. Another session holds a row the first batch writes, so that the
// batch stops between its check and its write; which of the others wait is read from
// pg_stat_activity.
func TestApplyFencedHoldsOffAnAcquireUntilItCommits(t *testing.T) {
	ctx := context.Background()
	dsn := pg.Database(t)
	s := openStore(t, dsn)
	lt := s.LeaseTable()
	a, err := lt.Acquire(ctx, 1, "a", t0, ttl)
	require.NoError(t, err)
	counter := func(name string, v uint64) []relay.Record {
		return []relay.Record{relay.PutCounter{Name: name, Value: v}}
	}
	require.NoError(t, s.ApplyFenced(ctx, 1, a.Epoch, counter("k", 1)))

	blocker, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = blocker.Close(ctx) })
	tx, err := blocker.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT 1 FROM counters WHERE name = $1 FOR UPDATE`, []byte("k"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })

	// waitUntilBlocked returns once n of the database's sessions wait for a lock, and fails the
	// test if done yields first: what should wait went through.
	waitUntilBlocked := func(n int, done <-chan error, what string) {
		t.Helper()
		for {
			var waiting int
			require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting))
			if waiting >= n {
				return
			}
			select {
			case err := <-done:
				require.FailNow(t, what, "it returned %v", err)
			default:
			}
		}
	}
	run := func(f func() error) <-chan error {
		done := make(chan error, 1)
		go func() { done <- f() }()
		return done
	}

	first := run(func() error { return s.ApplyFenced(ctx, 1, a.Epoch, counter("k", 2)) })
	waitUntilBlocked(1, first, "the batch did not wait for the row another session holds")

	renewed := run(func() error {
		var err error
		a, err = lt.Renew(ctx, a, t0.Add(time.Second), ttl)
		return err
	})
	for done := false; !done; { // the renewal must not wait for the batch
		select {
		case err := <-renewed:
			require.NoError(t, err)
			done = true
		default:
			var waiting int
			require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting))
			require.Less(t, waiting, 2, "the owner's renewal waits for the owner's batch")
		}
	}

	acquired := run(func() error {
		_, err := lt.Acquire(ctx, 1, "b", a.Expires, ttl)
		return err
	})
	waitUntilBlocked(2, acquired, "the partition changed hands while a batch accepted under the old epoch was uncommitted")

	later := run(func() error { return s.ApplyFenced(ctx, 1, a.Epoch, counter("later", 1)) })
	waitUntilBlocked(3, later, "a batch that came after the acquisition got through ahead of it")

	require.NoError(t, tx.Rollback(ctx))
	require.NoError(t, <-first)
	require.NoError(t, <-acquired)
	require.ErrorIs(t, <-later, cluster.ErrFenced)
	st := storetest.Load(t, s)
	require.Equal(t, uint64(2), st.Counters["k"])
	require.NotContains(t, st.Counters, "later")
}
