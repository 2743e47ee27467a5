package relay

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
)

// cluster is a partitioned relay in a test: one world per partition, sharing a store, and a
// router that carries each core's RemoteSends to the target partition's core and that core's
// answers back. The router works at once unless hold is set: then the answers wait in held until
// release. A partition in down never gets its RemoteSends: the router answers CodeUnavailable for
// it, as a driver does when a partition has no owner.
type cluster struct {
	t     testingT
	parts []*world
	store *MemoryStore
	hold  bool
	held  []heldAnswer
	down  map[int]bool

	routes    map[uint64]remoteRoute // by the Reply the router named a RemoteMsg with
	nextReply uint64
	sent      []int // per partition: how many of its RemoteSends were routed
	answered  []int // per partition: how many of its RemoteReplies were routed
	busy      bool
}

// remoteRoute is where the answer to a routed RemoteSend goes.
type remoteRoute struct {
	from      int
	token     uint64
	partition int
}

// heldAnswer is an answer the router holds back, for the core of partition to.
type heldAnswer struct {
	to     int
	answer RemoteAnswer
}

func newCluster(t testingT, partitions int, cfg Config) *cluster {
	t.Helper()
	c := &cluster{t: t, store: NewMemoryStore(), down: map[int]bool{}, routes: map[uint64]remoteRoute{},
		sent: make([]int, partitions), answered: make([]int, partitions)}
	for i := range partitions {
		cfg := cfg
		cfg.Partition = Partition{Index: i, Count: partitions}
		w := newWorldOn(t, cfg, c.store)
		w.routed = c.route
		c.parts = append(c.parts, w)
	}
	return c
}

// of is the world of the partition that holds user.
func (c *cluster) of(user string) *world {
	return c.parts[PartitionOf(testApp, user, len(c.parts))]
}

func (c *cluster) login(user, dev string) *phone {
	c.t.Helper()
	return c.of(user).login(user, dev)
}

// putGroup puts a group on every partition's core, as the cluster's admin path does.
func (c *cluster) putGroup(id string, members ...string) {
	c.t.Helper()
	for _, w := range c.parts {
		_, err := w.core.PutGroup(w.now, Group{SDKAppID: testApp, ID: id, Members: members})
		require.NoError(c.t, err)
		w.settle()
	}
}

// inbox is what user's partition holds for the user.
func (c *cluster) inbox(user string) []StoredMsg {
	if u, ok := c.of(user).core.users[UserKey{testApp, user}]; ok {
		return u.messages()
	}
	return nil
}

// route carries what the partitions' Readies asked for until nothing is left (settles during it
// only add to the queues it drains).
func (c *cluster) route() {
	if c.busy {
		return
	}
	c.busy = true
	defer func() { c.busy = false }()
	for progress := true; progress; {
		progress = false
		for i, w := range c.parts {
			for ; c.sent[i] < len(w.remote); c.sent[i]++ {
				progress = true
				rs := w.remote[c.sent[i]]
				require.NotEqual(c.t, i, rs.Partition, "a core asked itself")
				if c.down[rs.Partition] {
					c.deliver(heldAnswer{i, RemoteAnswer{Token: rs.Token, Partition: rs.Partition, Code: CodeUnavailable,
						Desc: fmt.Sprintf("partition %d has no owner", rs.Partition)}})
					continue
				}
				c.nextReply++
				c.routes[c.nextReply] = remoteRoute{from: i, token: rs.Token, partition: rs.Partition}
				dst := c.parts[rs.Partition]
				require.NoError(c.t, dst.core.Step(dst.now, Input{Kind: InputRemoteMsg, Reply: c.nextReply, Remote: rs.Msg}))
				dst.settle()
			}
			for ; c.answered[i] < len(w.answers); c.answered[i]++ {
				progress = true
				a := w.answers[c.answered[i]]
				r, ok := c.routes[a.Reply]
				if !ok {
					continue // a RemoteMsg a test sent by hand
				}
				delete(c.routes, a.Reply)
				c.deliver(heldAnswer{r.from, RemoteAnswer{Token: r.token, Partition: r.partition, Code: a.Code, Desc: a.Desc}})
			}
		}
	}
}

