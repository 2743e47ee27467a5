package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/cluster/vcluster"
)

// ClusterConfig is the relay cluster of a cluster world (NewCluster): its nodes, partitions and
// leases, all in virtual time.
type ClusterConfig struct {
	// Nodes is the node count (3 when zero); the nodes are named n1, n2, ….
	Nodes int
	// Partitions is the partition count (16 when zero).
	Partitions int
	// LeaseTTL and RenewEvery are the nodes' lease timing (6 s and 1 s when zero).
	LeaseTTL   time.Duration
	RenewEvery time.Duration
	// BusDelay is how long a bus message takes between nodes (1 ms when zero).
	BusDelay time.Duration
}

// The cluster twins' defaults (the virtual one here, the live one in sim/live): a scenario's
// cluster: setting means the same cluster on both.
const (
	DefaultClusterNodes      = 3
	DefaultClusterPartitions = 16
	DefaultClusterLeaseTTL   = 6 * time.Second
)

// NodeLink names what a node can be cut off from (PartitionNode).
type NodeLink string

// The links of a node.
const (
	NodeBus NodeLink = "bus" // the other nodes: bus messages to and from it are lost
	NodeDB  NodeLink = "db"  // the database: its writes and lease renewals fail
)

// NodeFaults is what a world whose relay is a cluster of nodes (Features.NodeFaults) can do to
// its nodes. A world without nodes answers ErrUnsupported.
type NodeFaults interface {
	// Nodes names the nodes.
	Nodes() []string
	// KillNode stops a node at once, as SIGKILL would: its app connections drop, its leases
	// lapse after their TTL and other nodes take its partitions.
	KillNode(name string) error
	// RestartNode starts a killed node again with empty memory.
	RestartNode(name string) error
	// PauseNode stops a node from taking any input for d (a zombie): its leases lapse, others
	// take its partitions; resumed, it acts on what waited, and its writes are refused.
	PauseNode(name string, d time.Duration) error
	// PartitionNode cuts a node off the bus or the database (cut true), or heals the cut.
	PartitionNode(name string, from NodeLink, cut bool) error
	// PartitionOwner names the running node (alive, not paused) that holds the partition of an
	// app's user now; an error when none does (its holder died or is paused, and nobody has
	// taken it over yet).
	PartitionOwner(sdkAppID uint64, user string) (string, error)
}

// clusterSide is a virtual world's relay when it is a cluster: a vcluster driven on the world's
// engine. App connections are spread over the nodes by device; pushes carry the node that made
// them, whose answer goes back to it.
type clusterSide struct {
	w   *VirtualWorld
	cfg ClusterConfig
	vc  *vcluster.Cluster
	// byAddr and addrOf map the nodes' connections to the world's, for the connections' whole
	// lives (a node's numbers are never reused, so the maps only grow).
	byAddr map[vcluster.AppConn]relay.ConnID
	addrOf map[relay.ConnID]vcluster.AppConn
	// devOf names the phone behind each world connection the cluster was given.
	devOf map[relay.ConnID]*Device
	// incarnation counts each node's kills: an answer for a node since killed is lost.
	incarnation map[string]int
	// holder is the partition whose core last opened each world connection. A connection moves
	// between cores (from the partition its first frames went to, to its user's at login), and the
	// core it left may let it go later; the oracle's relay is the core that holds it now.
	holder map[relay.ConnID]int
}

// pushSource is what made a push: the single relay (node "") in its restart epoch, or a cluster
// node in its incarnation, serving the push's partition under lease epoch lease.
type pushSource struct {
	node  string
	epoch int
	lease uint64
}

