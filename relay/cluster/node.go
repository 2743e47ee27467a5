package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	"github.com/pushlab/pushlab/relay"
)

// CatalogPartition is the partition whose owner makes the catalog's changes (apps, certificates,
// groups, certificate checks): it applies a change to its cores first — so that the change is
// checked once, by one core, in one order — and then sends it to every other node (Catalog).
const CatalogPartition = 0

// NodeConfig configures a Node.
type NodeConfig struct {
	// ID names the node: in the lease table, and in its gateway's subject. Required; a subject
	// token (CheckSubjectToken).
	ID string
	// Cluster names the cluster in the bus's subjects. Required; a subject token.
	Cluster string
	// Partitions is the fixed number of partitions; 0 means DefaultPartitions.
	Partitions int
	// Relay configures every partition's core; its Partition is set per core.
	Relay relay.Config
	// Tap, if set, is told of every input a partition's core is about to take, with the app
	// connection it names as the cluster knows it (zero when it names none): a checker outside
	// the cluster rebuilds the relay's rules from these (the simulator's cluster twin).
	Tap func(partition int, in relay.Input, from ConnAddr)
}

// ConnAddr names an app connection across the cluster: the node whose gateway holds it, and the
// gateway's number for it.
type ConnAddr struct {
	Gateway string
	Conn    relay.ConnID
}

// Node is one cluster node's deterministic heart (DESIGN.md §11): the gateway of the app
// connections it accepts, and the owner of the partitions it holds a lease on, each run by a
// relay core restored from the store. It reads no clock and does no I/O: the shell (or the
// simulator's cluster twin) hands it inputs — app connections' events, bus messages, lease
// changes, FCM's answers, time — and carries out its NodeReady.
//
// A gateway forwards a connection's frames to the owner of its user's partition, learned from
// the login frame; before a login, to a partition picked from the connection's name, whose core
// answers pre-login frames as any core does. The owner's frames and closes come back on the
// gateway's subject. So every rule — login policies, kicks, heartbeats, floods — is decided by
// the one core holding the user, wherever the devices connect.
type Node struct {
	cfg   NodeConfig
	parts map[int]*ownedPartition
	conns map[relay.ConnID]*gatewayConn

	// replies maps the node's names for the SendRequests its cores are answering to the shell's.
	replies   map[uint64]uint64
	nextReply uint64

	gateway GatewayReady
}

// ownedPartition is a partition this node owns, and the core that runs it.
type ownedPartition struct {
	index    int
	epoch    uint64
	core     *relay.Core
	byConn   map[relay.ConnID]ConnAddr // the core's connection numbers → where they are
	byAddr   map[ConnAddr]relay.ConnID
	nextConn relay.ConnID
	// replies are the core's reply tokens still waiting for their records to be durable.
	replies map[uint64]uint64
}

// gatewayConn is an app connection this node's gateway holds.
type gatewayConn struct {
	partition int    // the partition its frames go to; -1 before its first frame
	epoch     uint64 // the epoch of the owner that last delivered to it; 0 before that
	// opening is set from ConnOpened until its owner acknowledged it; waiting holds the IDs of
	// the frames forwarded meanwhile, answered CodeUnavailable if nobody owns the partition.
	opening bool
	waiting []int64
}

// NewNode builds a node that owns nothing yet.
func NewNode(cfg NodeConfig) (*Node, error) {
	if cfg.Partitions == 0 {
		cfg.Partitions = DefaultPartitions
	}
	if err := CheckSubjectToken(cfg.ID); err != nil {
		return nil, fmt.Errorf("cluster node ID: %w", err)
	}
	if err := CheckSubjectToken(cfg.Cluster); err != nil {
		return nil, fmt.Errorf("cluster name: %w", err)
	}
	if err := (relay.Partition{Count: cfg.Partitions}).Validate(); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	probe := cfg.Relay
	probe.Partition = relay.Partition{Count: cfg.Partitions}
	if err := probe.Validate(); err != nil {
		return nil, fmt.Errorf("relay config: %w", err)
	}
	return &Node{cfg: cfg, parts: map[int]*ownedPartition{}, conns: map[relay.ConnID]*gatewayConn{},
		replies: map[uint64]uint64{}}, nil
}