// deliver hands an answer to its core, or holds it.
func (c *cluster) deliver(h heldAnswer) {
	if c.hold {
		c.held = append(c.held, h)
		return
	}
	w := c.parts[h.to]
	require.NoError(c.t, w.core.Step(w.now, Input{Kind: InputRemoteAnswer, Answer: h.answer}))
	w.settle()
}

// release stops holding answers and delivers those held.
func (c *cluster) release() {
	c.hold = false
	held := c.held
	c.held = nil
	for _, h := range held {
		c.deliver(h)
	}
}

// sendAsync sends a frame from p without waiting for its reply (which may wait for other
// partitions) and returns the frame's ID.
func (p *phone) sendAsync(f ClientFrame) int64 {
	w := p.w
	f.Op = OpSend
	f.ID = int64(len(w.frames[p.conn]) + 5000)
	w.core.Receive(w.now, p.conn, f)
	w.settle()
	return f.ID
}

// replyTo is the reply p's connection got to the frame id, if any.
func (p *phone) replyTo(id int64) (ServerFrame, bool) {
	for _, f := range p.w.frames[p.conn] {
		if f.Op == OpReply && f.ID == id {
			return f, true
		}
	}
	return ServerFrame{}, false
}

// inboxLine is a stored message as the tests compare it: message IDs differ between a single
// relay and a cluster, by design.
type inboxLine struct {
	Seq              uint64
	From, Conv, Text string
}

func inboxLines(ms []StoredMsg) []inboxLine {
	var out []inboxLine
	for _, m := range ms {
		out = append(out, inboxLine{m.Seq, m.From, m.Conv, m.Text})
	}
	return out
}

// A 1:1 send to a user of another partition is answered only once that partition has stored it;
// then the sender's own copy is stored for its other devices, and a resend finds the ID.
func TestCrossPartitionSendRepliesAfterTheRecipientsPartition(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	alice := c.login("alice", "alice-phone")
	tablet := c.of("alice").loginOn("alice", "alice-tablet", "ios") // another platform: the default policy keeps both
	carol := c.login("carol", "carol-phone")
	wa := c.of("alice")

	c.hold = true
	id := alice.sendAsync(ClientFrame{To: "carol", Text: "hi", ClientMsgID: "m1"})
	_, replied := alice.replyTo(id)
	require.False(t, replied, "no reply before carol's partition answered")
	require.Len(t, wa.remote, 1)
	rs := wa.remote[0]
	require.Equal(t, 1, rs.Partition)
	require.Equal(t, RemoteMsg{App: testApp, ID: "1400000001-p0-1", Time: epoch, From: "alice", FromDevice: "alice-phone",
		To: []string{"carol"}, Text: "hi"}, rs.Msg)
	require.Equal(t, []string{"hi"}, texts(carol.live()), "carol's partition delivered it")
	require.Empty(t, c.inbox("alice"), "the sender's copy waits for the answer")
	require.Empty(t, tablet.live())

	c.release()
	r, replied := alice.replyTo(id)
	require.True(t, replied)
	require.Equal(t, OK, r.Code, r.Desc)
	require.Equal(t, "1400000001-p0-1", r.MsgID)
	require.Equal(t, []inboxLine{{1, "alice", "c2c_carol", "hi"}}, inboxLines(c.inbox("alice")))
	own := tablet.live()
	require.Len(t, own, 1)
	require.Equal(t, "c2c_carol", own[0].Conv, "the sender's other device sees its own copy")

	// carol's inbox, as a new device syncs it.
	laptop := c.login("carol", "carol-laptop")
	got := c.of("carol").syncAll(laptop)
	require.Len(t, got, 1)
	require.Equal(t, uint64(1), got[0].Seq)
	require.Equal(t, "c2c_alice", got[0].Conv)
	require.Equal(t, "1400000001-p0-1", got[0].ID)

	// A resend of the same message is answered at once with its ID, and asks no one again.
	r = alice.w.do(alice.conn, ClientFrame{Op: OpSend, To: "carol", Text: "hi", ClientMsgID: "m1"})
	require.Equal(t, "1400000001-p0-1", r.MsgID)
	require.Len(t, wa.remote, 1)
}

