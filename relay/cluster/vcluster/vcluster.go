// Package vcluster runs a relay cluster in virtual time, in one goroutine: N cluster.Node twins,
// the bus between them as an ordered queue, the lease table (cluster.MemLeases) and one shared
// store (relay.MemoryStore) whose writes are fenced by the lease table, as PostgreSQL's are. It is
// the cluster twin's engine (DESIGN.md §11): the simulator drives devices against it, and tests
// kill, restart, pause and cut nodes off the bus or the database at chosen instants.
//
// It reads no clock and starts no goroutine: time moves only as its driver says, in Advance and
// in the time every input is handed in at (the driver's clock, which the cluster and every core
// of it then read), and everything that happens is decided by the inputs and the order they came
// in, so two runs with the same inputs are the same run.
package vcluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
)

// Config configures a Cluster.
type Config struct {
	// Nodes names the nodes, each started at Start. At least one.
	Nodes []string
	// Name is the cluster's name in the bus's subjects; default "vc".
	Name string
	// Partitions is the partition count; 0 means cluster.DefaultPartitions.
	Partitions int
	// Relay configures every partition's core.
	Relay relay.Config
	// LeaseTTL and RenewEvery configure the nodes' owner loops (cluster.Config).
	LeaseTTL   time.Duration
	RenewEvery time.Duration
	// RequestTimeout bounds a cross-partition send's wait for its answer; 0 means 2 s.
	RequestTimeout time.Duration
	// BusDelay is how long a bus message takes from one node to another; 0 means at once (still
	// after the current step).
	BusDelay time.Duration
	// Start is the virtual time the cluster starts at.
	Start time.Time
	// Events keeps what the partitions' cores take and give (Output.Events), for a checker that
	// holds the cluster to the relay's rules from the outside.
	Events bool
}

// AppConn names an app connection: the node it is connected to and that node's number for it.
type AppConn struct {
	Node string
	Conn relay.ConnID
}

// Output is what the cluster hands its driver: frames to app connections, closes, and pushes to
// send to FCM (answer each with PushResult on the node that made it).
type Output struct {
	Frames []AppFrame
	Closes []AppClose
	Pushes []NodePush
	// Events is what the partitions' current owners did, in order (with Config.Events).
	Events []Event
}

// EventKind names what an Event tells.
type EventKind int

// The events.
const (
	// EventInput: a partition's core is about to take an input.
	EventInput EventKind = iota + 1
	// EventReady: a partition's work was carried out (its records stored first).
	EventReady
	// EventAcquired: a node started serving a partition, restored from the store.
	EventAcquired
)

// Event is one thing a partition's core did, as a checker outside the cluster sees the relay: its
// inputs, its carried-out work, and its moves from node to node. Only the partition's current
// owner's are told — the node serving it under the lease table's epoch — so a zombie's, whose
// writes are refused, are not.
type Event struct {
	Kind      EventKind
	At        time.Time
	Node      string
	Partition int
	// Input and From (the connection Input.Conn names), for EventInput.
	Input relay.Input
	From  cluster.ConnAddr
	// The work, for EventReady: the records stored, the trace, the pushes handed out and those
	// cancelled, and the frames and closes sent to the gateways (whether or not they got there).
	Records   []relay.Record
	Trace     []relay.TraceEntry
	Pushes    []relay.Push
	Cancelled []uint64
	Frames    []AppFrame
	Closes    []AppClose
}

// AppFrame is a frame for an app connection.
type AppFrame struct {
	To    AppConn
	Frame relay.ServerFrame
}

// AppClose closes an app connection (the node's gateway closed it, or the node died).
type AppClose struct {
	To     AppConn
	Code   int
	Reason string
}

// NodePush is a push a node's core decided; its answer goes back to Node.
type NodePush struct {
	Node string
	Push relay.Push
}

// Write is one batch of records a node wrote, or tried to write, under a partition's epoch: the
// log the cluster invariants are checked on (at most one writer per partition per epoch).
type Write struct {
	At        time.Time
	Node      string
	Partition int
	Epoch     uint64
	Records   int
	// Err is why the write was refused (cluster.ErrFenced for a zombie's), nil when it was stored.
	Err error
}