// Owned lists the partitions the node serves, sorted.
func (n *Node) Owned() []int { return slices.Sorted(maps.Keys(n.parts)) }

// Epoch is the lease epoch the node serves partition p under; false if it does not serve p.
func (n *Node) Epoch(p int) (uint64, bool) {
	op, ok := n.parts[p]
	if !ok {
		return 0, false
	}
	return op.epoch, true
}

// Core is the core serving partition p, for the shell's admin calls on it (user views, kicks,
// test pushes, sends); false if the node does not serve p. What the calls change comes out in
// the next NodeReady.
func (n *Node) Core(p int) (*relay.Core, bool) {
	op, ok := n.parts[p]
	if !ok {
		return nil, false
	}
	return op.core, true
}

// PartitionOfUser is the partition of a user of app sdkAppID.
func (n *Node) PartitionOfUser(sdkAppID uint64, userID string) int {
	return PartitionOf(sdkAppID, userID, n.cfg.Partitions)
}

// ErrNotOwner is the answer of a call that needs a partition this node does not serve.
var ErrNotOwner = errors.New("cluster: this node does not own the partition")

// Acquired starts serving the partition of lease l with a core restored from st, the store's
// state as loaded after the lease was granted (the core keeps only its partition's part), and
// announces it to every node (PartitionMoved). Pushes the former owner left unfinished go out
// again on the core's first tick, as after a restart.
func (n *Node) Acquired(now time.Time, l Lease, st *relay.State) error {
	if l.Partition < 0 || l.Partition >= n.cfg.Partitions {
		return fmt.Errorf("cluster: partition %d out of range [0, %d)", l.Partition, n.cfg.Partitions)
	}
	cfg := n.cfg.Relay
	cfg.Partition = relay.Partition{Index: l.Partition, Count: n.cfg.Partitions}
	if st == nil {
		st = &relay.State{}
	}
	core, err := relay.New(cfg, st.ForPartition(cfg.Partition))
	if err != nil {
		return fmt.Errorf("restore partition %d: %w", l.Partition, err)
	}
	core.Tick(now)
	n.parts[l.Partition] = &ownedPartition{index: l.Partition, epoch: l.Epoch, core: core,
		byConn: map[relay.ConnID]ConnAddr{}, byAddr: map[ConnAddr]relay.ConnID{}, replies: map[uint64]uint64{}}
	n.publish(BroadcastSubject(n.cfg.Cluster), PartitionMoved{Partition: l.Partition, Node: n.cfg.ID, Epoch: l.Epoch})
	return nil
}

// Dropped stops serving partition p (its lease was lost, released, or a write under it was
// fenced): its core and everything it had not yet handed out are forgotten. The gateways learn
// of the move from the new owner's PartitionMoved.
func (n *Node) Dropped(p int) { delete(n.parts, p) }

// step hands partition op's core one input, telling the tap first.
func (n *Node) step(op *ownedPartition, now time.Time, in relay.Input) {
	if n.cfg.Tap != nil {
		n.cfg.Tap(op.index, in, op.byConn[in.Conn])
	}
	_ = op.core.Step(now, in) // only admin inputs fail, and a catalog refusal is its owner's to report
}

// publish queues a node-level bus message.
func (n *Node) publish(subject string, m Message) {
	n.gateway.Publish = append(n.gateway.Publish, Outgoing{Subject: subject, Msg: m})
}