// A send refused by a partition gets the refusal's code and leaves nothing in the sender's
// partition; its retry with the same clientMsgId is a new send.
func TestRefusedCrossPartitionSendStoresNothingLocally(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	alice := c.login("alice", "alice-phone")
	tablet := c.of("alice").loginOn("alice", "alice-tablet", "ios") // another platform: the default policy keeps both
	wa := c.of("alice")
	records := len(wa.records)

	c.down[1] = true
	r := alice.w.do(alice.conn, ClientFrame{Op: OpSend, To: "carol", Text: "hi", ClientMsgID: "m1"})
	require.Equal(t, CodeUnavailable, r.Code)
	require.Equal(t, "partition 1 has no owner", r.Desc)
	require.Empty(t, r.MsgID)
	require.Empty(t, c.inbox("alice"))
	require.Empty(t, tablet.live())
	for _, rec := range wa.records[records:] {
		require.IsType(t, PutCounter{}, rec, "only the message counter moved")
	}

	c.down[1] = false
	r = alice.w.do(alice.conn, ClientFrame{Op: OpSend, To: "carol", Text: "hi", ClientMsgID: "m1"})
	require.Equal(t, OK, r.Code, r.Desc)
	require.Equal(t, "1400000001-p0-2", r.MsgID, "sent again, under a new ID")
	require.Len(t, wa.remote, 2)
	require.Equal(t, []inboxLine{{1, "alice", "c2c_alice", "hi"}}, inboxLines(c.inbox("carol")))
	require.Equal(t, []inboxLine{{1, "alice", "c2c_carol", "hi"}}, inboxLines(c.inbox("alice")))
}

// A group message asks each other partition once, for its members in the group's (sorted) order, and the
// first refusal wins when one of them refuses.
func TestGroupSendFansOutOncePerPartition(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	c.putGroup("team", "heidi", "carol", "alice", "grace", "bob", "dave")
	alice := c.login("alice", "alice-phone")
	wa := c.of("alice")

	r := alice.w.do(alice.conn, ClientFrame{Op: OpSend, Group: "team", Text: "standup"})
	require.Equal(t, OK, r.Code, r.Desc)
	require.Len(t, wa.remote, 2)
	require.Equal(t, 1, wa.remote[0].Partition)
	require.Equal(t, []string{"carol", "dave"}, wa.remote[0].Msg.To)
	require.Equal(t, 2, wa.remote[1].Partition)
	require.Equal(t, []string{"grace", "heidi"}, wa.remote[1].Msg.To)
	require.Equal(t, wa.remote[0].Token, wa.remote[1].Token, "one send")
	for _, u := range []string{"heidi", "carol", "alice", "grace", "bob", "dave"} {
		require.Equal(t, []inboxLine{{1, "alice", "group_team", "standup"}}, inboxLines(c.inbox(u)), u)
	}

	c.down[2] = true
	r = alice.w.do(alice.conn, ClientFrame{Op: OpSend, Group: "team", Text: "again"})
	require.Equal(t, CodeUnavailable, r.Code)
	require.Len(t, c.inbox("alice"), 1, "refused: nothing stored here")
	require.Len(t, c.inbox("bob"), 1)
	require.Len(t, c.inbox("carol"), 2, "partition 1 took it before partition 2 refused: the retry sends it again")
}