// Cluster is a virtual relay cluster. Every input comes with its driver's time, at or after the
// cluster's: the cluster first runs what is due until then (Advance), so that it, its cores and
// its driver read one clock.
type Cluster struct {
	cfg    Config
	now    time.Time
	leases *cluster.MemLeases
	store  *relay.MemoryStore
	nodes  map[string]*vnode
	order  []string // node names, sorted

	queue    []envelope // bus messages in flight, by due time then order sent
	seq      uint64
	requests map[uint64]*request // cross-partition sends waiting for their answer
	nextReq  uint64

	out    Output
	writes []Write
	// inputs holds, per node, the EventInputs its cores took since its work was last carried
	// out: each partition's go out just before its EventReady (carryOut), so that a node
	// stepping several cores at once (a tick, a bus loss, gateways found dead) still tells each
	// partition's inputs and their outcome together, as one core's.
	inputs map[string][]Event
}

// vnode is one node of the cluster: alive or dead, and the faults it suffers.
type vnode struct {
	name   string
	node   *cluster.Node
	owner  *cluster.Owner
	alive  bool
	paused bool // a zombie: it takes no input until resumed, and its leases lapse
	busCut bool // it neither sends nor receives on the bus
	dbCut  bool // its store and lease-table calls fail
	// inbox holds what reached the node while it was paused.
	inbox   []envelope
	nextRun time.Time // its next owner-loop step
	conns   map[relay.ConnID]bool
	connSeq relay.ConnID
}

// envelope is a bus message in flight.
type envelope struct {
	due     time.Time
	seq     uint64
	from    string
	subject string
	msg     cluster.Message
	// request names the request a SendRequest carries, or the request a SendAnswer answers.
	request uint64
}

// request is a bus request waiting for its answer: a cross-partition send, or a gateway's
// ConnOpened (open set).
type request struct {
	node     string
	out      cluster.OutRequest
	open     *cluster.ConnOpened
	deadline time.Time
}

// answer hands a request's outcome to the node that made it.
func (c *Cluster) answer(r *request, a cluster.SendAnswer, err error) {
	vn := c.nodes[r.node]
	if !vn.alive || vn.paused {
		return
	}
	if r.open != nil {
		vn.node.Opened(*r.open, err)
	} else {
		vn.node.RemoteAnswered(c.now, r.out, a, err)
	}
	c.carryOut(vn)
}

// errCut is the store's answer to a node cut off the database.
var errCut = errors.New("vcluster: node cut off from the database")

// New starts a cluster: every node beats and takes its share of the partitions at once.
func New(cfg Config) (*Cluster, error) {
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("vcluster: no nodes")
	}
	if cfg.Name == "" {
		cfg.Name = "vc"
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = cluster.DefaultPartitions
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 2 * time.Second
	}
	c := &Cluster{cfg: cfg, now: cfg.Start, leases: cluster.NewMemLeases(), store: relay.NewMemoryStore(),
		nodes: map[string]*vnode{}, requests: map[uint64]*request{}, inputs: map[string][]Event{}}
	for _, name := range cfg.Nodes {
		if _, dup := c.nodes[name]; dup {
			return nil, fmt.Errorf("vcluster: node %q named twice", name)
		}
		c.nodes[name] = &vnode{name: name}
		if err := c.start(name); err != nil {
			return nil, err
		}
	}
	c.order = slices.Sorted(maps.Keys(c.nodes))
	c.Advance(c.now)
	return c, nil
}

// start brings node name up with empty memory, as a fresh process.
func (c *Cluster) start(name string) error {
	ncfg := cluster.NodeConfig{ID: name, Cluster: c.cfg.Name, Partitions: c.cfg.Partitions, Relay: c.cfg.Relay}
	if c.cfg.Events {
		ncfg.Tap = func(p int, in relay.Input, from cluster.ConnAddr) {
			if c.Current(name, p) {
				c.inputs[name] = append(c.inputs[name], Event{Kind: EventInput, At: c.now, Node: name, Partition: p, Input: in, From: from})
			}
		}
	}
	n, err := cluster.NewNode(ncfg)
	if err != nil {
		return err
	}
	o, err := cluster.NewOwner(cluster.Config{ID: name, Partitions: c.cfg.Partitions, LeaseTTL: c.cfg.LeaseTTL, RenewEvery: c.cfg.RenewEvery})
	if err != nil {
		return err
	}
	vn := c.nodes[name]
	*vn = vnode{name: name, node: n, owner: o, alive: true, nextRun: c.now, conns: map[relay.ConnID]bool{}, connSeq: vn.connSeq}
	return nil
}

// Now is the cluster's virtual time.
func (c *Cluster) Now() time.Time { return c.now }

// Store is the store every node writes to.
func (c *Cluster) Store() *relay.MemoryStore { return c.store }

// Leases is the lease table.
func (c *Cluster) Leases() *cluster.MemLeases { return c.leases }