// lobbyPartition is where a connection's frames go before its first login: a partition picked
// from the connection's name, so that pre-login connections spread over the owners.
func (n *Node) lobbyPartition(id relay.ConnID) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(n.cfg.ID)) // a hash.Hash never fails to write
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(id))
	_, _ = h.Write(b[:])
	return int(h.Sum64() % uint64(n.cfg.Partitions))
}

// Open takes a new app connection on this node's gateway. Nothing is sent until its first frame.
func (n *Node) Open(id relay.ConnID) {
	n.conns[id] = &gatewayConn{partition: -1}
}

// Frame forwards a frame an app sent on connection id to its partition's owner: a login frame
// moves the connection to its user's partition (the former one hears ConnClosed); any other frame
// goes where the connection is, or to its lobby partition before a login.
func (n *Node) Frame(id relay.ConnID, data []byte) {
	gc, ok := n.conns[id]
	if !ok {
		return
	}
	target := gc.partition
	f, fe := relay.DecodeClientFrame(data)
	if fe == nil && f.Op == relay.OpLogin && f.UserID != "" {
		target = n.PartitionOfUser(f.SDKAppID, f.UserID)
	}
	if target < 0 {
		target = n.lobbyPartition(id)
	}
	addr := ConnAddr{Gateway: n.cfg.ID, Conn: id}
	if target != gc.partition {
		if gc.partition >= 0 {
			n.publish(PartitionSubject(n.cfg.Cluster, gc.partition), ConnClosed{Partition: gc.partition, Gateway: addr.Gateway, Conn: id})
		}
		gc.partition, gc.epoch, gc.opening, gc.waiting = target, 0, true, nil
		n.gateway.Publish = append(n.gateway.Publish, Outgoing{Subject: PartitionSubject(n.cfg.Cluster, target),
			Msg: ConnOpened{Partition: target, Gateway: addr.Gateway, Conn: id}, Ack: true})
	}
	if gc.opening && fe == nil {
		gc.waiting = append(gc.waiting, f.ID)
	}
	n.publish(PartitionSubject(n.cfg.Cluster, target), ConnFrame{Partition: target, Gateway: addr.Gateway, Conn: id, Frame: data})
}

// Opened hands the gateway the outcome of a ConnOpened it sent as a request (Outgoing.Ack):
// err nil when the partition's owner acknowledged it; otherwise (nobody owns the partition, or
// no answer in time) the frames forwarded since are answered CodeUnavailable, the partition is
// told the connection is closed (in case the request reached its owner after all), and the
// connection is no partition's any more, so that the app may retry its login on it.
func (n *Node) Opened(m ConnOpened, err error) {
	gc, ok := n.conns[m.Conn]
	if !ok || !gc.opening || gc.partition != m.Partition {
		return // closed, or moved on to another partition since
	}
	gc.opening = false
	waiting := gc.waiting
	gc.waiting = nil
	if err == nil {
		return
	}
	// The request may have landed though its answer did not come in time (a paused owner reads
	// it when it wakes): tell the partition the connection is no longer routed there, so that
	// no core keeps it open, logged in, beside the core the gateway sends its frames to next.
	n.publish(PartitionSubject(n.cfg.Cluster, m.Partition), ConnClosed{Partition: m.Partition, Gateway: n.cfg.ID, Conn: m.Conn})
	gc.partition = -1
	for _, id := range waiting {
		n.gateway.Frames = append(n.gateway.Frames, relay.OutFrame{Conn: m.Conn, Frame: relay.ServerFrame{Op: relay.OpReply, ID: id,
			Code: relay.CodeUnavailable, Desc: fmt.Sprintf("partition %d has no owner right now (a node failed over); retry shortly", m.Partition)}})
	}
}