// An admin send that waits for other partitions finishes in a Ready's SendsDone.
func TestAdminSendAsyncFinishesInSendsDone(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	wd := c.of("administrator")

	c.hold = true
	id, pending, err := wd.core.AdminSendAsync(wd.now, testApp, SendRequest{To: "alice", Text: "from the server"})
	require.NoError(t, err)
	require.True(t, pending)
	wd.settle()
	require.Empty(t, wd.sendsDone)
	require.Empty(t, c.inbox("administrator"))
	c.release()
	require.Equal(t, []SendDone{{MsgID: id, Code: OK}}, wd.sendsDone)
	require.Equal(t, []inboxLine{{1, "administrator", "c2c_administrator", "from the server"}}, inboxLines(c.inbox("alice")))
	require.Equal(t, []inboxLine{{1, "administrator", "c2c_alice", "from the server"}}, inboxLines(c.inbox("administrator")))

	// A send within the partition does not wait.
	_, pending, err = wd.core.AdminSendAsync(wd.now, testApp, SendRequest{To: "carol", Text: "local"})
	require.NoError(t, err)
	require.False(t, pending)
	wd.settle()
	require.Len(t, wd.sendsDone, 1)

	c.down[0] = true
	id, pending, err = wd.core.AdminSendAsync(wd.now, testApp, SendRequest{To: "alice", Text: "lost"})
	require.NoError(t, err)
	require.True(t, pending)
	wd.settle()
	require.Equal(t, SendDone{MsgID: id, Code: CodeUnavailable, Desc: "partition 0 has no owner"}, wd.sendsDone[1])
	require.Len(t, c.inbox("administrator"), 2, "the refused send left nothing")
}

// The sender's connection may close before the answer: the send finishes without a frame, and a
// resend from the relaunched app finds the message's ID.
func TestSenderGoneBeforeTheAnswer(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	alice := c.login("alice", "alice-phone")
	wa := c.of("alice")
	c.hold = true
	alice.sendAsync(ClientFrame{To: "carol", Text: "hi", ClientMsgID: "m1"})
	alice.kill()
	frames := len(wa.frames[alice.conn])
	c.release()
	require.Len(t, wa.frames[alice.conn], frames, "no frame to a closed connection")
	alice.relaunch()
	r := alice.w.do(alice.conn, ClientFrame{Op: OpSend, To: "carol", Text: "hi", ClientMsgID: "m1"})
	require.Equal(t, OK, r.Code)
	require.Equal(t, "1400000001-p0-1", r.MsgID)
	require.Len(t, wa.remote, 1)
	require.Len(t, c.inbox("carol"), 1)
}

// A partition's core takes messages only for its own users, all or nothing.
func TestRemoteMsgRefusesUsersOfOtherPartitions(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	w := c.of("carol")
	step := func(reply uint64, m RemoteMsg) RemoteReply {
		require.NoError(t, w.core.Step(w.now, Input{Kind: InputRemoteMsg, Reply: reply, Remote: m}))
		w.settle()
		return w.answers[len(w.answers)-1]
	}
	a := step(7, RemoteMsg{App: testApp, ID: "1400000001-p0-9", From: "alice", To: []string{"carol", "grace"}, Text: "x"})
	require.Equal(t, RemoteReply{Reply: 7, Code: CodeUnavailable, Desc: `user "grace" is not in partition 1`}, a)
	require.Empty(t, c.inbox("carol"), "all or nothing")

	a = step(8, RemoteMsg{App: 99, ID: "99-p0-1", From: "alice", To: []string{"carol"}, Text: "x"})
	require.Equal(t, CodeUnknownApp, a.Code)

	a = step(9, RemoteMsg{App: testApp, ID: "1400000001-p0-9", From: "alice", To: []string{"carol", "dave"}, Text: "x"})
	require.Equal(t, RemoteReply{Reply: 9, Code: OK, Seqs: map[string]uint64{"carol": 1, "dave": 1}}, a)

	single := newWorld(t, Config{})
	require.NoError(t, single.core.Step(single.now, Input{Kind: InputRemoteMsg, Reply: 1, Remote: RemoteMsg{App: testApp, To: []string{"carol"}}}))
	single.settle()
	require.Equal(t, CodeInternal, single.answers[0].Code, "a single relay takes no remote messages")
}