// Nodes names the nodes, sorted.
func (c *Cluster) Nodes() []string { return slices.Clone(c.order) }

// Node is node name's Node, for reading (its owned partitions, a core's views); nil when the node
// is dead.
func (c *Cluster) Node(name string) *cluster.Node {
	if vn := c.nodes[name]; vn != nil && vn.alive {
		return vn.node
	}
	return nil
}

// Alive reports whether node name runs (a paused node runs).
func (c *Cluster) Alive(name string) bool { vn := c.nodes[name]; return vn != nil && vn.alive }

// Running reports whether a node is alive and not paused: one that takes input.
func (c *Cluster) Running(name string) bool {
	vn := c.nodes[name]
	return vn != nil && vn.alive && !vn.paused
}

// Writes is the log of every batch written or refused, in order.
func (c *Cluster) Writes() []Write { return c.writes }

// TakeOutput returns what the cluster has for its driver since the last call.
func (c *Cluster) TakeOutput() Output {
	o := c.out
	c.out = Output{}
	return o
}

// Owner is the node serving partition p now, by the lease table; "" when nobody holds a live lease.
func (c *Cluster) Owner(p int) string {
	leases, _ := c.leases.Leases(context.Background())
	for _, l := range leases {
		if l.Partition == p && l.Live(c.now) {
			return l.Node
		}
	}
	return ""
}

// Unowned lists the partitions no node holds a live lease on now.
func (c *Cluster) Unowned() []int {
	owned := map[int]bool{}
	leases, _ := c.leases.Leases(context.Background())
	for _, l := range leases {
		if l.Live(c.now) {
			owned[l.Partition] = true
		}
	}
	var free []int
	for p := range c.cfg.Partitions {
		if !owned[p] {
			free = append(free, p)
		}
	}
	return free
}

// Current reports whether node name serves partition p under the lease table's epoch for it: it
// is the partition's owner, not a zombie that lost it.
func (c *Cluster) Current(name string, p int) bool {
	vn := c.nodes[name]
	if vn == nil || !vn.alive || vn.node == nil {
		return false
	}
	epoch, ok := vn.node.Epoch(p)
	if !ok {
		return false
	}
	leases, _ := c.leases.Leases(context.Background())
	for _, l := range leases {
		if l.Partition == p {
			return l.Epoch == epoch
		}
	}
	return false
}

// vnodeOf returns a running node, or an error naming why it cannot take input.
func (c *Cluster) vnodeOf(name string) (*vnode, error) {
	vn := c.nodes[name]
	switch {
	case vn == nil:
		return nil, fmt.Errorf("vcluster: no node %q (nodes: %s)", name, strings.Join(c.order, ", "))
	case !vn.alive:
		return nil, fmt.Errorf("vcluster: node %q is dead", name)
	}
	return vn, nil
}

// at brings the cluster to the driver's time now before an input, running what is due until
// then: the input, and all it leads to, happen at now. An input from before the cluster's time
// is a driver whose clock went backwards.
func (c *Cluster) at(now time.Time) {
	if now.Before(c.now) {
		panic(fmt.Sprintf("vcluster: an input at %s, before the cluster's time %s", now.Format(time.RFC3339Nano), c.now.Format(time.RFC3339Nano)))
	}
	c.Advance(now)
}

// Connect opens an app connection on node's gateway at now.
func (c *Cluster) Connect(now time.Time, node string) (AppConn, error) {
	c.at(now)
	vn, err := c.vnodeOf(node)
	if err != nil {
		return AppConn{}, err
	}
	if vn.busCut || vn.dbCut {
		return AppConn{}, fmt.Errorf("vcluster: node %q is cut off the bus or the database and takes no connection", node)
	}
	vn.connSeq++
	vn.conns[vn.connSeq] = true
	vn.node.Open(vn.connSeq)
	return AppConn{Node: node, Conn: vn.connSeq}, nil
}

// Send hands a frame an app wrote on conn to its node at now. A frame for a connection that is
// gone is dropped, as a socket's would be.
func (c *Cluster) Send(now time.Time, conn AppConn, data []byte) {
	c.at(now)
	vn := c.nodes[conn.Node]
	if vn == nil || !vn.alive || !vn.conns[conn.Conn] {
		return
	}
	if vn.paused {
		return // a paused process reads nothing; the app's frame waits in a socket buffer we drop
	}
	vn.node.Frame(conn.Conn, data)
	c.carryOut(vn)
}