// BusLost tells the node at now that it is cut off the bus, where every frame between gateways
// and owners travels (its own included). Its gateway can neither forward its connections' frames
// nor hear their owners' frames, kicks and closes, so it closes every app connection it holds
// (CloseTryAgain) for the apps to reconnect to a node on the bus, rather than keep them open and
// deaf; their owners elsewhere, which cannot be told, end them at their heartbeat deadlines. Its
// cores can no longer reach any connection they serve, so they end them all: a message for those
// devices is pushed rather than sent into the void, and a frame from such a connection once the
// bus is back finds it unknown and closes it, for the app to reconnect and sync. The shell calls
// it when the bus connection drops, and takes no connection until it is back.
func (n *Node) BusLost(now time.Time) {
	n.CloseGateway(fmt.Sprintf("node %s lost the bus; reconnect", n.cfg.ID))
	for _, p := range n.Owned() {
		op := n.parts[p]
		for _, id := range slices.Sorted(maps.Keys(op.byConn)) {
			n.step(op, now, relay.Input{Kind: relay.InputClosed, Conn: id})
			delete(op.byAddr, op.byConn[id])
			delete(op.byConn, id)
		}
	}
}

// CloseGateway closes every app connection the gateway holds (CloseTryAgain, with reason), for
// the apps to reconnect to another node: the shell calls it when the node cannot serve them,
// cut off the bus (BusLost) or off the database (it cannot beat, so the owners count its
// gateway dead and end its connections in their cores). Their owners are not told.
func (n *Node) CloseGateway(reason string) {
	for _, id := range slices.Sorted(maps.Keys(n.conns)) {
		n.gateway.Closes = append(n.gateway.Closes, relay.CloseConn{Conn: id, Code: relay.CloseTryAgain, Reason: reason})
	}
	clear(n.conns)
}

// Closed tells the owner that connection id ended on this gateway.
func (n *Node) Closed(id relay.ConnID) {
	gc, ok := n.conns[id]
	if !ok {
		return
	}
	delete(n.conns, id)
	if gc.partition >= 0 {
		n.publish(PartitionSubject(n.cfg.Cluster, gc.partition), ConnClosed{Partition: gc.partition, Gateway: n.cfg.ID, Conn: id})
	}
}

// Receive takes a message from the bus at now. reply names the request a SendRequest came with:
// the node's SendAnswer goes out under it, in a PartReady's Replies once the message is stored,
// or at once in GatewayReady.Replies when the node does not own the recipients' partition.
func (n *Node) Receive(now time.Time, m Message, reply uint64) {
	switch m := m.(type) {
	case ConnOpened:
		op, ok := n.parts[m.Partition]
		if !ok {
			return // not this node's: with no owner at all, the gateway's request fails
		}
		addr := ConnAddr{m.Gateway, m.Conn}
		if _, known := op.byAddr[addr]; !known {
			op.nextConn++
			op.byConn[op.nextConn], op.byAddr[addr] = addr, op.nextConn
			n.step(op, now, relay.Input{Kind: relay.InputOpen, Conn: op.nextConn})
		}
		if reply != 0 {
			n.gateway.Replies = append(n.gateway.Replies, OutReply{Reply: reply, Answer: SendAnswer{Code: relay.OK}})
		}
	case ConnFrame:
		op, ok := n.parts[m.Partition]
		if !ok {
			return // a partition this node no longer serves: its new owner closes the connection
		}
		id, known := op.byAddr[ConnAddr{m.Gateway, m.Conn}]
		if !known {
			// A connection the former owner served: this core knows nothing of it.
			n.publish(GatewaySubject(n.cfg.Cluster, m.Gateway), Close{Conn: m.Conn, Code: relay.CloseTryAgain,
				Reason: fmt.Sprintf("partition %d moved to another node; reconnect", m.Partition)})
			return
		}
		if f, fe := relay.DecodeClientFrame(m.Frame); fe != nil {
			n.step(op, now, relay.Input{Kind: relay.InputRefuse, Conn: id, Refusal: fe})
		} else {
			n.step(op, now, relay.Input{Kind: relay.InputReceive, Conn: id, Frame: f})
		}
	case ConnClosed:
		if op, ok := n.parts[m.Partition]; ok {
			addr := ConnAddr{m.Gateway, m.Conn}
			if id, known := op.byAddr[addr]; known {
				n.step(op, now, relay.Input{Kind: relay.InputClosed, Conn: id})
				delete(op.byAddr, addr)
				delete(op.byConn, id)
			}
		}
	case SendRequest:
		n.remoteMsg(now, m, reply)
	case Deliver:
		if gc, ok := n.conns[m.Conn]; ok {
			gc.epoch = m.Epoch
			n.gateway.Frames = append(n.gateway.Frames, relay.OutFrame{Conn: m.Conn, Frame: m.Frame})
		}
	case Close:
		if _, ok := n.conns[m.Conn]; ok {
			n.gateway.Closes = append(n.gateway.Closes, relay.CloseConn{Conn: m.Conn, Code: m.Code, Reason: m.Reason})
		}
	case PartitionMoved:
		n.moved(m)
	case TokenMoved:
		from := n.PartitionOfUser(m.Device.SDKAppID, m.Device.UserID)
		for _, p := range n.Owned() {
			if p != from {
				n.step(n.parts[p], now, relay.Input{Kind: relay.InputTokenMoved, App: m.Device.SDKAppID,
					User: m.Device.UserID, Device: m.Device.DeviceID, Token: m.Token})
			}
		}
	case Catalog:
		if m.From == n.cfg.ID {
			return // this node made the change: its cores have it
		}
		for _, p := range n.Owned() {
			// Each core does its own partition's part; a refusal was the catalog owner's to report.
			n.step(n.parts[p], now, m.Input)
		}
	}
}