// An offline recipient is pushed by its own partition's core, under a push ID of that partition.
func TestOfflineRecipientIsPushedByItsPartition(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	alice := c.login("alice", "alice-phone")
	grace := c.login("grace", "grace-phone")
	grace.kill()
	r := alice.send("grace", "wake up")
	require.Equal(t, OK, r.Code, r.Desc)
	wg := c.of("grace")
	ps := wg.pushesTo("grace-phone")
	require.Len(t, ps, 1)
	require.Equal(t, uint64(2)<<48+1, ps[0].ID)
	require.Equal(t, 2, PushPartition(ps[0].ID))
	require.Equal(t, "wake up", ps[0].Body)
	require.Contains(t, wg.records, Record(PutCounter{Name: "pushes.p2", Value: 2<<48 + 1}))
	require.Empty(t, c.of("alice").pushes)
}

// Partitions restored from their part of the shared store keep their inboxes and go on numbering
// messages and pushes where they stopped: no ID is used twice.
func TestPartitionsRestoreFromTheSharedStore(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	alice := c.login("alice", "alice-phone")
	carol := c.login("carol", "carol-phone")
	grace := c.login("grace", "grace-phone")
	c.putGroup("team", "alice", "carol", "grace")
	grace.kill()
	traffic := func(round string) {
		for _, p := range []*phone{alice, carol} {
			require.Equal(t, OK, p.send("grace", round+"-"+p.user).Code)
			require.Equal(t, OK, p.w.do(p.conn, ClientFrame{Op: OpSend, Group: "team", Text: round + "-team-" + p.user}).Code)
		}
		require.Equal(t, OK, carol.send("alice", round).Code)
	}
	traffic("before")
	inboxes := map[string][]StoredMsg{}
	for _, u := range []string{"alice", "carol", "grace"} {
		inboxes[u] = slices.Clone(c.inbox(u))
	}
	for _, w := range c.parts {
		w.restart()
	}
	for _, u := range []string{"alice", "carol", "grace"} {
		require.Equal(t, inboxes[u], c.inbox(u), u)
	}
	alice.relaunch()
	carol.relaunch()
	traffic("after")

	msgIDs, pushIDs := map[string]bool{}, map[uint64]bool{}
	for _, w := range c.parts {
		for _, rec := range w.records {
			if pm, ok := rec.(PutMessage); ok && pm.User.UserID == pm.Msg.From {
				require.False(t, msgIDs[pm.Msg.ID], "message ID %s used twice", pm.Msg.ID)
				msgIDs[pm.Msg.ID] = true
			}
		}
		for i, p := range w.pushes {
			if p.Attempt == 1 {
				require.False(t, pushIDs[p.ID], "push ID %d used twice", p.ID)
				pushIDs[p.ID] = true
				require.Equal(t, PartitionOf(testApp, p.Device.UserID, testPartitions), PushPartition(p.ID), "push %d", i)
			}
		}
	}
	require.Len(t, msgIDs, 10, "every send's own copy")
	require.Len(t, pushIDs, 8, "grace was pushed each message to her")
	require.Len(t, c.inbox("grace"), 8)
}

// A resend made while the first send still waits for another partition is the same message: both
// frames are answered with its ID once the partition answers, and nobody is asked twice.
func TestResendWhileWaitingIsTheSameMessage(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	alice := c.login("alice", "alice-phone")
	c.login("carol", "carol-phone")
	wa := c.of("alice")

	c.hold = true
	first := alice.sendAsync(ClientFrame{To: "carol", Text: "hi", ClientMsgID: "m1"})
	second := alice.sendAsync(ClientFrame{To: "carol", Text: "hi", ClientMsgID: "m1"})
	require.Len(t, wa.remote, 1, "the resend asks no one")
	c.release()
	for _, id := range []int64{first, second} {
		r, ok := alice.replyTo(id)
		require.True(t, ok, "frame %d answered", id)
		require.Equal(t, OK, r.Code, r.Desc)
		require.Equal(t, "1400000001-p0-1", r.MsgID)
	}
	require.Equal(t, []inboxLine{{1, "alice", "c2c_alice", "hi"}}, inboxLines(c.inbox("carol")))
	require.Equal(t, []inboxLine{{1, "alice", "c2c_carol", "hi"}}, inboxLines(c.inbox("alice")))
}