// Disconnect tells conn's node at now that the app's connection ended.
func (c *Cluster) Disconnect(now time.Time, conn AppConn) {
	c.at(now)
	vn := c.nodes[conn.Node]
	if vn == nil || !vn.alive || !vn.conns[conn.Conn] {
		return
	}
	delete(vn.conns, conn.Conn)
	vn.node.Closed(conn.Conn)
	c.carryOut(vn)
}

// PushResult hands FCM's answer, at now, to the node that made the push; lost if that node is
// dead.
func (c *Cluster) PushResult(now time.Time, node string, r relay.PushResult) {
	c.at(now)
	vn := c.nodes[node]
	if vn == nil || !vn.alive || vn.paused {
		return
	}
	vn.node.PushResult(c.now, r)
	c.carryOut(vn)
}

// Admin runs fn at now on the core of the user's partition on its owner — the node serving it
// under the lease table's epoch, not one that lost the lease and has not noticed yet — as an
// admin call routed there would; ErrNotOwner-wrapped when no live node serves the partition.
func (c *Cluster) Admin(now time.Time, sdkAppID uint64, userID string, fn func(now time.Time, core *relay.Core) error) error {
	c.at(now)
	p := relay.PartitionOf(sdkAppID, userID, c.cfg.Partitions)
	for _, name := range c.order {
		vn := c.nodes[name]
		if !vn.alive || vn.paused {
			continue
		}
		if core, ok := vn.node.Core(p); ok && c.Current(name, p) {
			err := fn(c.now, core)
			c.carryOut(vn)
			if _, serves := vn.node.Epoch(p); !serves {
				// Its records were not stored (the node lost the database or the lease): the
				// call did not happen, and the partition's next owner knows nothing of it.
				return fmt.Errorf("%w %d: node %s could not store the call's outcome; retry", cluster.ErrNotOwner, p, name)
			}
			return err
		}
	}
	return fmt.Errorf("%w %d: no node serves it now; retry", cluster.ErrNotOwner, p)
}

// Catalog makes a catalog change at now on the owner of cluster.CatalogPartition.
func (c *Cluster) Catalog(now time.Time, in relay.Input) error {
	c.at(now)
	for _, name := range c.order {
		vn := c.nodes[name]
		if !vn.alive || vn.paused {
			continue
		}
		if _, ok := vn.node.Core(cluster.CatalogPartition); ok && c.Current(name, cluster.CatalogPartition) {
			err := vn.node.Catalog(c.now, in)
			c.carryOut(vn)
			return err
		}
	}
	return fmt.Errorf("%w %d, which makes catalog changes: no node serves it now; retry", cluster.ErrNotOwner, cluster.CatalogPartition)
}

// Kill stops node name at now, as SIGKILL would: its memory, connections and bus messages in
// flight to it are gone (its apps see their connections close); its leases lapse after the TTL.
func (c *Cluster) Kill(now time.Time, name string) error {
	c.at(now)
	vn, err := c.vnodeOf(name)
	if err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(vn.conns)) {
		c.out.Closes = append(c.out.Closes, AppClose{To: AppConn{name, id}, Code: relay.CloseGoingAway, Reason: "node died"})
	}
	vn.alive, vn.node, vn.owner, vn.inbox, vn.conns = false, nil, nil, nil, nil
	c.queue = slices.DeleteFunc(c.queue, func(e envelope) bool { return c.addressee(e) == name })
	for id, r := range c.requests {
		if r.node == name {
			delete(c.requests, id)
		}
	}
	return nil
}

// Restart starts a dead node again at now with empty memory, as a new process of the same name.
func (c *Cluster) Restart(now time.Time, name string) error {
	c.at(now)
	vn := c.nodes[name]
	if vn == nil {
		return fmt.Errorf("vcluster: no node %q (nodes: %s)", name, strings.Join(c.order, ", "))
	}
	if vn.alive {
		return fmt.Errorf("vcluster: node %q is running; kill it first", name)
	}
	if err := c.start(name); err != nil {
		return err
	}
	c.Advance(c.now)
	return nil
}

// Pause stops node name, from now, from taking any input (a long GC pause, a stopped VM) until Resume: its
// leases lapse and others take its partitions; what reaches it waits. Resumed, it acts on what
// waited before it notices its lost leases, so its writes under the old epochs are refused.
func (c *Cluster) Pause(now time.Time, name string) error {
	c.at(now)
	vn, err := c.vnodeOf(name)
	if err != nil {
		return err
	}
	vn.paused = true
	return nil
}

