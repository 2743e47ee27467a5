package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/internal/storecol"
)

// LeaseTable is the cluster's partition lease table and member list (cluster.LeaseTable and
// cluster.Members) in the store's database, on the store's connections: the tables
// partition_leases and cluster_members. Its semantics are cluster.MemLeases's, which the
// conformance suites hold it to. Each method is one transaction; those that change a lease lock
// its row and decide as MemLeases does, so that concurrent calls from several nodes serialize on
// the row. Store.ApplyFenced makes the fence check and the writes one transaction.
//
// Times are the callers' (the now each call is given), compared to the nanosecond; the database's
// clock is never read. Nodes' clocks are assumed to agree to well within the lease TTL: a node
// whose clock runs ahead may take a lease that its holder still believes live. That costs
// availability, never safety: every write is fenced by the epoch, which only an acquisition
// changes, so a former owner's writes are refused whatever the clocks say.
type LeaseTable struct {
	pool *pgxpool.Pool
}

var (
	_ cluster.LeaseTable = (*LeaseTable)(nil)
	_ cluster.Members    = (*LeaseTable)(nil)
)

// The locks on a partition's lease. The row locks make a fenced write safe: an acquisition
// changes the epoch under FOR UPDATE, which conflicts with the FOR KEY SHARE that
// Store.ApplyFenced holds while it checks the epoch and writes; renewals and releases, which
// leave the epoch alone, lock the row FOR NO KEY UPDATE, which does not conflict with it. The
// transaction-level advisory lock on (leaseLockClass, partition), shared by fenced writes and
// exclusive for an acquisition, makes the wait fair: PostgreSQL grants a row's share locks to
// newcomers while a FOR UPDATE waits, so an owner's overlapping batches could hold an
// acquisition off for as long as they keep coming; advisory lock requests queue behind a waiting
// exclusive one.
const (
	leaseLockClass  = 0x7075_6c65 // "pule": the advisory locks' first key; the partition is the second
	lockLeaseShared = `SELECT pg_advisory_xact_lock_shared($1, $2)`
	lockLeaseOwner  = `SELECT pg_advisory_xact_lock($1, $2)`
	lockEpoch       = `SELECT epoch FROM partition_leases WHERE partition = $1 FOR KEY SHARE`
)

// LeaseTable returns the store's lease table. It shares the store's connections and is closed
// with it.
func (s *Store) LeaseTable() *LeaseTable { return &LeaseTable{pool: s.pool} }

// The times a lease column's UnixNano can hold.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// nanos is t as the UnixNano a lease column holds, refusing times out of its range (the zero
// time among them).
func nanos(t time.Time) (int64, error) {
	if t.IsZero() || t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("time %v is out of the range the lease table keeps (%v to %v)", t, minTime.UTC(), maxTime.UTC())
	}
	return t.UnixNano(), nil
}

// checkLeaseArgs rejects what no lease table accepts: a negative partition, an empty node, a
// ttl that is not positive.
func checkLeaseArgs(partition int, node string, ttl time.Duration) error {
	switch {
	case partition < 0:
		return fmt.Errorf("partition %d is negative", partition)
	case node == "":
		return fmt.Errorf("partition %d: empty node ID", partition)
	case ttl <= 0:
		return fmt.Errorf("partition %d: lease ttl %v is not positive", partition, ttl)
	}
	return nil
}