// NewCluster builds a cluster world: the virtual world's phones, network and fakefcm, with a
// relay cluster (vcluster) in place of the one relay core. It lets the virtual time pass until
// every partition has an owner, so the world starts a few seconds after Epoch. A cluster keeps
// its store, so cfg.Lean is refused.
func NewCluster(cfg VirtualConfig, cc ClusterConfig) (*VirtualWorld, error) {
	if cfg.Lean {
		return nil, fmt.Errorf("a cluster world keeps its store (its nodes restore from it): Lean: %w", ErrUnsupported)
	}
	if cc.Nodes == 0 {
		cc.Nodes = DefaultClusterNodes
	}
	if cc.Partitions == 0 {
		cc.Partitions = DefaultClusterPartitions
	}
	if cc.LeaseTTL == 0 {
		cc.LeaseTTL = DefaultClusterLeaseTTL
	}
	if cc.RenewEvery == 0 {
		cc.RenewEvery = time.Second
	}
	if cc.BusDelay == 0 {
		cc.BusDelay = time.Millisecond
	}
	w, err := NewVirtual(cfg)
	if err != nil {
		return nil, err
	}
	names := make([]string, cc.Nodes)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i+1)
	}
	vc, err := vcluster.New(vcluster.Config{Nodes: names, Partitions: cc.Partitions, Relay: w.cfg.Relay,
		LeaseTTL: cc.LeaseTTL, RenewEvery: cc.RenewEvery, BusDelay: cc.BusDelay, Start: w.eng.Now(), Events: true})
	if err != nil {
		return nil, fmt.Errorf("relay cluster: %w", err)
	}
	w.relay = nil
	w.cl = &clusterSide{w: w, cfg: cc, vc: vc, byAddr: map[vcluster.AppConn]relay.ConnID{},
		addrOf: map[relay.ConnID]vcluster.AppConn{}, devOf: map[relay.ConnID]*Device{}, incarnation: map[string]int{},
		holder: map[relay.ConnID]int{}}
	w.cl.pump()
	for range 60 {
		if len(vc.Unowned()) == 0 {
			break
		}
		w.Advance(cc.RenewEvery)
	}
	if free := vc.Unowned(); len(free) > 0 {
		return nil, fmt.Errorf("relay cluster: partitions %v have no owner after a minute", free)
	}
	return w, nil
}

// features is what a cluster world honours.
func (s *clusterSide) features() Features { return ClusterFeatures(s.w.cfg.Features()) }

// ClusterFeatures is what a cluster world honours, given its virtual world's: the same, node
// faults, and a relay restart that restarts every node.
func ClusterFeatures(virtual Features) Features {
	virtual.Twin, virtual.NodeFaults = "cluster", true
	return virtual
}

// Cluster is the world's relay cluster, for reading (its write log, owners); nil in a world
// whose relay is one core.
func (w *VirtualWorld) Cluster() *vcluster.Cluster {
	if w.cl == nil {
		return nil
	}
	return w.cl.vc
}

// pump runs the cluster up to the world's time, carries out what it hands out, and arms the
// wake-up for its next event.
func (s *clusterSide) pump() {
	w := s.w
	s.vc.Advance(w.eng.Now())
	out := s.vc.TakeOutput()
	for _, e := range out.Events {
		s.event(e)
	}
	for _, f := range out.Frames {
		if c := w.conns.get(s.byAddr[f.To]); c != nil {
			c.toDevice(f.Frame)
		}
	}
	for _, cl := range out.Closes {
		if c := w.conns.get(s.byAddr[cl.To]); c != nil {
			c.closedByRelay(cl.Reason)
		}
	}
	// A push decided and cancelled within this batch (a later input of the same instant took
	// its token away) never leaves: the cancel, told above, came before the push was queued.
	cancelled := map[uint64]bool{}
	for _, e := range out.Events {
		for _, id := range e.Cancelled {
			cancelled[id] = true
		}
	}
	for _, p := range out.Pushes {
		if cancelled[p.Push.ID] {
			if w.log.on {
				w.log.add(w.eng.Now(), "push %d attempt %d to %s cancelled before it left %s", p.Push.ID, p.Push.Attempt, p.Push.Device.DeviceID, p.Node)
			}
			continue
		}
		if w.log.on {
			w.log.add(w.eng.Now(), "push %d attempt %d to %s seq %v from %s", p.Push.ID, p.Push.Attempt, p.Push.Device.DeviceID, p.Push.Seqs, p.Node)
		}
		src := pushSource{node: p.Node, epoch: s.incarnation[p.Node]}
		if n := s.vc.Node(p.Node); n != nil {
			src.lease, _ = n.Epoch(relay.PushPartition(p.Push.ID))
		}
		w.sendToFCM(p.Push, src)
	}
	if at, ok := s.vc.NextEvent(); ok {
		w.relayWake.arm(w.eng, at, s.pump)
	}
}

