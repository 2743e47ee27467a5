package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
)

// ClusterConfig makes the relay one node of a cluster (DESIGN.md §11): several relay processes on
// one PostgreSQL database and one NATS bus, each serving app connections and the admin API, each
// owning the partitions it holds a lease on.
type ClusterConfig struct {
	// NodeID names this node: in the lease table and in its gateway's subject. Required; a
	// subject token (cluster.CheckSubjectToken).
	NodeID string
	// Name names the cluster in the bus's subjects; empty means "pushlab".
	Name string
	// Partitions is the fixed partition count; 0 means cluster.DefaultPartitions. Every node of a
	// cluster must use the same.
	Partitions int
	// LeaseTTL is how long a partition's lease holds without renewal; 0 means
	// cluster.DefaultLeaseTTL. A dead node's partitions are taken over within about this.
	LeaseTTL time.Duration
	// RenewEvery is the owner loop's period; 0 means LeaseTTL/3.
	RenewEvery time.Duration
	// RequestTimeout bounds a cross-partition send's wait for the other owner's answer; 0
	// means 2 s. A send that gets no answer in time is answered 5002 (unavailable, retry).
	RequestTimeout time.Duration
	// Bus is the node-to-node bus (natsbus in production). Required.
	Bus cluster.Bus
	// Leases and Members are the lease table and the live nodes (pgstore's LeaseTable is both).
	// Required.
	Leases  cluster.LeaseTable
	Members cluster.Members
}

// FencedStore is the store of a cluster node: Config.Store must be one. ApplyFenced writes a
// partition's records only while epoch is the partition's current lease epoch, and fails with an
// error wrapping cluster.ErrFenced otherwise (pgstore.Store is one).
type FencedStore interface {
	relay.Store
	ApplyFenced(ctx context.Context, partition int, epoch uint64, records []relay.Record) error
}

// clusterShell is the cluster node's part of the server.
type clusterShell struct {
	cfg   ClusterConfig
	store FencedStore
	node  *cluster.Node  // owned by the loop goroutine
	owner *cluster.Owner // owned by the lease goroutine (by Close once that has stopped)

	// replies are the bus requests (SendRequests) the node answers, by the name it was given for
	// them (owned by the loop).
	replies   map[uint64]func([]byte) error
	nextReply uint64
	live      []string // the live nodes, as last read (owned by the loop)
	// catalog are the latest catalog changes the loop took from the bus, numbered by
	// catalogSeq: a partition restored from a Load that began before one of them was stored
	// takes it again (catalog changes are idempotent puts and deletes).
	catalog    []catalogChange
	catalogSeq atomic.Uint64

	view atomic.Pointer[ClusterView]

	subMu    sync.Mutex
	subs     map[int][]func() error // the partition subscriptions, by partition
	nodeSubs []func() error

	// release takes partitions the loop stopped serving after a store failure: the lease loop
	// gives their leases up, so that they are restored from the store again.
	release   chan int
	offBus    bool // the lease loop found the bus unreachable and gave its partitions up (owned by it)
	leaseStop chan struct{}
	leaseDone chan struct{}
	bg        sync.WaitGroup // bus requests and forwarded admin calls in flight
}

// catalogChange is a catalog change the node took from the bus, with its number.
type catalogChange struct {
	seq uint64
	in  relay.Input
}

// maxCatalogLog bounds the catalog changes kept for partitions being restored: more than a
// Load's duration can see.
const maxCatalogLog = 1024

// ClusterView is the answer of GET /admin/v1/cluster: this node, the partitions it serves, the
// live nodes, and the lease table's live leases. A client waits for a cluster to be ready by
// polling it until every partition has an owner that serves it.
type ClusterView struct {
	NodeID     string             `json:"nodeId"`
	Cluster    string             `json:"cluster"`
	Partitions int                `json:"partitions"`
	Owned      []OwnedPartition   `json:"owned"`
	LiveNodes  []string           `json:"liveNodes"`
	Leases     []ClusterLeaseView `json:"leases,omitempty"`
	// Unowned lists the partitions with no live lease.
	Unowned []int `json:"unowned,omitempty"`
}