// Leases implements cluster.LeaseTable.
func (t *LeaseTable) Leases(ctx context.Context) ([]cluster.Lease, error) {
	rows, err := t.pool.Query(ctx, `SELECT partition, node, epoch, expires_ns FROM partition_leases ORDER BY partition`)
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (cluster.Lease, error) {
		var (
			p       int
			node    []byte
			epoch   int64
			expires *int64
		)
		if err := row.Scan(&p, &node, &epoch, &expires); err != nil {
			return cluster.Lease{}, err
		}
		return cluster.Lease{Partition: p, Node: string(node), Epoch: uint64(epoch), Expires: storecol.Time(expires)}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	return out, nil
}

// lockLease reads the partition's lease row in tx, locking it until tx ends: FOR UPDATE to change
// its epoch (a fenced write in flight finishes first, and none starts until tx ends), FOR NO KEY
// UPDATE otherwise. ok is false when the partition has no row.
func lockLease(ctx context.Context, tx pgx.Tx, partition int, newEpoch bool) (l cluster.Lease, ok bool, err error) {
	mode := "NO KEY UPDATE"
	if newEpoch {
		mode = "UPDATE"
	}
	var (
		node    []byte
		epoch   int64
		expires *int64
	)
	err = tx.QueryRow(ctx, `SELECT node, epoch, expires_ns FROM partition_leases WHERE partition = $1 FOR `+mode,
		partition).Scan(&node, &epoch, &expires)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return cluster.Lease{Partition: partition}, false, nil
	case err != nil:
		return cluster.Lease{}, false, fmt.Errorf("lock the lease row: %w", err)
	}
	return cluster.Lease{Partition: partition, Node: string(node), Epoch: uint64(epoch), Expires: storecol.Time(expires)}, true, nil
}

// setLease writes l as its partition's lease row, which exists; a lease without a Node (a
// released one) has no expiry either.
func setLease(ctx context.Context, tx pgx.Tx, l cluster.Lease) error {
	var node []byte
	var expires any
	if l.Node != "" {
		node = b(l.Node)
		e, err := nanos(l.Expires)
		if err != nil {
			return err
		}
		expires = e
	}
	if _, err := tx.Exec(ctx, `UPDATE partition_leases SET node = $2, epoch = $3, expires_ns = $4 WHERE partition = $1`,
		l.Partition, node, u64(l.Epoch), expires); err != nil {
		return fmt.Errorf("write the lease row: %w", err)
	}
	return nil
}

// Acquire implements cluster.LeaseTable.
func (t *LeaseTable) Acquire(ctx context.Context, partition int, node string, now time.Time, ttl time.Duration) (cluster.Lease, error) {
	if err := checkLeaseArgs(partition, node, ttl); err != nil {
		return cluster.Lease{}, fmt.Errorf("acquire: %w", err)
	}
	var l cluster.Lease
	err := pgx.BeginFunc(ctx, t.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockLeaseOwner, leaseLockClass, partition); err != nil {
			return fmt.Errorf("lock the lease: %w", err)
		}
		// A partition never acquired gets its row at epoch 0 first, so that there is a row to lock.
		if _, err := tx.Exec(ctx, `INSERT INTO partition_leases (partition, epoch) VALUES ($1, 0) ON CONFLICT DO NOTHING`,
			partition); err != nil {
			return fmt.Errorf("create the lease row: %w", err)
		}
		cur, _, err := lockLease(ctx, tx, partition, true)
		if err != nil {
			return err
		}
		if cur.Live(now) && cur.Node != node {
			return fmt.Errorf("held by %q (epoch %d) until %v: %w", cur.Node, cur.Epoch, cur.Expires, cluster.ErrLeaseHeld)
		}
		l = cluster.Lease{Partition: partition, Node: node, Epoch: cur.Epoch + 1, Expires: now.Add(ttl)}
		return setLease(ctx, tx, l)
	})
	if err != nil {
		return cluster.Lease{}, fmt.Errorf("acquire partition %d for %q: %w", partition, node, err)
	}
	return l, nil
}

// Renew implements cluster.LeaseTable.
func (t *LeaseTable) Renew(ctx context.Context, l cluster.Lease, now time.Time, ttl time.Duration) (cluster.Lease, error) {
	if err := checkLeaseArgs(l.Partition, l.Node, ttl); err != nil {
		return cluster.Lease{}, fmt.Errorf("renew: %w", err)
	}
	var renewed cluster.Lease
	err := pgx.BeginFunc(ctx, t.pool, func(tx pgx.Tx) error {
		cur, ok, err := lockLease(ctx, tx, l.Partition, false)
		if err != nil {
			return err
		}
		if !ok || cur.Node != l.Node || cur.Epoch != l.Epoch || !cur.Live(now) {
			return fmt.Errorf("now node %q, epoch %d, expires %v: %w", cur.Node, cur.Epoch, cur.Expires, cluster.ErrLeaseLost)
		}
		renewed = cur
		renewed.Expires = now.Add(ttl)
		return setLease(ctx, tx, renewed)
	})
	if err != nil {
		return cluster.Lease{}, fmt.Errorf("renew partition %d for %q at epoch %d: %w", l.Partition, l.Node, l.Epoch, err)
	}
	return renewed, nil
}