// Resume lets a paused node go on at now.
func (c *Cluster) Resume(now time.Time, name string) error {
	c.at(now)
	vn, err := c.vnodeOf(name)
	if err != nil {
		return err
	}
	if !vn.paused {
		return nil
	}
	vn.paused = false
	if vn.busCut {
		c.busLost(vn) // it finds the bus gone when it wakes
	}
	inbox := vn.inbox
	vn.inbox = nil
	for _, e := range inbox {
		c.deliverTo(vn, e)
	}
	c.Advance(c.now)
	return nil
}

// CutBus cuts node name off the bus at now (cut true) or mends it (false): while cut, what it
// sends and what is sent to it is lost, and it takes no app connection and no partition; cut,
// it closes the connections it holds and gives its partitions up (busLost).
func (c *Cluster) CutBus(now time.Time, name string, cut bool) error {
	c.at(now)
	vn, err := c.vnodeOf(name)
	if err != nil {
		return err
	}
	lost := cut && !vn.busCut
	vn.busCut = cut
	if lost && !vn.paused {
		c.busLost(vn)
	}
	return nil
}

// busLost is what node vn does on finding itself off the bus: it cannot serve (it reaches no
// connection and hears none of the broadcasts that keep its cores right: tokens moving to other
// partitions' users, catalog changes), so, as the Owner's rules ask of a node that cannot serve,
// it closes its connections (cluster.Node.BusLost), gives its leases back for other nodes to take
// its partitions at once, and runs no owner step until the bus is back.
func (c *Cluster) busLost(vn *vnode) {
	vn.node.BusLost(c.now)
	c.carryOut(vn)
	var out cluster.Outcome
	for _, l := range vn.owner.Held() {
		vn.node.Dropped(l.Partition)
		if !vn.dbCut {
			_ = c.leases.Release(context.Background(), l) // ErrLeaseLost: another node has it already
		}
		out.Lost = append(out.Lost, l)
	}
	vn.owner.Advance(out)
}

// CutDB cuts node name off the database at now (cut true) or mends it (false): while cut, its writes
// fail (it stops serving the partition written to) and its lease renewals fail, so it loses its
// leases after the TTL; cut, it closes its app connections and takes no new one.
func (c *Cluster) CutDB(now time.Time, name string, cut bool) error {
	c.at(now)
	vn, err := c.vnodeOf(name)
	if err != nil {
		return err
	}
	lost := cut && !vn.dbCut
	vn.dbCut = cut
	if lost && !vn.paused {
		// It can no longer beat: the owners will count its gateway dead and end its connections
		// in their cores, so it closes them for the apps to reconnect to a node that can serve.
		vn.node.CloseGateway(fmt.Sprintf("node %s lost the database; reconnect", name))
		c.carryOut(vn)
	}
	return nil
}

// Advance runs the cluster until virtual time to: bus messages, owner-loop steps, core timers and
// request deadlines, each at its instant, in order.
func (c *Cluster) Advance(to time.Time) {
	for {
		at, ok := c.NextEvent()
		if !ok || at.After(to) {
			break
		}
		if at.After(c.now) {
			c.now = at
		}
		c.runDue()
	}
	if to.After(c.now) {
		c.now = to
	}
}

// NextEvent is the instant of the next thing due: a driver on a clock of its own advances the
// cluster then; false when nothing is due.
func (c *Cluster) NextEvent() (time.Time, bool) {
	var next time.Time
	found := false
	consider := func(t time.Time) {
		if !found || t.Before(next) {
			next, found = t, true
		}
	}
	if len(c.queue) > 0 {
		consider(c.queue[0].due)
	}
	for _, name := range c.order {
		vn := c.nodes[name]
		if !vn.alive || vn.paused {
			continue
		}
		consider(vn.nextRun)
		if at, ok := vn.node.NextWake(); ok {
			consider(at)
		}
	}
	for _, r := range c.requests {
		consider(r.deadline)
	}
	return next, found
}

// runDue does everything due at c.now: bus messages first (in the order sent), then request
// deadlines, owner steps and core timers, node by node in name order.
func (c *Cluster) runDue() {
	for len(c.queue) > 0 && !c.queue[0].due.After(c.now) {
		e := c.queue[0]
		c.queue = c.queue[1:]
		c.deliver(e)
	}
	for _, id := range slices.Sorted(maps.Keys(c.requests)) {
		r := c.requests[id]
		if r.deadline.After(c.now) {
			continue
		}
		delete(c.requests, id)
		c.answer(r, cluster.SendAnswer{}, context.DeadlineExceeded)
	}
	for _, name := range c.order {
		vn := c.nodes[name]
		if !vn.alive || vn.paused {
			continue
		}
		if !vn.nextRun.After(c.now) {
			if vn.busCut {
				vn.nextRun = c.now.Add(vn.owner.Config().RenewEvery) // it takes no partition off the bus
			} else {
				c.ownerStep(vn)
			}
		}
		if at, ok := vn.node.NextWake(); ok && !at.After(c.now) {
			vn.node.Tick(c.now)
			c.carryOut(vn)
		}
	}
}

