package cluster

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"
)

// DefaultLeaseTTL is how long a lease holds when the configuration names no LeaseTTL.
const DefaultLeaseTTL = 10 * time.Second

// Config configures an Owner.
type Config struct {
	// ID names the node in the lease table; unique among the nodes. Required.
	ID string
	// Partitions is the fixed number of partitions users hash to (PartitionOf); 0 means
	// DefaultPartitions.
	Partitions int
	// LeaseTTL is how long a lease holds after it is acquired or renewed, and how long a node
	// stays live after its last beat; 0 means DefaultLeaseTTL.
	LeaseTTL time.Duration
	// RenewEvery is the tick period the owner expects: a lease is renewed once it is this old,
	// and a partition left free longer than this by the nodes whose share it was is taken by
	// anyone. 0 means LeaseTTL/3; at most LeaseTTL/2, so that a lease gets a second renewal
	// before it expires.
	RenewEvery time.Duration
}

// withDefaults fills the zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.RenewEvery == 0 {
		c.RenewEvery = c.LeaseTTL / 3
	}
	switch {
	case c.ID == "":
		return c, errors.New("cluster: node ID is empty")
	case c.Partitions < 0:
		return c, fmt.Errorf("cluster: partitions %d is negative", c.Partitions)
	case c.LeaseTTL < 0:
		return c, fmt.Errorf("cluster: lease ttl %v is negative", c.LeaseTTL)
	case c.RenewEvery <= 0 || c.RenewEvery > c.LeaseTTL/2:
		return c, fmt.Errorf("cluster: renewEvery %v must be positive and at most half the lease ttl %v", c.RenewEvery, c.LeaseTTL)
	}
	return c, nil
}

// Owner is one node's partition-ownership core: from a view of the lease table and of the live
// nodes at a time, Tick decides what the node does with its leases; the driver (Apply) carries the
// Plan out against a LeaseTable and hands the Outcome back to Advance. It keeps the leases the
// node holds, so that the shell asks it which partitions to serve (Owns).
//
// Rules, per Tick at now:
//   - Lost: a held lease is lost when the view shows another node or epoch for its partition, or
//     when it has expired at now. The node stops serving it at once.
//   - Renew: a held lease is renewed once it is RenewEvery old (it then has LeaseTTL-RenewEvery
//     left), so a node that ticks every RenewEvery never lets a lease lapse.
//   - Live nodes are those Members reports, the node itself, and every node holding a live lease
//     in the view. The fair share is ceil(Partitions / live nodes).
//   - Acquire: first the node's own live leases it does not know (a former incarnation's: taken
//     back under a new epoch), then free partitions (no owner, or expired at now) up to the fair
//     share, in an order particular to the node (rendezvous hashing, so that nodes racing for
//     free partitions mostly pick different ones); and, beyond the share, every partition this
//     node has seen free for longer than RenewEvery (the nodes whose share it was, each ticking
//     once in that time, did not take it: dead but not yet expired from Members). With a node
//     ticking every RenewEvery, a partition is owned within 3·RenewEvery of falling free (seen
//     within one period, taken in the second after that), at most LeaseTTL+RenewEvery.
//   - Release: when no partition is free and some live node holds fewer than the fair share, a
//     node holding more gives up its surplus (its highest partitions), which the node short of
//     its share then acquires. So a joining node gets its share within a few ticks.
//     A node that beats but takes nothing (its restores fail, say) is given partitions that the
//     others take back a tick period later, over and over: a node should beat (Step) only while
//     it can serve.
//
// The zombie window: a node's held leases are what its last Tick and Advance left. A paused node
// resumes believing it holds them; Owns also checks expiry against the time it is given, so a
// node whose clock shows its lease expired stops serving without a tick. A write already decided
// when the pause began still carries the old epoch and is refused by Fence once another node has
// acquired the partition (which it can only do after the lease expired). A write under an
// expired lease that nobody took yet is accepted: no other writer exists for that epoch.
//
// An Owner is not safe for concurrent use; it never reads the clock.
type Owner struct {
	cfg  Config
	held map[int]Lease
	// freeSince is when this node first saw each currently free partition free.
	freeSince map[int]time.Time
}

// NewOwner returns the core of a node that holds no lease yet.
func NewOwner(cfg Config) (*Owner, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Owner{cfg: cfg, held: map[int]Lease{}, freeSince: map[int]time.Time{}}, nil
}

// Config returns the configuration with its defaults filled in.
func (o *Owner) Config() Config { return o.cfg }