// OwnedPartition is a partition a node serves, under its lease's epoch.
type OwnedPartition struct {
	Partition int    `json:"partition"`
	Epoch     uint64 `json:"epoch"`
}

// ClusterLeaseView is a live lease in the table.
type ClusterLeaseView struct {
	Partition int       `json:"partition"`
	Node      string    `json:"node"`
	Epoch     uint64    `json:"epoch"`
	Expires   time.Time `json:"expires"`
}

// Cluster events, handed to the loop.
func (busEvent) isEvent()     {}
func (answerEvent) isEvent()  {}
func (openedEvent) isEvent()  {}
func (leaseEvent) isEvent()   {}
func (dropAllEvent) isEvent() {}

// busEvent is a message from the bus; reply answers it when it is a request.
type busEvent struct {
	msg   cluster.Message
	reply func([]byte) error
}

// answerEvent is the outcome of a cross-partition send's bus request.
type answerEvent struct {
	out    cluster.OutRequest
	answer cluster.SendAnswer
	err    error
}

// openedEvent is the outcome of a gateway's ConnOpened request: err when the partition has no
// owner or it did not answer in time.
type openedEvent struct {
	msg cluster.ConnOpened
	err error
}

// leaseEvent is one owner-loop turn's outcome: partitions to stop serving, leases acquired with
// the state to restore them from, and the live nodes. The loop answers on failed the partitions
// it could not restore.
type leaseEvent struct {
	dropped  []int
	acquired []cluster.Lease
	state    *relay.State
	// catalogSeq is the loop's catalog number when the Load that read state began.
	catalogSeq uint64
	live       []string
	hasLive    bool
	failed     chan []int
	// busLost says the node found itself off the bus: its gateway closes its connections.
	busLost bool
}

// connectedBus is a bus that can say whether it reaches the other nodes now (natsbus does).
type connectedBus interface{ Connected() bool }

// dropAllEvent stops serving every partition (a graceful stop).
type dropAllEvent struct{ done chan struct{} }

// newCluster prepares the node; startCluster starts it.
func (s *Server) newCluster(cc ClusterConfig) error {
	fs, ok := s.cfg.Store.(FencedStore)
	switch {
	case !ok:
		return errors.New("relay server: a cluster node needs a store with fenced writes (PostgreSQL)")
	case cc.Bus == nil || cc.Leases == nil || cc.Members == nil:
		return errors.New("relay server: a cluster node needs its bus, lease table and members")
	case s.cfg.Tap != nil:
		return errors.New("relay server: a Tap watches a single relay's core, not a cluster node")
	}
	if cc.Name == "" {
		cc.Name = "pushlab"
	}
	if cc.Partitions == 0 {
		cc.Partitions = cluster.DefaultPartitions
	}
	if cc.LeaseTTL == 0 {
		cc.LeaseTTL = cluster.DefaultLeaseTTL
	}
	if cc.RequestTimeout == 0 {
		cc.RequestTimeout = 2 * time.Second
	}
	node, err := cluster.NewNode(cluster.NodeConfig{ID: cc.NodeID, Cluster: cc.Name, Partitions: cc.Partitions, Relay: s.cfg.Core})
	if err != nil {
		return fmt.Errorf("relay server: %w", err)
	}
	owner, err := cluster.NewOwner(cluster.Config{ID: cc.NodeID, Partitions: cc.Partitions, LeaseTTL: cc.LeaseTTL, RenewEvery: cc.RenewEvery})
	if err != nil {
		return fmt.Errorf("relay server: %w", err)
	}
	cc.RenewEvery = owner.Config().RenewEvery
	s.cl = &clusterShell{cfg: cc, store: fs, node: node, owner: owner, replies: map[uint64]func([]byte) error{},
		subs: map[int][]func() error{}, release: make(chan int, cc.Partitions),
		leaseStop: make(chan struct{}), leaseDone: make(chan struct{})}
	s.cl.view.Store(&ClusterView{NodeID: cc.NodeID, Cluster: cc.Name, Partitions: cc.Partitions, Owned: []OwnedPartition{}, LiveNodes: []string{}})
	return nil
}