// ownerStep runs one turn of node vn's owner loop and acts on its outcome.
func (c *Cluster) ownerStep(vn *vnode) {
	vn.nextRun = c.now.Add(vn.owner.Config().RenewEvery)
	var table cluster.LeaseTable = c.leases
	var members cluster.Members = c.leases
	if vn.dbCut {
		table, members = cutTable{}, cutTable{}
	}
	out, _ := cluster.Step(context.Background(), vn.owner, table, members, c.now)
	for _, l := range append(out.Lost, out.Released...) {
		vn.node.Dropped(l.Partition)
	}
	// A step that failed (the node cut off the database) renewed nothing: a lease it can no
	// longer show live it stops serving, as Owner.Owns says, before another node takes it.
	for _, p := range vn.node.Owned() {
		epoch, _ := vn.node.Epoch(p)
		if l, ok := vn.owner.Owns(p, c.now); !ok || l.Epoch != epoch {
			vn.node.Dropped(p)
		}
	}
	if len(out.Acquired) > 0 {
		st, err := c.store.Load(context.Background())
		if err != nil {
			panic(fmt.Sprintf("vcluster: memory store load: %v", err)) // a memory store cannot fail to load
		}
		for _, l := range out.Acquired {
			if c.cfg.Events {
				c.out.Events = append(c.out.Events, Event{Kind: EventAcquired, At: c.now, Node: vn.name, Partition: l.Partition})
			}
			if err := vn.node.Acquired(c.now, l, st); err != nil {
				// The store holds a state this node cannot restore: give the lease back.
				_ = c.leases.Release(context.Background(), l)
			}
		}
	}
	if live, err := members.Live(context.Background(), c.now); err == nil {
		vn.node.GatewaysLive(c.now, live)
	}
	c.carryOut(vn)
}

// giveUp stops node vn serving partition p after a write under it failed, fenced or not stored
// (the node cut off the database): the core is dropped with what it had not handed out, and the
// lease is given up too — released if the table can be reached, else left to lapse, no longer
// renewed — so that the partition is not held by a node that serves it no more.
func (c *Cluster) giveUp(vn *vnode, p int) {
	vn.node.Dropped(p)
	for _, l := range vn.owner.Held() {
		if l.Partition != p {
			continue
		}
		if !vn.dbCut {
			_ = c.leases.Release(context.Background(), l) // ErrLeaseLost: another node has it already
		}
		vn.owner.Advance(cluster.Outcome{Lost: []cluster.Lease{l}})
	}
}

// cutTable is the lease table and members as seen from a node cut off the database.
type cutTable struct{}

func (cutTable) Leases(context.Context) ([]cluster.Lease, error) { return nil, errCut }
func (cutTable) Acquire(context.Context, int, string, time.Time, time.Duration) (cluster.Lease, error) {
	return cluster.Lease{}, errCut
}
func (cutTable) Renew(context.Context, cluster.Lease, time.Time, time.Duration) (cluster.Lease, error) {
	return cluster.Lease{}, errCut
}
func (cutTable) Release(context.Context, cluster.Lease) error                 { return errCut }
func (cutTable) Fence(context.Context, int, uint64) error                     { return errCut }
func (cutTable) Beat(context.Context, string, time.Time, time.Duration) error { return errCut }
func (cutTable) Live(context.Context, time.Time) ([]string, error)            { return nil, errCut }