// event hands one of the cluster's events to the tap (the world's conn numbers in place of the
// nodes'), and keeps its trace.
func (s *clusterSide) event(e vcluster.Event) {
	w := s.w
	switch e.Kind {
	case vcluster.EventAcquired:
		if w.log.on {
			w.log.add(w.eng.Now(), "partition %d to node %s", e.Partition, e.Node)
		}
		w.tapped(TapEvent{Kind: TapPartitionMoved, Partition: relay.Partition{Index: e.Partition, Count: s.cfg.Partitions}})
	case vcluster.EventInput:
		in := e.Input
		var dev *Device
		if in.Conn != 0 {
			id, ok := s.byAddr[vcluster.AppConn{Node: e.From.Gateway, Conn: e.From.Conn}]
			if !ok {
				return
			}
			in.Conn, dev = id, s.devOf[id]
			if in.Kind == relay.InputOpen {
				s.holder[id] = e.Partition
			} else if p, ok := s.holder[id]; !ok || p != e.Partition {
				return // a core the connection has left, letting it go
			}
			if in.Kind == relay.InputClosed {
				delete(s.holder, id)
			}
		}
		w.tapped(TapEvent{Kind: TapInput, Input: in, Device: dev})
	case vcluster.EventReady:
		rd := relay.Ready{Records: e.Records, Trace: e.Trace, Pushes: e.Pushes, Cancelled: e.Cancelled}
		for _, f := range e.Frames {
			if id, ok := s.byAddr[f.To]; ok {
				rd.Frames = append(rd.Frames, relay.OutFrame{Conn: id, Frame: f.Frame})
			}
		}
		for _, cl := range e.Closes {
			if id, ok := s.byAddr[cl.To]; ok {
				rd.Closes = append(rd.Closes, relay.CloseConn{Conn: id, Code: cl.Code, Reason: cl.Reason})
			}
		}
		if w.tap != nil {
			w.tapped(TapEvent{Kind: TapReady, Ready: &rd})
		}
		for _, id := range e.Cancelled {
			delete(w.queued, id)
		}
		for _, t := range e.Trace {
			if w.log.on {
				w.log.add(t.Time, "trace %s %s seq %d %v", t.DeviceID, t.Reason, t.Seq, t.Seqs)
			}
		}
		w.trace = append(w.trace, e.Trace...)
		if w.onTrace != nil {
			for _, t := range e.Trace {
				w.onTrace(t)
			}
		}
	}
}

// open connects c to a node: the device's own (spread by the order devices were added), or the
// next one after it that takes connections (alive, on the bus), as an app that finds its node
// gone tries another.
func (s *clusterSide) open(c *vconn) error {
	names := s.vc.Nodes()
	first := max(slices.Index(s.w.devices, c.dev), 0)
	for k := range names {
		name := names[(first+k)%len(names)]
		addr, err := s.vc.Connect(s.w.eng.Now(), name)
		if err != nil {
			continue
		}
		s.byAddr[addr], s.addrOf[c.id], s.devOf[c.id] = c.id, addr, c.dev
		s.w.conns.put(c)
		c.relayOpen = true
		s.pump()
		return nil
	}
	return errors.New("no relay node is up and on the bus")
}