// startCluster subscribes the node's gateway and the broadcast subject, and starts the lease
// loop, which takes the node's share of the partitions.
func (s *Server) startCluster() error {
	cl := s.cl
	for _, subject := range []string{cluster.GatewaySubject(cl.cfg.Name, cl.cfg.NodeID), cluster.BroadcastSubject(cl.cfg.Name)} {
		unsub, err := cl.cfg.Bus.Subscribe(subject, s.onBus)
		if err != nil {
			close(cl.leaseDone) // no lease loop to wait for in Close
			return fmt.Errorf("relay server: subscribe %s: %w", subject, err)
		}
		cl.subMu.Lock()
		cl.nodeSubs = append(cl.nodeSubs, unsub)
		cl.subMu.Unlock()
	}
	go s.leaseLoop()
	return nil
}

// stopCluster ends the node's part gracefully: the lease loop stops, the node stops serving its
// partitions and gives their leases up (so that the other nodes take them at once, not after the
// TTL), and its subscriptions end. The app connections are closed already.
func (s *Server) stopCluster() {
	cl := s.cl
	close(cl.leaseStop)
	<-cl.leaseDone
	done := make(chan struct{})
	if s.post(dropAllEvent{done: done}) {
		select {
		case <-done:
		case <-s.loopDone:
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, l := range cl.owner.Held() {
		if err := cl.cfg.Leases.Release(ctx, l); err != nil && !errors.Is(err, cluster.ErrLeaseLost) {
			s.log.Warn("lease not released; it lapses after its TTL", "partition", l.Partition, "err", err)
		}
	}
	cl.subMu.Lock()
	defer cl.subMu.Unlock()
	for p, unsubs := range cl.subs {
		for _, u := range unsubs {
			_ = u()
		}
		delete(cl.subs, p)
	}
	for _, u := range cl.nodeSubs {
		_ = u()
	}
	cl.nodeSubs = nil
	s.log.Info("cluster node left: its partitions are released", "node", cl.cfg.NodeID)
}

// waitBus waits for the bus requests and forwarded admin calls in flight (after the loop ended,
// they end at once or at their deadline).
func (cl *clusterShell) waitBus() { cl.bg.Wait() }

// serves reports whether this node serves partition p now (as the loop last published).
func (cl *clusterShell) serves(p int) bool {
	v := cl.view.Load()
	_, ok := slices.BinarySearchFunc(v.Owned, p, func(o OwnedPartition, p int) int { return o.Partition - p })
	return ok
}

// onBus hands a message from the node's subscriptions to the loop.
func (s *Server) onBus(m cluster.Msg) {
	msg, err := cluster.Decode(m.Data)
	if err != nil {
		s.log.Warn("bus message not understood", "subject", m.Subject, "err", err)
		return
	}
	s.post(busEvent{msg: msg, reply: m.Reply})
}

// leaseLoop runs the owner loop every RenewEvery until the node stops.
func (s *Server) leaseLoop() {
	cl := s.cl
	defer close(cl.leaseDone)
	ticker := time.NewTicker(cl.cfg.RenewEvery)
	defer ticker.Stop()
	for {
		s.leaseStep()
		select {
		case <-cl.leaseStop:
			return
		case <-s.loopDone:
			return
		case <-ticker.C:
		}
	}
}

// leaseStep is one turn of the owner loop: beat, renew, acquire and release leases (cluster.Step);
// subscribe an acquired partition's subjects before restoring it from the store and serving it;
// unsubscribe a lost or released one once the loop stopped serving it.
func (s *Server) leaseStep() {
	cl := s.cl
	ctx, cancel := context.WithTimeout(context.Background(), cl.cfg.RenewEvery)
	defer cancel()
	// Partitions the loop stopped serving after a store failure: give them up, to be restored.
	for drained := false; !drained; {
		select {
		case p := <-cl.release:
			for _, l := range cl.owner.Held() {
				if l.Partition == p {
					if err := cl.cfg.Leases.Release(ctx, l); err != nil && !errors.Is(err, cluster.ErrLeaseLost) {
						s.log.Warn("lease not released", "partition", p, "err", err)
					}
				}
			}
		default:
			drained = true
		}
	}
	now := s.clock()
	if cb, ok := cl.cfg.Bus.(connectedBus); ok && !cb.Connected() {
		s.busLost(ctx)
		return
	}
	cl.offBus = false
	out, err := cluster.Step(ctx, cl.owner, cl.cfg.Leases, cl.cfg.Members, now)
	if err != nil {
		s.log.Warn("owner loop step failed; leases not renewed lapse after their TTL", "err", err)
	}
	var dropped []int
	for _, l := range append(out.Lost, out.Released...) {
		dropped = append(dropped, l.Partition)
	}
	var acquired []cluster.Lease
	for _, l := range out.Acquired {
		if err := s.subscribePartition(l.Partition); err != nil {
			s.log.Error("partition not served: its subjects could not be subscribed", "partition", l.Partition, "err", err)
			s.giveUp(ctx, l)
			continue
		}
		acquired = append(acquired, l)
	}
	var st *relay.State
	catalogSeq := cl.catalogSeq.Load()
	if len(acquired) > 0 {
		if st, err = cl.store.Load(ctx); err != nil {
			s.log.Error("acquired partitions not served: the store could not be read", "partitions", len(acquired), "err", err)
			for _, l := range acquired {
				s.giveUp(ctx, l)
			}
			acquired = nil
		} else {
			for _, cert := range st.Certificates {
				if err := s.cfg.Sender.Set(ctx, cert); err != nil {
					s.log.Warn("certificate not usable", "certificateId", cert.ID, "err", err)
				}
			}
		}
	}
	live, lerr := cl.cfg.Members.Live(ctx, now)
	ev := leaseEvent{dropped: dropped, acquired: acquired, state: st, catalogSeq: catalogSeq, live: live, hasLive: lerr == nil, failed: make(chan []int, 1)}
	if len(dropped) == 0 && len(acquired) == 0 && !ev.hasLive {
		return
	}
	if !s.post(ev) {
		return
	}
	var failed []int
	select {
	case failed = <-ev.failed:
	case <-s.loopDone:
		return
	}
	for _, l := range acquired {
		if slices.Contains(failed, l.Partition) {
			s.giveUp(ctx, l)
		}
	}
	for _, p := range dropped {
		s.unsubscribePartition(p)
	}
	if len(acquired) > 0 || len(dropped) > 0 {
		s.log.Info("partitions moved", "node", cl.cfg.NodeID, "acquired", len(acquired)-len(failed), "dropped", len(dropped), "serving", len(cl.owner.Held()))
	}
}

// busLost is what the node does off the bus: it can serve nobody (it reaches no connection of
// another gateway, and hears none of the broadcasts that keep its cores right), so it closes its
// app connections for the apps to reconnect to a node that can, gives its leases back for the
// others to take at once, and takes none (nor beats) until the bus is back, as the virtual
// cluster's nodes do.
func (s *Server) busLost(ctx context.Context) {
	cl := s.cl
	held := cl.owner.Held()
	if cl.offBus && len(held) == 0 {
		return
	}
	if !cl.offBus {
		s.log.Warn("node off the bus: its partitions are given up until it is back", "node", cl.cfg.NodeID, "partitions", len(held))
	}
	cl.offBus = true
	var dropped []int
	for _, l := range held {
		if err := cl.cfg.Leases.Release(ctx, l); err != nil && !errors.Is(err, cluster.ErrLeaseLost) {
			s.log.Warn("lease not released; it lapses after its TTL", "partition", l.Partition, "err", err)
		}
		dropped = append(dropped, l.Partition)
	}
	cl.owner.Advance(cluster.Outcome{Lost: held})
	if !s.post(leaseEvent{dropped: dropped, busLost: true}) {
		return
	}
	for _, p := range dropped {
		s.unsubscribePartition(p)
	}
}

// giveUp releases an acquired lease this node cannot serve, and drops its subscriptions.
func (s *Server) giveUp(ctx context.Context, l cluster.Lease) {
	s.unsubscribePartition(l.Partition)
	if err := s.cl.cfg.Leases.Release(ctx, l); err != nil && !errors.Is(err, cluster.ErrLeaseLost) {
		s.log.Warn("lease not released; it lapses after its TTL", "partition", l.Partition, "err", err)
	}
}

// subscribePartition subscribes partition p's inbox and its admin subject.
func (s *Server) subscribePartition(p int) error {
	cl := s.cl
	cl.subMu.Lock()
	defer cl.subMu.Unlock()
	if _, ok := cl.subs[p]; ok {
		return nil
	}
	inbox, err := cl.cfg.Bus.Subscribe(cluster.PartitionSubject(cl.cfg.Name, p), s.onBus)
	if err != nil {
		return err
	}
	admin, err := cl.cfg.Bus.Subscribe(adminSubject(cl.cfg.Name, p), func(m cluster.Msg) { s.onForwarded(p, m) })
	if err != nil {
		_ = inbox()
		return err
	}
	cl.subs[p] = []func() error{inbox, admin}
	return nil
}

// unsubscribePartition ends partition p's subscriptions.
func (s *Server) unsubscribePartition(p int) {
	cl := s.cl
	cl.subMu.Lock()
	defer cl.subMu.Unlock()
	for _, u := range cl.subs[p] {
		if err := u(); err != nil {
			s.log.Warn("unsubscribe failed", "partition", p, "err", err)
		}
	}
	delete(cl.subs, p)
}

// applyCluster hands one event to the node; handled is false for the events the loop handles the
// same way in both modes (admin calls).
func (s *Server) applyCluster(now time.Time, ev event) (reply func(error), handled bool) {
	cl := s.cl
	n := cl.node
	switch ev := ev.(type) {
	case openEvent:
		n.Open(ev.id)
	case frameEvent:
		n.Frame(ev.id, ev.data)
	case closedEvent:
		n.Closed(ev.id)
	case resultEvent:
		n.PushResult(now, ev.r)
	case busEvent:
		var name uint64
		switch ev.msg.(type) {
		case cluster.SendRequest, cluster.ConnOpened:
		default:
			ev.reply = nil // only these are answered
		}
		if ev.reply != nil {
			cl.nextReply++
			name = cl.nextReply
			cl.replies[name] = ev.reply
		}
		if c, ok := ev.msg.(cluster.Catalog); ok {
			cl.catalog = append(cl.catalog, catalogChange{seq: cl.catalogSeq.Add(1), in: c.Input})
			if len(cl.catalog) > maxCatalogLog {
				cl.catalog = slices.Delete(cl.catalog, 0, len(cl.catalog)-maxCatalogLog)
			}
		}
		n.Receive(now, ev.msg, name)
	case answerEvent:
		n.RemoteAnswered(now, ev.out, ev.answer, ev.err)
	case openedEvent:
		n.Opened(ev.msg, ev.err)
	case leaseEvent:
		if ev.busLost {
			n.BusLost(now)
		}
		for _, p := range ev.dropped {
			n.Dropped(p)
		}
		var failed []int
		for _, l := range ev.acquired {
			if err := n.Acquired(now, l, ev.state); err != nil {
				s.log.Error("partition not restored; its lease is given up", "partition", l.Partition, "err", err)
				failed = append(failed, l.Partition)
				continue
			}
			// The catalog changes the state may predate; one it already holds is refused
			// (exists, not found) and changes nothing.
			c, _ := n.Core(l.Partition)
			for _, ch := range cl.catalog {
				if ch.seq > ev.catalogSeq {
					_ = c.Step(now, ch.in)
				}
			}
		}
		if ev.hasLive {
			cl.live = ev.live
			n.GatewaysLive(now, ev.live)
		}
		s.publishView()
		if ev.failed != nil {
			ev.failed <- failed
		}
	case dropAllEvent:
		for _, p := range n.Owned() {
			n.Dropped(p)
		}
		s.publishView()
		close(ev.done)
	default:
		return nil, false
	}
	return nil, true
}

// publishView records what the node serves, for the admin routing and GET /admin/v1/cluster
// (from the loop).
func (s *Server) publishView() {
	cl := s.cl
	v := &ClusterView{NodeID: cl.cfg.NodeID, Cluster: cl.cfg.Name, Partitions: cl.cfg.Partitions,
		Owned: []OwnedPartition{}, LiveNodes: slices.Clone(cl.live)}
	if v.LiveNodes == nil {
		v.LiveNodes = []string{}
	}
	for _, p := range cl.node.Owned() {
		e, _ := cl.node.Epoch(p)
		v.Owned = append(v.Owned, OwnedPartition{Partition: p, Epoch: e})
	}
	cl.view.Store(v)
}

// carryOutNode does what the node's NodeReady asks, in the order it requires: each partition's
// records and trace under its epoch first (a write refused or failed drops the partition and the
// rest of its work), then its bus messages, requests and replies, and pushes; and the gateway's
// work. It returns the store failures, for the admin calls waiting on the batch.
func (s *Server) carryOutNode() error {
	cl := s.cl
	var errs []error
	certs := map[int64]relay.Record{}
	dropped := false
	for {
		rd := cl.node.TakeReady()
		if rd.Empty() {
			break
		}
		for _, pr := range rd.Parts {
			if err := s.carryOutPart(pr, certs); err != nil {
				errs = append(errs, err)
				dropped = true
			}
		}
		g := rd.Gateway
		for _, o := range g.Publish {
			s.publish(o)
		}
		for _, r := range g.Replies {
			s.reply(r)
		}
		s.writeLocal(g.Frames, g.Closes)
	}
	if len(certs) > 0 {
		s.syncCertificates(slices.Collect(maps.Values(certs)))
	}
	if dropped {
		s.publishView()
	}
	return errors.Join(errs...)
}

// carryOutPart carries out one partition's work; certs collects the certificate changes it
// stored (each core of the node stores its copy of a catalog change).
func (s *Server) carryOutPart(pr cluster.PartReady, certs map[int64]relay.Record) error {
	cl := s.cl
	if records := batchRecords(pr.Records, pr.Trace); len(records) > 0 {
		err := s.writeBatch(s.clock(), pr.Records, pr.Trace, func() error {
			return cl.store.ApplyFenced(context.Background(), pr.Partition, pr.Epoch, records)
		})
		if err != nil {
			cl.node.Dropped(pr.Partition)
			if errors.Is(err, cluster.ErrFenced) {
				s.log.Warn("partition lost: another node owns it under a newer epoch", "partition", pr.Partition, "epoch", pr.Epoch, "err", err)
			} else {
				s.log.Error("store failed; this node stops serving the partition", "partition", pr.Partition, "epoch", pr.Epoch, "err", err)
				select {
				case cl.release <- pr.Partition:
				default:
				}
			}
			return fmt.Errorf("partition %d: %w", pr.Partition, err)
		}
		for _, r := range pr.Records {
			switch r := r.(type) {
			case relay.PutCertificate:
				certs[r.Cert.ID] = r
			case relay.DeleteCertificate:
				certs[r.ID] = r
			}
		}
		s.trace.appended(len(pr.Trace))
		s.deliverTestPushAnswers(pr.Trace)
		s.metrics.observe(pr.Records, pr.Trace)
	}
	for _, o := range pr.Publish {
		s.publish(o)
	}
	for _, r := range pr.Requests {
		s.request(r)
	}
	for _, r := range pr.Replies {
		s.reply(r)
	}
	if len(pr.Cancelled) > 0 {
		s.pushes.cancel(pr.Cancelled)
	}
	for _, p := range pr.Pushes {
		if !slices.Contains(pr.Cancelled, p.ID) {
			s.pushes.put(p)
		}
	}
	for _, d := range pr.SendsDone {
		s.adminSends.deliver(d.MsgID, d)
	}
	return nil
}

// publish sends a bus message (at most once: what is lost is made good by the apps' syncs and
// the owners' reconnect closes).
func (s *Server) publish(o cluster.Outgoing) {
	data, err := cluster.Encode(o.Msg)
	if err != nil {
		s.log.Error("bus message not encoded", "kind", o.Msg.Kind(), "err", err)
		return
	}
	if open, ok := o.Msg.(cluster.ConnOpened); ok && o.Ack {
		s.openRequest(o.Subject, open, data)
		return
	}
	if err := s.cl.cfg.Bus.Publish(context.Background(), o.Subject, data); err != nil {
		s.log.Warn("bus message not sent", "subject", o.Subject, "err", err)
	}
}

// openRequest sends a gateway's ConnOpened as a request, in order with the loop's other bus
// messages, and hands its outcome back to the loop off it: a partition with no owner makes the
// gateway answer the connection's frames 5002 instead of leaving them unanswered.
func (s *Server) openRequest(subject string, open cluster.ConnOpened, data []byte) {
	cl := s.cl
	ctx, cancel := context.WithTimeout(context.Background(), cl.cfg.RequestTimeout)
	wait, err := cl.cfg.Bus.StartRequest(ctx, subject, data)
	if err != nil {
		cancel()
		s.log.Warn("connection not announced to its partition's owner", "subject", subject, "err", err)
		s.cl.node.Opened(open, err)
		return
	}
	cl.bg.Add(1)
	go func() {
		defer cl.bg.Done()
		defer cancel()
		_, err := wait()
		s.post(openedEvent{msg: open, err: err})
	}()
}

// reply answers a SendRequest or a ConnOpened the node took.
func (s *Server) reply(r cluster.OutReply) {
	f := s.cl.replies[r.Reply]
	delete(s.cl.replies, r.Reply)
	if f == nil {
		return
	}
	data, err := cluster.Encode(r.Answer)
	if err != nil {
		s.log.Error("send answer not encoded", "err", err)
		return
	}
	if err := f(data); err != nil {
		s.log.Warn("send answer not sent", "err", err)
	}
}

// request sends a cross-partition send to its partition's owner, off the loop, and hands the
// outcome back to it.
func (s *Server) request(r cluster.OutRequest) {
	cl := s.cl
	data, err := cluster.Encode(r.Request)
	if err != nil {
		s.log.Error("send request not encoded", "err", err)
		s.cl.node.RemoteAnswered(s.clock(), r, cluster.SendAnswer{}, err)
		return
	}
	cl.bg.Add(1)
	go func() {
		defer cl.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), cl.cfg.RequestTimeout)
		defer cancel()
		ev := answerEvent{out: r}
		b, err := cl.cfg.Bus.Request(ctx, cluster.PartitionSubject(cl.cfg.Name, r.To), data)
		if err == nil {
			m, derr := cluster.Decode(b)
			a, ok := m.(cluster.SendAnswer)
			switch {
			case derr != nil:
				err = derr
			case !ok:
				err = fmt.Errorf("answer of kind %s, not a send answer", m.Kind())
			default:
				ev.answer = a
			}
		}
		ev.err = err
		s.post(ev)
	}()
}