// An app deleted while one of its messages waits for another partition: the send is refused and
// nothing is stored for the deleted app's users.
func TestAppDeletedWhileASendWaitsRefusesIt(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	alice := c.login("alice", "alice-phone")
	c.login("carol", "carol-phone")
	wa := c.of("alice")

	c.hold = true
	id := alice.sendAsync(ClientFrame{To: "carol", Text: "hi"})
	require.NoError(t, wa.core.DeleteApp(wa.now, testApp))
	wa.settle()
	c.release()
	_, users := wa.core.users[UserKey{testApp, "alice"}]
	require.False(t, users, "the deleted app's user is not brought back")
	_, replied := alice.replyTo(id)
	require.False(t, replied, "the connection was closed with the app")
}

// TestAParkedSendFilesItsCopyInTheRecordThatIsThereAtTheAnswer: a send parked for another
// partition finds its local recipients again when the answers are in, so that an app deleted and
// made again meanwhile gets the sender's copy in the user's record it holds now, as the store
// does, and not in the record the send started with.
func TestAParkedSendFilesItsCopyInTheRecordThatIsThereAtTheAnswer(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	alice := c.login("alice", "alice-phone")
	c.login("carol", "carol-phone")
	wa := c.of("alice")
	require.NotEqual(t, wa, c.of("carol"), "alice and carol are on different partitions")

	c.hold = true
	alice.sendAsync(ClientFrame{To: "carol", Text: "hi"})
	require.NoError(t, wa.core.DeleteApp(wa.now, testApp))
	wa.settle()
	wa.app(AppConfig{SDKAppID: testApp, SecretKey: secret.New(testSecret)})
	c.release()

	key := UserKey{testApp, "alice"}
	stored := wa.load().Messages[key]
	require.Len(t, stored, 1, "the answer stored the sender's copy")
	require.Empty(t, cmp.Diff(stored, wa.inboxes()[key]), "the core's record holds what the store holds")
}

// The sender's nickname is its own partition's to know: a message to another partition carries
// it, and the recipient's partition titles the push with it (in the group's template when the
// group has a name, which every partition holds).
func TestCrossPartitionPushIsTitledWithTheSendersNickname(t *testing.T) {
	c := newCluster(t, testPartitions, Config{})
	require.NotEqual(t, c.of("alice"), c.of("grace"), "alice and grace are on different partitions")
	wa := c.of("alice")
	_, err := wa.core.SetProfile(wa.now, Profile{SDKAppID: testApp, UserID: "alice", Nickname: "Alice A."})
	require.NoError(t, err)
	wa.settle()
	for _, w := range c.parts {
		_, err := w.core.PutGroup(w.now, Group{SDKAppID: testApp, ID: "team", Name: "Team", Members: []string{"alice", "grace"}})
		require.NoError(t, err)
		w.settle()
	}
	alice := c.login("alice", "alice-phone")
	grace := c.login("grace", "grace-phone")
	grace.kill()
	require.Equal(t, OK, alice.send("grace", "wake up").Code)
	require.Equal(t, OK, alice.w.do(alice.conn, ClientFrame{Op: OpSend, Group: "team", Text: "standup"}).Code)
	var titles []string
	for _, p := range c.of("grace").pushesTo("grace-phone") {
		titles = append(titles, p.Title)
	}
	require.Equal(t, []string{"Alice A.", "Alice A. (Team)"}, titles)
	require.Equal(t, "Alice A.", c.inbox("grace")[0].Nickname)
}