// input hands the cluster an input of the world's relay side: a connection's frame or close,
// a kick or a user's push settings, or time.
func (s *clusterSide) input(in relay.Input, dev *Device) error {
	switch in.Kind {
	case relay.InputReceive:
		data, err := json.Marshal(in.Frame)
		if err != nil {
			return fmt.Errorf("encode a client frame: %w", err)
		}
		s.vc.Send(s.w.eng.Now(), s.addrOf[in.Conn], data)
	case relay.InputClosed:
		s.vc.Disconnect(s.w.eng.Now(), s.addrOf[in.Conn])
	case relay.InputKick, relay.InputSetPushSettings, relay.InputPutProfile:
		// The tap hears of the call once a core took it for good (its outcome stored), and
		// before that outcome, which the cluster hands out at the next pump.
		app, user := in.App, in.User
		if in.Kind == relay.InputPutProfile {
			app, user = in.Profile.SDKAppID, in.Profile.UserID
		}
		return s.retry(func() error {
			err := s.vc.Admin(s.w.eng.Now(), app, user, func(now time.Time, c *relay.Core) error { return c.Step(now, in) })
			if !errors.Is(err, cluster.ErrNotOwner) {
				s.w.tapped(TapEvent{Kind: TapInput, Input: in})
			}
			return err
		})
	case relay.InputTick:
	default:
		return fmt.Errorf("the cluster world takes no %s input from its phones", in.Kind)
	}
	s.pump()
	return nil
}

// retry runs an admin call, again after a second while no node serves its partition (a
// partition moving after a node's death), for up to a lease TTL and a few renewals.
func (s *clusterSide) retry(call func() error) error {
	s.pump()
	var err error
	for range int((s.cfg.LeaseTTL+5*s.cfg.RenewEvery)/time.Second) + 1 {
		if err = call(); !errors.Is(err, cluster.ErrNotOwner) {
			s.pump()
			return err
		}
		s.w.Advance(time.Second)
	}
	return fmt.Errorf("the relay cluster: %w", err)
}

// catalog makes a catalog change (apps, certificates, groups) on the cluster.
func (s *clusterSide) catalog(in relay.Input) error {
	return s.retry(func() error { return s.vc.Catalog(s.w.eng.Now(), in) })
}

// online reports whether the core of the user's partition sees the device connected.
func (s *clusterSide) online(app uint64, user, device string) bool {
	online := false
	_ = s.vc.Admin(s.w.eng.Now(), app, user, func(_ time.Time, c *relay.Core) error {
		if u, ok := c.User(app, user); ok {
			for _, d := range u.Devices {
				online = online || (d.DeviceID == device && d.Online)
			}
		}
		return nil
	})
	return online
}

// pushResult hands FCM's answer to the node that made the push, if it still runs.
func (s *clusterSide) pushResult(src pushSource, r relay.PushResult) {
	if src.epoch != s.incarnation[src.node] {
		return // the node that sent it died
	}
	s.vc.PushResult(s.w.eng.Now(), src.node, r)
	s.pump()
}

// stale reports whether a push was made by a node since killed, or one that no longer serves
// its partition under the lease it had (a zombie's, a moved partition's).
func (s *clusterSide) stale(src pushSource, id uint64) bool {
	if src.epoch != s.incarnation[src.node] {
		return true
	}
	n := s.vc.Node(src.node)
	if n == nil {
		return true
	}
	lease, ok := n.Epoch(relay.PushPartition(id))
	return !ok || lease != src.lease || !s.vc.Current(src.node, relay.PushPartition(id))
}

// kill kills a node; its incarnation's pushes in flight are answered to nobody.
func (s *clusterSide) kill(name string) error {
	if err := s.vc.Kill(s.w.eng.Now(), name); err != nil {
		return err
	}
	s.incarnation[name]++
	if s.w.log.on {
		s.w.log.add(s.w.eng.Now(), "node %s killed", name)
	}
	s.pump()
	return nil
}