// carryOut does what node vn's NodeReady asks, in the order it requires: each partition's records
// under its epoch first (a refused write drops the partition and the rest of its work), then its
// bus messages, requests and replies, pushes; and the gateway's work.
func (c *Cluster) carryOut(vn *vnode) {
	defer c.flushInputs(vn.name, func(int) bool { return true })
	for {
		rd := vn.node.TakeReady()
		if rd.Empty() {
			return
		}
		for _, pr := range rd.Parts {
			if len(pr.Records) > 0 {
				err := c.write(vn, pr)
				c.writes = append(c.writes, Write{At: c.now, Node: vn.name, Partition: pr.Partition, Epoch: pr.Epoch, Records: len(pr.Records), Err: err})
				if err != nil {
					// What the core took is lost with its records: the partition's next owner
					// restores a state that never saw it, so the inputs are not told either.
					c.dropInputs(vn.name, pr.Partition)
					c.giveUp(vn, pr.Partition)
					continue
				}
			}
			c.flushInputs(vn.name, func(p int) bool { return p == pr.Partition })
			if c.cfg.Events && c.Current(vn.name, pr.Partition) {
				c.out.Events = append(c.out.Events, c.readyEvent(vn.name, pr))
			}
			for _, o := range pr.Publish {
				c.send(vn, o.Subject, o.Msg, 0)
			}
			for _, r := range pr.Requests {
				c.nextReq++
				c.requests[c.nextReq] = &request{node: vn.name, out: r, deadline: c.now.Add(c.cfg.RequestTimeout)}
				c.send(vn, cluster.PartitionSubject(c.cfg.Name, r.To), r.Request, c.nextReq)
			}
			for _, r := range pr.Replies {
				c.send(vn, "reply", r.Answer, r.Reply)
			}
			for _, p := range pr.Pushes {
				if !slices.Contains(pr.Cancelled, p.ID) {
					c.out.Pushes = append(c.out.Pushes, NodePush{Node: vn.name, Push: p})
				}
			}
		}
		g := rd.Gateway
		for _, o := range g.Publish {
			if open, ok := o.Msg.(cluster.ConnOpened); ok && o.Ack {
				c.nextReq++
				c.requests[c.nextReq] = &request{node: vn.name, open: &open, deadline: c.now.Add(c.cfg.RequestTimeout)}
				c.send(vn, o.Subject, o.Msg, c.nextReq)
				continue
			}
			c.send(vn, o.Subject, o.Msg, 0)
		}
		for _, r := range g.Replies {
			c.send(vn, "reply", r.Answer, r.Reply)
		}
		for _, f := range g.Frames {
			if vn.conns[f.Conn] {
				c.out.Frames = append(c.out.Frames, AppFrame{To: AppConn{vn.name, f.Conn}, Frame: f.Frame})
			}
		}
		for _, cl := range g.Closes {
			if vn.conns[cl.Conn] {
				delete(vn.conns, cl.Conn)
				vn.node.Closed(cl.Conn)
				c.out.Closes = append(c.out.Closes, AppClose{To: AppConn{vn.name, cl.Conn}, Code: cl.Code, Reason: cl.Reason})
			}
		}
	}
}

// flushInputs hands out, in order, the EventInputs node name's cores took of the partitions
// which says.
func (c *Cluster) flushInputs(name string, which func(p int) bool) {
	pending := c.inputs[name]
	if len(pending) == 0 {
		return
	}
	kept := pending[:0]
	for _, e := range pending {
		if which(e.Partition) {
			c.out.Events = append(c.out.Events, e)
		} else {
			kept = append(kept, e)
		}
	}
	c.inputs[name] = kept
}

// dropInputs forgets the EventInputs node name's core of partition p took since its work was
// last carried out.
func (c *Cluster) dropInputs(name string, p int) {
	c.inputs[name] = slices.DeleteFunc(c.inputs[name], func(e Event) bool { return e.Partition == p })
}

// readyEvent is a partition's carried-out work as an Event, its frames and closes addressed to
// the gateways they were published to.
func (c *Cluster) readyEvent(node string, pr cluster.PartReady) Event {
	e := Event{Kind: EventReady, At: c.now, Node: node, Partition: pr.Partition, Records: pr.Records, Trace: pr.Trace,
		Cancelled: pr.Cancelled}
	for _, p := range pr.Pushes {
		if !slices.Contains(pr.Cancelled, p.ID) {
			e.Pushes = append(e.Pushes, p)
		}
	}
	for _, o := range pr.Publish {
		gw := c.addressee(envelope{subject: o.Subject})
		switch m := o.Msg.(type) {
		case cluster.Deliver:
			e.Frames = append(e.Frames, AppFrame{To: AppConn{gw, m.Conn}, Frame: m.Frame})
		case cluster.Close:
			e.Closes = append(e.Closes, AppClose{To: AppConn{gw, m.Conn}, Code: m.Code, Reason: m.Reason})
		}
	}
	return e
}

