package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// MemLeases is a LeaseTable and Members in memory: the reference semantics the conformance suite
// (clustertest) pins, and the lease table of the simulator's cluster twin. It is safe for
// concurrent use.
type MemLeases struct {
	mu      sync.Mutex
	leases  map[int]Lease
	members map[string]time.Time // node → the first instant it is no longer live
}

// NewMemLeases returns an empty table: no partition acquired, no node live.
func NewMemLeases() *MemLeases {
	return &MemLeases{leases: map[int]Lease{}, members: map[string]time.Time{}}
}

var (
	_ LeaseTable = (*MemLeases)(nil)
	_ Members    = (*MemLeases)(nil)
)

// Leases implements LeaseTable.
func (m *MemLeases) Leases(context.Context) ([]Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Lease, 0, len(m.leases))
	for _, p := range slices.Sorted(maps.Keys(m.leases)) {
		out = append(out, m.leases[p])
	}
	return out, nil
}

// checkArgs rejects what no table accepts: a negative partition, an empty node, a ttl that is not
// positive.
func checkArgs(partition int, node string, ttl time.Duration) error {
	switch {
	case partition < 0:
		return fmt.Errorf("cluster: partition %d is negative", partition)
	case node == "":
		return fmt.Errorf("cluster: partition %d: empty node ID", partition)
	case ttl <= 0:
		return fmt.Errorf("cluster: partition %d: lease ttl %v is not positive", partition, ttl)
	}
	return nil
}

// Acquire implements LeaseTable.
func (m *MemLeases) Acquire(_ context.Context, partition int, node string, now time.Time, ttl time.Duration) (Lease, error) {
	if err := checkArgs(partition, node, ttl); err != nil {
		return Lease{}, fmt.Errorf("acquire: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.leases[partition]
	if cur.Live(now) && cur.Node != node {
		return Lease{}, fmt.Errorf("acquire partition %d for %q: held by %q (epoch %d) until %v: %w",
			partition, node, cur.Node, cur.Epoch, cur.Expires, ErrLeaseHeld)
	}
	l := Lease{Partition: partition, Node: node, Epoch: cur.Epoch + 1, Expires: now.Add(ttl)}
	m.leases[partition] = l
	return l, nil
}

// current returns the partition's lease if l is it (same node and epoch) and live at now.
func (m *MemLeases) current(l Lease, now time.Time) (Lease, bool) {
	cur, ok := m.leases[l.Partition]
	return cur, ok && cur.Node == l.Node && cur.Epoch == l.Epoch && cur.Live(now)
}

// Renew implements LeaseTable.
func (m *MemLeases) Renew(_ context.Context, l Lease, now time.Time, ttl time.Duration) (Lease, error) {
	if err := checkArgs(l.Partition, l.Node, ttl); err != nil {
		return Lease{}, fmt.Errorf("renew: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.current(l, now)
	if !ok {
		return Lease{}, fmt.Errorf("renew partition %d for %q at epoch %d (now node %q, epoch %d, expires %v): %w",
			l.Partition, l.Node, l.Epoch, cur.Node, cur.Epoch, cur.Expires, ErrLeaseLost)
	}
	cur.Expires = now.Add(ttl)
	m.leases[l.Partition] = cur
	return cur, nil
}

// Release implements LeaseTable. A lease that expired but is still the partition's latest (nobody
// took it) is released too: the caller held it last.
func (m *MemLeases) Release(_ context.Context, l Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.leases[l.Partition]
	if !ok || l.Node == "" || cur.Node != l.Node || cur.Epoch != l.Epoch {
		return fmt.Errorf("release partition %d for %q at epoch %d (now node %q, epoch %d): %w",
			l.Partition, l.Node, l.Epoch, cur.Node, cur.Epoch, ErrLeaseLost)
	}
	m.leases[l.Partition] = Lease{Partition: l.Partition, Epoch: cur.Epoch}
	return nil
}

// Fence implements LeaseTable.
func (m *MemLeases) Fence(_ context.Context, partition int, epoch uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.leases[partition]
	if cur.Epoch > epoch {
		return fmt.Errorf("partition %d: epoch %d superseded by epoch %d: %w", partition, epoch, cur.Epoch, ErrFenced)
	}
	if epoch == 0 || epoch > cur.Epoch {
		return fmt.Errorf("partition %d: epoch %d never granted (current epoch %d): %w", partition, epoch, cur.Epoch, ErrFenced)
	}
	return nil
}

// Beat implements Members.
func (m *MemLeases) Beat(_ context.Context, node string, now time.Time, ttl time.Duration) error {
	if node == "" || ttl <= 0 {
		return fmt.Errorf("cluster: beat for %q with ttl %v: needs a node ID and a positive ttl", node, ttl)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.members[node] = now.Add(ttl)
	return nil
}

// Live implements Members.
func (m *MemLeases) Live(_ context.Context, now time.Time) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, n := range slices.Sorted(maps.Keys(m.members)) {
		if now.Before(m.members[n]) {
			out = append(out, n)
		}
	}
	return out, nil
}