// Plan is what a Tick decided, for Apply to carry out in this order: Lost and Release are already
// out of the Owner's held leases (stop serving them before releasing), then Renew, then Acquire.
type Plan struct {
	Node string
	Now  time.Time
	TTL  time.Duration
	// Lost are held leases the view showed lost or expired; nothing to do in the table.
	Lost []Lease
	// Release are surplus leases to give up.
	Release []Lease
	// Renew are held leases due for renewal.
	Renew []Lease
	// Acquire are partitions to acquire, in the order to try them.
	Acquire []int
}

// Outcome is what Apply did with a Plan.
type Outcome struct {
	// Acquired are leases now held: restore each partition from the store before serving it.
	Acquired []Lease
	// Renewed are held leases with their new expiry.
	Renewed []Lease
	// Released are the leases given up (released in the table, or found already lost there).
	Released []Lease
	// Lost are leases to stop serving at once: the Plan's Lost and the renewals the table refused.
	Lost []Lease
}

// Held returns the leases the node holds, sorted by partition, whatever their expiry.
func (o *Owner) Held() []Lease {
	out := make([]Lease, 0, len(o.held))
	for _, p := range slices.Sorted(maps.Keys(o.held)) {
		out = append(out, o.held[p])
	}
	return out
}

// Owns returns the lease under which the node serves partition at now: held and not expired.
func (o *Owner) Owns(partition int, now time.Time) (Lease, bool) {
	l, ok := o.held[partition]
	if !ok || !l.Live(now) {
		return Lease{}, false
	}
	return l, true
}

// Tick decides, from leases (the table's rows read at now) and live (the nodes Members reports
// live at now), what the node does now. It drops the Plan's Lost and Release leases from the held
// ones at once.
func (o *Owner) Tick(now time.Time, leases []Lease, live []string) Plan {
	P := o.cfg.Partitions
	id := o.cfg.ID
	plan := Plan{Node: id, Now: now, TTL: o.cfg.LeaseTTL}
	view := make(map[int]Lease, len(leases))
	for _, l := range leases {
		if l.Partition >= 0 && l.Partition < P {
			view[l.Partition] = l
		}
	}

	for _, p := range slices.Sorted(maps.Keys(o.held)) {
		h := o.held[p]
		cur := view[p]
		if cur.Node != id || cur.Epoch != h.Epoch || !cur.Live(now) || !h.Live(now) {
			plan.Lost = append(plan.Lost, h)
			delete(o.held, p)
		}
	}

	liveSet := map[string]bool{id: true}
	for _, n := range live {
		liveSet[n] = true
	}
	count := map[string]int{}
	var free, adopt []int
	for p := range P {
		cur := view[p]
		switch {
		case !cur.Live(now):
			free = append(free, p)
			if _, seen := o.freeSince[p]; !seen {
				o.freeSince[p] = now
			}
			continue
		case cur.Node == id:
			if _, ok := o.held[p]; !ok {
				adopt = append(adopt, p)
			}
		default:
			count[cur.Node]++
		}
		liveSet[cur.Node] = true
		delete(o.freeSince, p)
	}
	count[id] = len(o.held) + len(adopt)
	fair := (P + len(liveSet) - 1) / len(liveSet)

	if len(free) == 0 && count[id] > fair {
		short := false
		for n := range liveSet {
			short = short || count[n] < fair
		}
		if short {
			mine := slices.Sorted(maps.Keys(o.held))
			for _, p := range mine[len(mine)-min(len(mine), count[id]-fair):] {
				plan.Release = append(plan.Release, o.held[p])
				delete(o.held, p)
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(o.held)) {
		if h := o.held[p]; h.Expires.Sub(now) <= o.cfg.LeaseTTL-o.cfg.RenewEvery {
			plan.Renew = append(plan.Renew, h)
		}
	}

	plan.Acquire = append(plan.Acquire, adopt...)
	slices.SortStableFunc(free, func(a, b int) int { return cmp.Compare(rendezvous(id, b), rendezvous(id, a)) })
	want := fair - count[id]
	for _, p := range free {
		if want > 0 || now.Sub(o.freeSince[p]) > o.cfg.RenewEvery {
			plan.Acquire = append(plan.Acquire, p)
			want--
		}
	}

	return plan
}

// Advance records what Apply did with the last Plan.
func (o *Owner) Advance(out Outcome) {
	for _, l := range out.Lost {
		if h, ok := o.held[l.Partition]; ok && h.Epoch == l.Epoch {
			delete(o.held, l.Partition)
		}
	}
	for _, l := range out.Renewed {
		o.held[l.Partition] = l
	}
	for _, l := range out.Acquired {
		o.held[l.Partition] = l
		delete(o.freeSince, l.Partition)
	}
}

// rendezvous is node's score for partition p: each node tries free partitions from its highest
// score down, so nodes racing for the same free partitions mostly pick different ones.
func rendezvous(node string, p int) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(node)) // a hash.Hash never fails to write
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(p))
	_, _ = h.Write(b[:])
	return h.Sum64()
}