// restartAll kills every live node and starts them all again: the cluster world's RestartRelay.
func (s *clusterSide) restartAll() error {
	s.w.tapped(TapEvent{Kind: TapRestarted})
	for _, name := range s.vc.Nodes() {
		if s.vc.Alive(name) {
			if err := s.kill(name); err != nil {
				return err
			}
		}
	}
	clear(s.w.queued)
	for _, name := range s.vc.Nodes() {
		if err := s.vc.Restart(s.w.eng.Now(), name); err != nil {
			return err
		}
	}
	s.pump()
	return nil
}

// Nodes (NodeFaults) names the cluster's nodes; none in a world whose relay is one core.
func (w *VirtualWorld) Nodes() []string {
	if w.cl == nil {
		return nil
	}
	return w.cl.vc.Nodes()
}

// KillNode (NodeFaults) kills a node of the cluster.
func (w *VirtualWorld) KillNode(name string) error {
	if w.cl == nil {
		return fmt.Errorf("kill node %s: the relay is one core: %w", name, ErrUnsupported)
	}
	return w.cl.kill(name)
}

// RestartNode (NodeFaults) starts a killed node again.
func (w *VirtualWorld) RestartNode(name string) error {
	if w.cl == nil {
		return fmt.Errorf("restart node %s: the relay is one core: %w", name, ErrUnsupported)
	}
	if err := w.cl.vc.Restart(w.eng.Now(), name); err != nil {
		return err
	}
	if w.log.on {
		w.log.add(w.eng.Now(), "node %s restarted", name)
	}
	w.cl.pump()
	return nil
}

// PauseNode (NodeFaults) pauses a node for d, then resumes it.
func (w *VirtualWorld) PauseNode(name string, d time.Duration) error {
	if w.cl == nil {
		return fmt.Errorf("pause node %s: the relay is one core: %w", name, ErrUnsupported)
	}
	if err := w.cl.vc.Pause(w.eng.Now(), name); err != nil {
		return err
	}
	inc := w.cl.incarnation[name]
	w.eng.After(d, func() {
		if w.cl.incarnation[name] != inc {
			return // killed while paused
		}
		_ = w.cl.vc.Resume(w.eng.Now(), name) // a node alive when paused and not killed since is still there
		w.cl.pump()
	})
	w.cl.pump()
	return nil
}

// PartitionNode (NodeFaults) cuts a node off the bus or the database, or heals the cut.
func (w *VirtualWorld) PartitionNode(name string, from NodeLink, cut bool) error {
	if w.cl == nil {
		return fmt.Errorf("partition node %s: the relay is one core: %w", name, ErrUnsupported)
	}
	var err error
	switch from {
	case NodeBus:
		err = w.cl.vc.CutBus(w.eng.Now(), name, cut)
	case NodeDB:
		err = w.cl.vc.CutDB(w.eng.Now(), name, cut)
	default:
		err = fmt.Errorf("partition node %s from %q: a node is cut off the bus or the db", name, from)
	}
	if err != nil {
		return err
	}
	w.cl.pump()
	return nil
}

// PartitionOwner (NodeFaults) names the node holding the user's partition by the lease table,
// if it is running: a killed or paused node's lease lives on until its TTL, but it serves
// nobody.
func (w *VirtualWorld) PartitionOwner(sdkAppID uint64, user string) (string, error) {
	if w.cl == nil {
		return "", fmt.Errorf("the owner of %s's partition: the relay is one core: %w", user, ErrUnsupported)
	}
	p := relay.PartitionOf(sdkAppID, user, w.cl.cfg.Partitions)
	if owner := w.cl.vc.Owner(p); owner != "" && w.cl.vc.Running(owner) {
		return owner, nil
	}
	return "", fmt.Errorf("%s's partition %d has no running owner now", user, p)
}

var _ NodeFaults = (*VirtualWorld)(nil)

// NodeOf names the node a phone's app connection is open on; "" when it has none (or the relay
// is one core).
func (w *VirtualWorld) NodeOf(d *Device) string {
	if w.cl == nil {
		return ""
	}
	for _, c := range w.conns.all() {
		if c.dev == d && c.relayOpen {
			return w.cl.addrOf[c.id].Node
		}
	}
	return ""
}
