package cluster

import (
	"context"
	"errors"
	"time"
)

// Lease is one partition's ownership: Node owns Partition until Expires, under Epoch. Epoch is
// the fencing token: it grows by one at every acquisition (never on a renewal), so a write that
// carries an older epoch comes from a former owner and is refused (LeaseTable.Fence). Epoch 0
// means the partition was never acquired; a released partition keeps its epoch and has no Node.
type Lease struct {
	Partition int
	Node      string
	Epoch     uint64
	Expires   time.Time
}

// Live reports whether the lease is held at now: it has a Node and has not expired (Expires is
// the first instant it no longer holds).
func (l Lease) Live(now time.Time) bool { return l.Node != "" && now.Before(l.Expires) }

var (
	// ErrLeaseHeld is Acquire's answer when another node holds the partition's lease at now.
	ErrLeaseHeld = errors.New("cluster: lease held by another node")
	// ErrLeaseLost is Renew's and Release's answer when the lease given is no longer the current
	// one: its epoch was superseded, its node no longer holds it, or it expired.
	ErrLeaseLost = errors.New("cluster: lease lost")
	// ErrFenced is Fence's answer when a write carries an epoch that is not the partition's
	// current one (a newer epoch exists, or the epoch was never granted): the writer is not the
	// owner and must stop serving the partition.
	ErrFenced = errors.New("cluster: write fenced")
)

// LeaseTable is the partition lease table the owner loop reads and changes. Every method is
// atomic. Times are the caller's: now is when the call is made, ttl how long a lease granted or
// renewed holds (positive). Leases never expire by themselves in the table; a lease whose
// Expires is at or before now is treated as unowned by Acquire and as lost by Renew.
type LeaseTable interface {
	// Leases returns every partition's current lease row, sorted by partition; partitions never
	// acquired have no row.
	Leases(ctx context.Context) ([]Lease, error)
	// Acquire makes node the owner of partition until now+ttl under a new epoch (the old one plus
	// one). It succeeds only when the partition has no live lease at now, or its live lease is
	// node's own (a restarted node taking its partitions back: the new epoch fences whatever its
	// former incarnation still writes). Otherwise it fails with ErrLeaseHeld.
	Acquire(ctx context.Context, partition int, node string, now time.Time, ttl time.Duration) (Lease, error)
	// Renew extends the lease to now+ttl and keeps its epoch. It fails with ErrLeaseLost when the
	// lease is not the partition's current one (another epoch or node) or has expired at now,
	// even if nobody took it since: a lapsed owner must acquire again, under a new epoch.
	Renew(ctx context.Context, l Lease, now time.Time, ttl time.Duration) (Lease, error)
	// Release gives the lease up: the partition keeps its epoch and has no owner, so any node may
	// acquire it at once. It fails with ErrLeaseLost, changing nothing, when l is not the current
	// lease. The caller stops serving the partition before releasing it.
	Release(ctx context.Context, l Lease) error
	// Fence is the check every write to a partition makes with the epoch its writer holds: nil
	// when epoch is the partition's current epoch, ErrFenced (the message names the partition,
	// the epoch given and the current one) otherwise. It does not look at expiry: until another
	// node acquires the partition, no other writer exists, so a lapsed owner's write is harmless.
	// An implementation on a database makes the check and the write one transaction.
	Fence(ctx context.Context, partition int, epoch uint64) error
}

// Members is the set of live nodes: each node beats at every tick; a node is live until ttl
// after its last beat. The owner core balances partitions over the live nodes, so a node that
// joins is seen (and given its share) before it holds any lease.
type Members interface {
	// Beat marks node live until now+ttl.
	Beat(ctx context.Context, node string, now time.Time, ttl time.Duration) error
	// Live returns the nodes live at now, sorted.
	Live(ctx context.Context, now time.Time) ([]string, error)
}