// OneWriterPerEpoch checks the cluster's fencing invariant on a write log (Writes): every batch
// of a partition stored under an epoch comes from one node, and no batch is stored under an epoch
// older than one already written. It names the first write that breaks it.
func OneWriterPerEpoch(writes []Write) error {
	type key struct {
		p     int
		epoch uint64
	}
	writer := map[key]string{}
	newest := map[int]uint64{}
	for _, w := range writes {
		if w.Err != nil {
			continue
		}
		k := key{w.Partition, w.Epoch}
		if n, ok := writer[k]; ok && n != w.Node {
			return fmt.Errorf("at %s partition %d epoch %d written by two nodes, %s and %s", w.At.Format(time.RFC3339Nano), w.Partition, w.Epoch, n, w.Node)
		}
		writer[k] = w.Node
		if w.Epoch < newest[w.Partition] {
			return fmt.Errorf("at %s node %s wrote partition %d under epoch %d after epoch %d was written", w.At.Format(time.RFC3339Nano), w.Node, w.Partition, w.Epoch, newest[w.Partition])
		}
		newest[w.Partition] = w.Epoch
	}
	return nil
}

// write stores a partition's records under its epoch, fenced by the lease table in the same
// step, as the PostgreSQL store does in one transaction.
func (c *Cluster) write(vn *vnode, pr cluster.PartReady) error {
	if vn.dbCut {
		return errCut
	}
	if err := c.leases.Fence(context.Background(), pr.Partition, pr.Epoch); err != nil {
		return err
	}
	return c.store.Apply(context.Background(), pr.Records)
}

// send puts a bus message in flight from vn. A reply goes back to the node whose request it
// answers; request names that request.
func (c *Cluster) send(vn *vnode, subject string, m cluster.Message, request uint64) {
	if vn.busCut {
		return
	}
	if subject == "reply" && request == 0 {
		return // a published message's "reply": nobody waits
	}
	c.seq++
	c.queue = append(c.queue, envelope{due: c.now.Add(c.cfg.BusDelay), seq: c.seq, from: vn.name, subject: subject, msg: m, request: request})
}

// addressee names the node a gateway subject or reply goes to; "" for other subjects.
func (c *Cluster) addressee(e envelope) string {
	if e.subject == "reply" {
		if r := c.requests[e.request]; r != nil {
			return r.node
		}
		return ""
	}
	if node, ok := strings.CutPrefix(e.subject, "pushlab."+c.cfg.Name+".gw."); ok {
		return node
	}
	return ""
}

// deliver hands a bus message to every node subscribed to its subject: a gateway's own node; a
// partition's subject to every running node that serves the partition (a zombie still listens);
// the broadcast subject to every node; a reply to the node whose request it answers. A request
// nobody listens to is answered at once: unavailable.
func (c *Cluster) deliver(e envelope) {
	prefix := "pushlab." + c.cfg.Name + "."
	switch {
	case e.subject == "reply":
		r := c.requests[e.request]
		if r == nil {
			return // answered already (the first reply wins) or timed out
		}
		if vn := c.nodes[r.node]; vn.alive && !vn.busCut {
			c.deliverTo(vn, e)
		}
	case strings.HasPrefix(e.subject, prefix+"p."):
		p, _ := strconv.Atoi(strings.TrimPrefix(e.subject, prefix+"p."))
		heard := false
		for _, name := range c.order {
			vn := c.nodes[name]
			if !vn.alive || vn.busCut {
				continue
			}
			if _, ok := vn.node.Epoch(p); ok {
				heard = true
				c.deliverTo(vn, e)
			}
		}
		if !heard && e.request != 0 {
			if r := c.requests[e.request]; r != nil {
				delete(c.requests, e.request)
				c.answer(r, cluster.SendAnswer{}, cluster.ErrUnavailable)
			}
		}
	case e.subject == cluster.BroadcastSubject(c.cfg.Name):
		for _, name := range c.order {
			if vn := c.nodes[name]; vn.alive && !vn.busCut {
				c.deliverTo(vn, e)
			}
		}
	default:
		if vn := c.nodes[c.addressee(e)]; vn != nil && vn.alive && !vn.busCut {
			c.deliverTo(vn, e)
		}
	}
}

// deliverTo hands one message to a node, or to its inbox while it is paused.
func (c *Cluster) deliverTo(vn *vnode, e envelope) {
	if vn.paused {
		vn.inbox = append(vn.inbox, e)
		return
	}
	if e.subject == "reply" {
		r := c.requests[e.request]
		if r == nil {
			return
		}
		delete(c.requests, e.request)
		a, _ := e.msg.(cluster.SendAnswer)
		c.answer(r, a, nil)
		return
	}
	vn.node.Receive(c.now, e.msg, e.request)
	c.carryOut(vn)
}