// remoteMsg hands another partition's message to the core of its recipients.
func (n *Node) remoteMsg(now time.Time, m SendRequest, reply uint64) {
	target := -1
	if len(m.Msg.To) > 0 {
		target = n.PartitionOfUser(m.Msg.App, m.Msg.To[0])
	}
	op, ok := n.parts[target]
	if !ok {
		n.gateway.Replies = append(n.gateway.Replies, OutReply{Reply: reply, Answer: SendAnswer{
			Code: relay.CodeUnavailable, Error: fmt.Sprintf("this node does not own partition %d; retry", target)}})
		return
	}
	n.nextReply++
	op.replies[n.nextReply] = reply
	n.step(op, now, relay.Input{Kind: relay.InputRemoteMsg, Reply: n.nextReply, Remote: m.Msg})
}

// moved closes this gateway's connections of a partition that another epoch now serves.
func (n *Node) moved(m PartitionMoved) {
	for _, id := range slices.Sorted(maps.Keys(n.conns)) {
		gc := n.conns[id]
		if gc.partition == m.Partition && gc.epoch != m.Epoch {
			n.gateway.Closes = append(n.gateway.Closes, relay.CloseConn{Conn: id, Code: relay.CloseTryAgain,
				Reason: fmt.Sprintf("partition %d moved to node %s; reconnect", m.Partition, m.Node)})
			gc.partition = -1
		}
	}
}

// GatewaysLive tells the owners which nodes are live at now: connections held by a gateway that
// is not (a node that died and never sent their ConnClosed) are closed in their cores, so their
// devices count as killed, not online.
func (n *Node) GatewaysLive(now time.Time, live []string) {
	for _, p := range n.Owned() {
		op := n.parts[p]
		for _, id := range slices.Sorted(maps.Keys(op.byConn)) {
			addr := op.byConn[id]
			if addr.Gateway == n.cfg.ID || slices.Contains(live, addr.Gateway) {
				continue
			}
			n.step(op, now, relay.Input{Kind: relay.InputClosed, Conn: id})
			delete(op.byConn, id)
			delete(op.byAddr, addr)
		}
	}
}