// Release implements cluster.LeaseTable. A lease that expired but is still the partition's latest
// (nobody took it) is released too: the caller held it last.
func (t *LeaseTable) Release(ctx context.Context, l cluster.Lease) error {
	err := pgx.BeginFunc(ctx, t.pool, func(tx pgx.Tx) error {
		cur, ok, err := lockLease(ctx, tx, l.Partition, false)
		if err != nil {
			return err
		}
		if !ok || l.Node == "" || cur.Node != l.Node || cur.Epoch != l.Epoch {
			return fmt.Errorf("now node %q, epoch %d: %w", cur.Node, cur.Epoch, cluster.ErrLeaseLost)
		}
		return setLease(ctx, tx, cluster.Lease{Partition: l.Partition, Epoch: cur.Epoch})
	})
	if err != nil {
		return fmt.Errorf("release partition %d for %q at epoch %d: %w", l.Partition, l.Node, l.Epoch, err)
	}
	return nil
}

// Fence implements cluster.LeaseTable. It only reads: the answer holds for a write only when the
// write is made in the same transaction, under a lock on the row, as Store.ApplyFenced does.
func (t *LeaseTable) Fence(ctx context.Context, partition int, epoch uint64) error {
	var cur int64
	err := t.pool.QueryRow(ctx, `SELECT epoch FROM partition_leases WHERE partition = $1`, partition).Scan(&cur)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("fence partition %d at epoch %d: read the epoch: %w", partition, epoch, err)
	}
	return fenced(partition, epoch, uint64(cur))
}

// fenced is the fence check: nil when epoch is current, the partition's current epoch, else an
// error wrapping cluster.ErrFenced that names the partition and both epochs (as MemLeases's).
func fenced(partition int, epoch, current uint64) error {
	if current > epoch {
		return fmt.Errorf("partition %d: epoch %d superseded by epoch %d: %w", partition, epoch, current, cluster.ErrFenced)
	}
	if epoch == 0 || epoch > current {
		return fmt.Errorf("partition %d: epoch %d never granted (current epoch %d): %w", partition, epoch, current, cluster.ErrFenced)
	}
	return nil
}

// Beat implements cluster.Members.
func (t *LeaseTable) Beat(ctx context.Context, node string, now time.Time, ttl time.Duration) error {
	if node == "" || ttl <= 0 {
		return fmt.Errorf("beat for %q with ttl %v: needs a node ID and a positive ttl", node, ttl)
	}
	expires, err := nanos(now.Add(ttl))
	if err != nil {
		return fmt.Errorf("beat for %q: %w", node, err)
	}
	if _, err := t.pool.Exec(ctx, `INSERT INTO cluster_members (node, expires_ns) VALUES ($1, $2)
		ON CONFLICT (node) DO UPDATE SET expires_ns = excluded.expires_ns`, b(node), expires); err != nil {
		return fmt.Errorf("beat for %q: %w", node, err)
	}
	return nil
}

// Live implements cluster.Members.
func (t *LeaseTable) Live(ctx context.Context, now time.Time) ([]string, error) {
	at, err := nanos(now)
	if err != nil {
		return nil, fmt.Errorf("live nodes: %w", err)
	}
	rows, err := t.pool.Query(ctx, `SELECT node FROM cluster_members WHERE expires_ns > $1 ORDER BY node`, at)
	if err != nil {
		return nil, fmt.Errorf("live nodes: %w", err)
	}
	nodes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var node []byte
		err := row.Scan(&node)
		return string(node), err
	})
	if err != nil {
		return nil, fmt.Errorf("live nodes: %w", err)
	}
	return nodes, nil
}