// PushResult hands FCM's answer to the core that made the push.
func (n *Node) PushResult(now time.Time, r relay.PushResult) {
	if op, ok := n.parts[relay.PushPartition(r.ID)]; ok {
		n.step(op, now, relay.Input{Kind: relay.InputPushResult, Result: r})
	}
}

// RemoteAnswered hands the core that made request r its outcome: the SendAnswer, or err when the
// request got none (ErrUnavailable: nobody owns the target partition; a deadline). An outcome for
// a core this node no longer runs — the partition was dropped, or dropped and acquired again
// under a new epoch, whose core never made the request — is dropped.
func (n *Node) RemoteAnswered(now time.Time, r OutRequest, a SendAnswer, err error) {
	if op, ok := n.parts[r.From]; ok && op.epoch == r.Request.Epoch {
		n.step(op, now, relay.Input{Kind: relay.InputRemoteAnswer, Answer: r.answer(a, err)})
	}
}

// Catalog applies a catalog change (CatalogInput) on this node, which must own CatalogPartition:
// that partition's core checks it first and its refusal is the answer; then every other core
// takes it, and the change goes to every other node once it is durable.
func (n *Node) Catalog(now time.Time, in relay.Input) error {
	if !CatalogInput(in) {
		return fmt.Errorf("cluster: %s is not a catalog change", in.Kind)
	}
	first, ok := n.parts[CatalogPartition]
	if !ok {
		return fmt.Errorf("%w %d, which makes catalog changes", ErrNotOwner, CatalogPartition)
	}
	if n.cfg.Tap != nil {
		n.cfg.Tap(CatalogPartition, in, ConnAddr{})
	}
	if err := first.core.Step(now, in); err != nil {
		return err
	}
	for _, p := range n.Owned() {
		if p != CatalogPartition {
			n.step(n.parts[p], now, in) // each does its own partition's part
		}
	}
	n.publish(BroadcastSubject(n.cfg.Cluster), Catalog{From: n.cfg.ID, Input: in})
	return nil
}

// Tick runs the timers due at now in every core.
func (n *Node) Tick(now time.Time) {
	for _, p := range n.Owned() {
		c := n.parts[p].core
		if at, ok := c.NextWake(); ok && !at.After(now) {
			n.step(n.parts[p], now, relay.Input{Kind: relay.InputTick})
		}
	}
}

// NextWake is when the earliest timer of the node's cores is due; false if none is set.
func (n *Node) NextWake() (time.Time, bool) {
	var next time.Time
	found := false
	for _, op := range n.parts {
		if at, ok := op.core.NextWake(); ok && (!found || at.Before(next)) {
			next, found = at, true
		}
	}
	return next, found
}

// Outgoing is a message to publish on the bus, in order.
type Outgoing struct {
	Subject string
	Msg     Message
	// Ack asks the driver to send the message (a ConnOpened) as a request instead, without
	// waiting for the answer before the messages after it, and to hand the outcome to Opened: a
	// connection whose partition has no owner then hears so, rather than waiting for a reply
	// that never comes.
	Ack bool
}

// OutRequest is a RemoteSend of partition From's core, as a SendRequest to the owner of partition
// To. The driver sends it as a bus request with a deadline and hands the outcome back with
// RemoteAnswered.
type OutRequest struct {
	From    int
	To      int
	Token   uint64
	Request SendRequest
}

// answer is the relay.RemoteAnswer for an OutRequest's outcome: the SendAnswer, or err when the
// request got none (ErrUnavailable, a deadline).
func (r OutRequest) answer(a SendAnswer, err error) relay.RemoteAnswer {
	if err != nil {
		return relay.RemoteAnswer{Token: r.Token, Partition: r.To, Code: relay.CodeUnavailable,
			Desc: fmt.Sprintf("partition %d did not answer (it may be moving to another node); retry: %v", r.To, err)}
	}
	return relay.RemoteAnswer{Token: r.Token, Partition: r.To, Code: a.Code, Desc: a.Error}
}

// OutReply answers a SendRequest the node received with reply name Reply.
type OutReply struct {
	Reply  uint64
	Answer SendAnswer
}

// GatewayReady is the node's work that belongs to no partition: bus messages its gateway and
// announcements send, frames and closes for its own app connections, and answers to requests for
// partitions it does not own. None of it waits for the store.
type GatewayReady struct {
	Publish []Outgoing
	Frames  []relay.OutFrame
	Closes  []relay.CloseConn
	Replies []OutReply
}

// PartReady is one owned partition's work, in the order a relay.Ready's is carried out: first
// Records and Trace, written under Epoch (a write refused as fenced means the node lost the
// partition: call Dropped and carry out none of the rest); then Publish (frames and closes for
// the gateways), Requests, Replies; then Pushes after dropping Cancelled.
type PartReady struct {
	Partition int
	Epoch     uint64
	Records   []relay.Record
	Trace     []relay.TraceEntry
	Publish   []Outgoing
	Requests  []OutRequest
	Replies   []OutReply
	Pushes    []relay.Push
	Cancelled []uint64
	SendsDone []relay.SendDone
}

// NodeReady is everything the node asks of its driver since the last TakeReady.
type NodeReady struct {
	Gateway GatewayReady
	Parts   []PartReady // by partition
}

// Empty reports whether there is nothing to do.
func (rd *NodeReady) Empty() bool {
	g := rd.Gateway
	return len(g.Publish) == 0 && len(g.Frames) == 0 && len(g.Closes) == 0 && len(g.Replies) == 0 && len(rd.Parts) == 0
}

// TakeReady returns the work accumulated since the last call.
func (n *Node) TakeReady() NodeReady {
	rd := NodeReady{Gateway: n.gateway}
	n.gateway = GatewayReady{}
	for _, p := range n.Owned() {
		op := n.parts[p]
		crd := op.core.TakeReady()
		if crd.Empty() {
			continue
		}
		pr := PartReady{Partition: p, Epoch: op.epoch, Records: crd.Records, Trace: crd.Trace,
			Pushes: crd.Pushes, Cancelled: crd.Cancelled, SendsDone: crd.SendsDone}
		for _, f := range crd.Frames {
			if addr, ok := op.byConn[f.Conn]; ok {
				pr.Publish = append(pr.Publish, Outgoing{Subject: GatewaySubject(n.cfg.Cluster, addr.Gateway),
					Msg: Deliver{Conn: addr.Conn, Epoch: op.epoch, Frame: f.Frame}})
			}
		}
		for _, cl := range crd.Closes {
			if addr, ok := op.byConn[cl.Conn]; ok {
				pr.Publish = append(pr.Publish, Outgoing{Subject: GatewaySubject(n.cfg.Cluster, addr.Gateway),
					Msg: Close{Conn: addr.Conn, Code: cl.Code, Reason: cl.Reason}})
			}
		}
		for _, r := range crd.Records {
			if b, ok := r.(relay.PutBinding); ok {
				pr.Publish = append(pr.Publish, Outgoing{Subject: BroadcastSubject(n.cfg.Cluster),
					Msg: TokenMoved{Device: b.Binding.Key, Token: b.Binding.Token}})
			}
		}
		for _, rs := range crd.Remote {
			pr.Requests = append(pr.Requests, OutRequest{From: p, To: rs.Partition, Token: rs.Token,
				Request: SendRequest{FromPartition: p, Epoch: op.epoch, Msg: rs.Msg}})
		}
		for _, a := range crd.Answers {
			reply := op.replies[a.Reply]
			delete(op.replies, a.Reply)
			pr.Replies = append(pr.Replies, OutReply{Reply: reply, Answer: SendAnswer{Code: a.Code, Error: a.Desc, Seqs: a.Seqs}})
		}
		rd.Parts = append(rd.Parts, pr)
	}
	return rd
}
