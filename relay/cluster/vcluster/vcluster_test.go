package vcluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/cluster/vcluster"
)

const (
	app       = uint64(1400000001)
	appSecret = "vcluster-test-secret-0123456789"
	ttl       = 6 * time.Second
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// bench is a virtual cluster with the app and a certificate in its catalog, and what its apps
// received so far.
type bench struct {
	t      *testing.T
	c      *vcluster.Cluster
	frames map[vcluster.AppConn][]relay.ServerFrame
	closed map[vcluster.AppConn]vcluster.AppClose
	pushes []vcluster.NodePush
	nextID int64
}

func newBench(t *testing.T, policy relay.LoginPolicy, nodes ...string) *bench {
	t.Helper()
	c, err := vcluster.New(vcluster.Config{Nodes: nodes, Partitions: 16, LeaseTTL: ttl, RenewEvery: time.Second, Start: t0})
	require.NoError(t, err)
	b := &bench{t: t, c: c, frames: map[vcluster.AppConn][]relay.ServerFrame{}, closed: map[vcluster.AppConn]vcluster.AppClose{}}
	b.advance(3 * time.Second) // every partition owned
	require.Empty(t, c.Unowned())
	require.NoError(t, c.Catalog(c.Now(), relay.Input{Kind: relay.InputPutApp, Create: true,
		AppConfig: relay.AppConfig{SDKAppID: app, Name: "demo", SecretKey: secret.New(appSecret), LoginPolicy: policy}}))
	require.NoError(t, c.Catalog(c.Now(), relay.Input{Kind: relay.InputPutCertificate, Create: true, Cert: relay.Certificate{ID: 1, SDKAppID: app,
		Platform: "google", PackageName: "com.example.im",
		ServiceAccount: secret.New(`{"type":"service_account","project_id":"demo","private_key":"k","client_email":"a@b.c","private_key_id":"abcdef"}`)}}))
	b.advance(0)
	return b
}

// advance moves the cluster d forward and collects what its apps received.
func (b *bench) advance(d time.Duration) {
	b.c.Advance(b.c.Now().Add(d))
	b.collect()
}

func (b *bench) collect() {
	out := b.c.TakeOutput()
	for _, f := range out.Frames {
		b.frames[f.To] = append(b.frames[f.To], f.Frame)
	}
	for _, cl := range out.Closes {
		b.closed[cl.To] = cl
	}
	b.pushes = append(b.pushes, out.Pushes...)
}

// send writes a client frame on conn and lets the cluster carry it through.
func (b *bench) send(conn vcluster.AppConn, f relay.ClientFrame) int64 {
	b.t.Helper()
	b.nextID++
	f.ID = b.nextID
	data, err := json.Marshal(f)
	require.NoError(b.t, err)
	b.c.Send(b.c.Now(), conn, data)
	b.advance(0)
	return f.ID
}

// reply is the reply to frame id on conn; it fails the test if there is none.
func (b *bench) reply(conn vcluster.AppConn, id int64) relay.ServerFrame {
	b.t.Helper()
	for _, f := range b.frames[conn] {
		if f.Op == relay.OpReply && f.ID == id {
			return f
		}
	}
	b.t.Fatalf("no reply to frame %d on %v; frames: %+v", id, conn, b.frames[conn])
	return relay.ServerFrame{}
}

// login connects a device of user on node and logs it in; it requires an OK.
func (b *bench) login(node, user, device string) vcluster.AppConn {
	b.t.Helper()
	conn, err := b.c.Connect(b.c.Now(), node)
	require.NoError(b.t, err)
	sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: app, UserID: user, Expire: t0.Add(24 * time.Hour).Unix()})
	id := b.send(conn, relay.ClientFrame{Op: relay.OpLogin, SDKAppID: app, UserID: user, UserSig: sig, DeviceID: device, Platform: "android"})
	require.Equal(b.t, relay.OK, b.reply(conn, id).Code, "login of %s/%s on %s", user, device, node)
	// Live messages start once the device has synced.
	id = b.send(conn, relay.ClientFrame{Op: relay.OpSync})
	require.Equal(b.t, relay.OK, b.reply(conn, id).Code)
	return conn
}

// msgs are the live msg frames conn received.
func (b *bench) msgs(conn vcluster.AppConn) []relay.MsgFrame {
	var out []relay.MsgFrame
	for _, f := range b.frames[conn] {
		if f.Op == relay.OpMsg && f.Msg != nil {
			out = append(out, *f.Msg)
		}
	}
	return out
}

// usersOnDifferentNodes finds two users whose partitions different nodes own.
func (b *bench) usersOnDifferentNodes() (string, string) {
	b.t.Helper()
	for i := range 100 {
		for j := range 100 {
			u, v := fmt.Sprintf("u%d", i), fmt.Sprintf("v%d", j)
			ou, ov := b.owner(u), b.owner(v)
			if ou != "" && ov != "" && ou != ov {
				return u, v
			}
		}
	}
	b.t.Fatal("no two users on different nodes")
	return "", ""
}

func (b *bench) owner(user string) string { return b.c.Owner(relay.PartitionOf(app, user, 16)) }

// nodeOtherThan names a live node that is none of the given ones.
func (b *bench) nodeOtherThan(not ...string) string {
	for _, n := range b.c.Nodes() {
		if b.c.Alive(n) && !contains(not, n) {
			return n
		}
	}
	b.t.Fatalf("no live node other than %v", not)
	return ""
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestPartitionsAreSpreadOverTheNodes(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	for _, n := range []string{"a", "b", "c"} {
		owned := b.c.Node(n).Owned()
		// The fair share is ceil(16/3) = 6; nodes at their share keep it, so one may have 4.
		require.GreaterOrEqual(t, len(owned), 4, "node %s owns %v", n, owned)
		require.LessOrEqual(t, len(owned), 6, "node %s owns %v", n, owned)
	}
}

func TestCrossNodeSendIsStoredOnceAndAnsweredAfterTheRecipientsCopy(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	alice, bob := b.usersOnDifferentNodes()
	// Each connects to a node that owns neither of their partitions where possible.
	ac := b.login(b.nodeOtherThan(b.owner(alice)), alice, "phone")
	bc := b.login(b.nodeOtherThan(b.owner(bob)), bob, "phone")
	id := b.send(ac, relay.ClientFrame{Op: relay.OpSend, To: bob, Text: "hello", ClientMsgID: "m1"})
	r := b.reply(ac, id)
	require.Equal(t, relay.OK, r.Code, r.Desc)
	got := b.msgs(bc)
	require.Len(t, got, 1)
	require.Equal(t, "hello", got[0].Text)
	require.Equal(t, "c2c_"+alice, got[0].Conv)
	require.Equal(t, r.MsgID, got[0].ID)
	// A resend with the same clientMsgId is the same message.
	id = b.send(ac, relay.ClientFrame{Op: relay.OpSend, To: bob, Text: "hello", ClientMsgID: "m1"})
	require.Equal(t, r.MsgID, b.reply(ac, id).MsgID)
	require.Len(t, b.msgs(bc), 1)
}

func TestALoginOnAnyNodeKicksPerThePolicy(t *testing.T) {
	b := newBench(t, relay.PolicySingle, "a", "b", "c")
	first := b.login("a", "carol", "phone")
	second := b.login("b", "carol", "tablet")
	require.Contains(t, b.closed, first, "the older login, on node a, is kicked by the one on node b")
	require.Equal(t, relay.CloseNormal, b.closed[first].Code)
	kicked := false
	for _, f := range b.frames[first] {
		kicked = kicked || f.Op == relay.OpKicked
	}
	require.True(t, kicked, "the kicked device got its kicked frame first: %+v", b.frames[first])
	require.NotContains(t, b.closed, second)
}

func TestFailoverMovesPartitionsAndLosesNoAcknowledgedMessage(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	alice, bob := b.usersOnDifferentNodes()
	victim := b.owner(bob)
	ac := b.login(b.nodeOtherThan(victim, b.owner(alice)), alice, "phone")
	bobNode := b.nodeOtherThan(victim)
	bc := b.login(bobNode, bob, "phone")
	id := b.send(bc, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: 1, Token: "tok-bob"})
	require.Equal(t, relay.OK, b.reply(bc, id).Code)
	id = b.send(ac, relay.ClientFrame{Op: relay.OpSend, To: bob, Text: "one"})
	require.Equal(t, relay.OK, b.reply(ac, id).Code)

	require.NoError(t, b.c.Kill(b.c.Now(), victim))
	b.advance(0)
	// While bob's partition has no owner, a send to him is refused with the retry code.
	id = b.send(ac, relay.ClientFrame{Op: relay.OpSend, To: bob, Text: "refused"})
	r := b.reply(ac, id)
	require.Equal(t, relay.CodeUnavailable, r.Code, r.Desc)

	b.advance(ttl + 4*time.Second)
	require.Empty(t, b.c.Unowned(), "every partition owned again within the lease TTL and a few steps")
	require.NotEqual(t, victim, b.owner(bob))
	require.Contains(t, b.closed, bc, "bob's connection, served by the dead owner, was closed for him to reconnect")
	require.Equal(t, relay.CloseTryAgain, b.closed[bc].Code)

	id = b.send(ac, relay.ClientFrame{Op: relay.OpSend, To: bob, Text: "two"})
	require.Equal(t, relay.OK, b.reply(ac, id).Code)
	// Bob's phone is logged in but has no connection: the new owner pushes.
	pushed := false
	for _, p := range b.pushes {
		pushed = pushed || (p.Push.Device.UserID == bob && p.Push.Token == "tok-bob")
	}
	require.True(t, pushed, "bob, logged in with his app killed, is pushed by the new owner")

	// Bob reconnects to any node and syncs: both acknowledged messages, once each, in order.
	bc2 := b.login(b.nodeOtherThan(victim), bob, "phone")
	id = b.send(bc2, relay.ClientFrame{Op: relay.OpSync})
	var texts []string
	for _, m := range b.reply(bc2, id).Msgs {
		texts = append(texts, m.Text)
	}
	require.Equal(t, []string{"one", "two"}, texts)
}

func TestAZombiesWritesAreFenced(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	alice, bob := b.usersOnDifferentNodes()
	zombie := b.owner(bob)
	p := relay.PartitionOf(app, bob, 16)
	bc := b.login(b.nodeOtherThan(zombie), bob, "phone")
	require.NoError(t, b.c.Pause(b.c.Now(), zombie))
	b.advance(ttl + 4*time.Second)
	newOwner := b.owner(bob)
	require.NotEqual(t, zombie, newOwner)
	require.NotEmpty(t, newOwner)
	// A frame from bob's old connection goes to the partition's subject, which the zombie still
	// listens to; it waits in the zombie's inbox.
	b.send(bc, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: 1, Token: "tok-zombie"})
	ac := b.login(b.nodeOtherThan(zombie), alice, "phone")
	id := b.send(ac, relay.ClientFrame{Op: relay.OpSend, To: bob, Text: "after"})
	require.Equal(t, relay.OK, b.reply(ac, id).Code)
	require.NoError(t, b.c.Resume(b.c.Now(), zombie))
	b.advance(2 * time.Second)

	var fenced uint64
	for _, w := range b.c.Writes() {
		if w.Node == zombie && w.Partition == p && w.Err != nil {
			require.ErrorIs(t, w.Err, cluster.ErrFenced)
			fenced = w.Epoch
		}
	}
	require.NotZero(t, fenced, "the zombie tried to write partition %d after resuming and was refused", p)
	requireOneWriterPerEpoch(t, b.c.Writes())
	if epoch, owns := b.c.Node(zombie).Epoch(p); owns {
		require.Greater(t, epoch, fenced, "the zombie serves the partition again only under a new lease")
	}
}

// requireOneWriterPerEpoch checks the cluster's fencing invariant on the write log.
func requireOneWriterPerEpoch(t *testing.T, writes []vcluster.Write) {
	t.Helper()
	require.NoError(t, vcluster.OneWriterPerEpoch(writes))
}

func TestATokenThatMovesToAUserOfAnotherPartitionIsNoLongerPushedForTheFormerUser(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	alice, bob := b.usersOnDifferentNodes()
	ac := b.login("a", alice, "phone")
	id := b.send(ac, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: 1, Token: "shared-token"})
	require.Equal(t, relay.OK, b.reply(ac, id).Code)
	b.c.Disconnect(b.c.Now(), ac) // the app is killed; alice stays logged in
	// The phone changes hands: bob logs in on it and binds the same token.
	bc := b.login("b", bob, "phone")
	id = b.send(bc, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: 1, Token: "shared-token"})
	require.Equal(t, relay.OK, b.reply(bc, id).Code)
	b.c.Disconnect(b.c.Now(), bc)
	b.advance(0)

	sender := b.login("c", "carol", "phone")
	b.pushes = nil
	id = b.send(sender, relay.ClientFrame{Op: relay.OpSend, To: alice, Text: "for alice only"})
	require.Equal(t, relay.OK, b.reply(sender, id).Code)
	id = b.send(sender, relay.ClientFrame{Op: relay.OpSend, To: bob, Text: "for bob"})
	require.Equal(t, relay.OK, b.reply(sender, id).Code)
	b.advance(time.Second)
	var to []string
	for _, p := range b.pushes {
		if p.Push.Token == "shared-token" {
			to = append(to, p.Push.Device.UserID)
		}
	}
	require.Equal(t, []string{bob}, to, "the token now belongs to bob's login: alice's message is not pushed to it")
}

func TestALoginToAPartitionWithNoOwnerIsAnsweredUnavailableNotDropped(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	victim := b.owner("dave")
	require.NoError(t, b.c.Kill(b.c.Now(), victim))
	b.advance(0)
	conn, err := b.c.Connect(b.c.Now(), b.nodeOtherThan(victim))
	require.NoError(t, err)
	sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: app, UserID: "dave", Expire: t0.Add(24 * time.Hour).Unix()})
	login := relay.ClientFrame{Op: relay.OpLogin, SDKAppID: app, UserID: "dave", UserSig: sig, DeviceID: "phone", Platform: "android"}
	id := b.send(conn, login)
	r := b.reply(conn, id)
	require.Equal(t, relay.CodeUnavailable, r.Code, r.Desc)
	require.NotContains(t, b.closed, conn, "the connection stays open for the app to retry")

	b.advance(ttl + 4*time.Second)
	id = b.send(conn, login)
	require.Equal(t, relay.OK, b.reply(conn, id).Code, "the retry on the same connection reaches the new owner")
}

func TestANodeCutOffTheBusClosesItsConnectionsAndTakesNoNew(t *testing.T) {
	b := newBench(t, relay.PolicySingle, "a", "b", "c")
	first := b.login("a", "carol", "phone")
	require.NoError(t, b.c.CutBus(b.c.Now(), "a", true))
	b.advance(5 * time.Second) // its partitions move to b and c
	// Deaf to its connections' owners, node a would keep carol's phone open and never tell it of
	// the kick below: it closes the connection for the app to reconnect elsewhere.
	require.Contains(t, b.closed, first, "a node cut off the bus closes the connections it can no longer serve")
	require.Equal(t, relay.CloseTryAgain, b.closed[first].Code)
	_, err := b.c.Connect(b.c.Now(), "a")
	require.Error(t, err, "a node cut off the bus takes no connection")

	again := b.login("b", "carol", "phone")
	second := b.login("c", "carol", "tablet")
	require.Contains(t, b.closed, again, "the reconnected phone, on node b, is kicked by the login on node c")
	require.NotContains(t, b.closed, second)

	require.NoError(t, b.c.CutBus(b.c.Now(), "a", false))
	b.advance(5 * time.Second)
	b.login("a", "dave", "phone")
}

func TestAnOwnerCutOffTheBusLeavesNoConnectionWaitingForItsFrames(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	alice, _ := b.usersOnDifferentNodes()
	owner := b.owner(alice)
	gw := b.nodeOtherThan(owner)
	ac := b.login(gw, alice, "phone")
	require.NoError(t, b.c.CutBus(b.c.Now(), owner, true))
	// Its Deliver frames to gateway gw would be lost while alice's phone, open on gw, waits for
	// them: the owner gives the partition up, and its new owner closes the connection for the
	// app to reconnect and sync.
	b.advance(5 * time.Second)
	require.NotEqual(t, owner, b.owner(alice))
	require.NotEmpty(t, b.owner(alice))
	require.Contains(t, b.closed, ac, "alice's connection, served by an owner off the bus, is closed")
	require.Equal(t, relay.CloseTryAgain, b.closed[ac].Code)
	b.login(gw, alice, "phone")
}

func TestALoginAnsweredUnavailableLeavesNoConnectionInTheLateOwner(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	owner := b.owner("dave")
	require.NoError(t, b.c.Pause(b.c.Now(), owner))
	conn, err := b.c.Connect(b.c.Now(), b.nodeOtherThan(owner))
	require.NoError(t, err)
	sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: app, UserID: "dave", Expire: t0.Add(24 * time.Hour).Unix()})
	id := b.send(conn, relay.ClientFrame{Op: relay.OpLogin, SDKAppID: app, UserID: "dave", UserSig: sig, DeviceID: "phone", Platform: "android"})
	b.advance(3 * time.Second) // past the request timeout, within the lease
	require.Equal(t, relay.CodeUnavailable, b.reply(conn, id).Code, "the paused owner did not answer in time")
	// The owner wakes to the login that waited for it: it must not keep, logged in, a connection
	// whose gateway answered the app Unavailable and sends its next frames elsewhere.
	require.NoError(t, b.c.Resume(b.c.Now(), owner))
	b.advance(time.Second)
	require.Equal(t, owner, b.owner("dave"))
	online := false
	require.NoError(t, b.c.Admin(b.c.Now(), app, "dave", func(_ time.Time, core *relay.Core) error {
		u, _ := core.User(app, "dave")
		for _, d := range u.Devices {
			online = online || d.Online
		}
		return nil
	}))
	require.False(t, online, "the late owner closed the connection its gateway gave up on")
}

func TestANodeCutOffTheBusGivesItsPartitionsUpAndMissesNoTokenMove(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	alice, bob := b.usersOnDifferentNodes()
	deaf := b.owner(alice)
	ac := b.login(b.nodeOtherThan(deaf), alice, "phone")
	id := b.send(ac, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: 1, Token: "shared-token"})
	require.Equal(t, relay.OK, b.reply(ac, id).Code)
	b.c.Disconnect(b.c.Now(), ac) // the app is killed; alice stays logged in

	// Off the bus, node deaf would serve alice's partition without hearing of the token moving.
	require.NoError(t, b.c.CutBus(b.c.Now(), deaf, true))
	b.advance(3 * time.Second)
	require.Empty(t, b.c.Node(deaf).Owned(), "a node off the bus serves no partition")
	require.Empty(t, b.c.Unowned(), "the others took its partitions")
	// The phone changes hands: bob binds the same token, while deaf is off the bus.
	bc := b.login(b.nodeOtherThan(deaf), bob, "phone")
	id = b.send(bc, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: 1, Token: "shared-token"})
	require.Equal(t, relay.OK, b.reply(bc, id).Code)
	b.c.Disconnect(b.c.Now(), bc)
	require.NoError(t, b.c.CutBus(b.c.Now(), deaf, false))
	b.advance(10 * time.Second) // it takes its share back

	sender := b.login(b.nodeOtherThan(deaf), "carol", "phone")
	b.pushes = nil
	id = b.send(sender, relay.ClientFrame{Op: relay.OpSend, To: alice, Text: "for alice only"})
	require.Equal(t, relay.OK, b.reply(sender, id).Code)
	b.advance(time.Second)
	for _, p := range b.pushes {
		require.NotEqual(t, "shared-token", p.Push.Token, "alice's message pushed on the token bob bound, from %s", p.Node)
	}
}

func TestEachPartitionsInputsComeJustBeforeItsReadyWhenANodeStepsSeveralCores(t *testing.T) {
	c, err := vcluster.New(vcluster.Config{Nodes: []string{"a"}, Partitions: 16, LeaseTTL: ttl, RenewEvery: time.Second, Start: t0, Events: true})
	require.NoError(t, err)
	b := &bench{t: t, c: c, frames: map[vcluster.AppConn][]relay.ServerFrame{}, closed: map[vcluster.AppConn]vcluster.AppClose{}}
	require.NoError(t, c.Catalog(c.Now(), relay.Input{Kind: relay.InputPutApp, Create: true,
		AppConfig: relay.AppConfig{SDKAppID: app, Name: "demo", SecretKey: secret.New(appSecret)}}))
	users := []string{"u0"}
	for i := 1; len(users) < 3; i++ {
		u := fmt.Sprintf("u%d", i)
		if relay.PartitionOf(app, u, 16) != relay.PartitionOf(app, users[len(users)-1], 16) {
			users = append(users, u)
		}
	}
	conns := map[string]vcluster.AppConn{}
	for _, u := range users {
		conns[u] = b.login("a", u, "phone")
	}
	// Each has a message it has not acknowledged, owed a decision once its connection ends.
	for i, u := range users {
		b.send(conns[users[(i+1)%len(users)]], relay.ClientFrame{Op: relay.OpSend, To: u, Text: "unacknowledged"})
	}
	c.TakeOutput()
	// Losing the bus, node a ends the connections of three cores in one go.
	require.NoError(t, c.CutBus(c.Now(), "a", true))
	var pending []vcluster.Event
	readies := 0
	for _, e := range c.TakeOutput().Events {
		switch e.Kind {
		case vcluster.EventInput:
			pending = append(pending, e)
		case vcluster.EventReady:
			readies++
			for _, in := range pending {
				require.Equal(t, e.Partition, in.Partition, "an input of partition %d told before partition %d's ready, as if one core took both", in.Partition, e.Partition)
			}
			pending = nil
		}
	}
	require.GreaterOrEqual(t, readies, len(users))
}

func TestANodeCutOffTheDatabaseStopsServingWhenItsLeasesExpire(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	owned := b.c.Node("a").Owned()
	require.NotEmpty(t, owned)
	require.NoError(t, b.c.CutDB(b.c.Now(), "a", true))
	b.advance(ttl + 4*time.Second)
	require.Empty(t, b.c.Node("a").Owned(), "node a, unable to renew, serves no partition past its leases")
	for _, p := range owned {
		require.NotEqual(t, "a", b.c.Owner(p))
		require.NotEmpty(t, b.c.Owner(p), "partition %d taken by another node", p)
	}
}

func TestANodeCutOffTheDatabaseClosesItsConnectionsAndTakesNoNew(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	conn := b.login("a", "erin", "phone")
	require.NoError(t, b.c.CutDB(b.c.Now(), "a", true))
	b.advance(0)
	// It can no longer beat, so the owners will count its gateway dead and forget its
	// connections: it closes them rather than keep them open, unknown to their owners.
	require.Contains(t, b.closed, conn)
	require.Equal(t, relay.CloseTryAgain, b.closed[conn].Code)
	_, err := b.c.Connect(b.c.Now(), "a")
	require.Error(t, err)
}

func TestAnAdminCallRunsOnlyOnThePartitionsCurrentOwner(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	p := relay.PartitionOf(app, "frank", 16)
	stale := b.owner("frank")
	// Another node takes the partition in the lease table; the former owner has not stepped
	// since, so it still runs a core for it, under an epoch the table no longer has.
	ctx := context.Background()
	leases, err := b.c.Leases().Leases(ctx)
	require.NoError(t, err)
	for _, l := range leases {
		if l.Partition == p {
			require.NoError(t, b.c.Leases().Release(ctx, l))
		}
	}
	_, err = b.c.Leases().Acquire(ctx, p, b.nodeOtherThan(stale), b.c.Now(), ttl)
	require.NoError(t, err)
	_, has := b.c.Node(stale).Core(p)
	require.True(t, has)
	ran := false
	err = b.c.Admin(b.c.Now(), app, "frank", func(time.Time, *relay.Core) error { ran = true; return nil })
	require.ErrorIs(t, err, cluster.ErrNotOwner, "the call waits for the new owner rather than run on %s's stale core", stale)
	require.False(t, ran)
}

func TestAPartitionWhoseWriteFailedIsServedAgainOnceTheDatabaseIsBack(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	p := relay.PartitionOf(app, "gina", 16)
	owner := b.owner("gina")
	gw := b.nodeOtherThan(owner)
	conn := b.login(gw, "gina", "phone")
	require.NoError(t, b.c.CutDB(b.c.Now(), owner, true))
	// A write of gina's partition fails: its owner stops serving it.
	b.send(conn, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: 1, Token: "tok-gina"})
	_, serves := b.c.Node(owner).Epoch(p)
	require.False(t, serves)
	require.NoError(t, b.c.CutDB(b.c.Now(), owner, false))
	b.advance(ttl + 4*time.Second)
	now := b.owner("gina")
	require.NotEmpty(t, now, "partition %d has an owner", p)
	_, serves = b.c.Node(now).Epoch(p)
	require.True(t, serves, "node %s holds partition %d's lease and serves it, rather than renew a lease for a partition it dropped", now, p)
}

func TestAnAdminCallWhoseOutcomeCannotBeStoredFails(t *testing.T) {
	b := newBench(t, relay.PolicyMulti, "a", "b", "c")
	b.login("b", "hana", "phone")
	owner := b.owner("hana")
	require.NoError(t, b.c.CutDB(b.c.Now(), owner, true))
	err := b.c.Admin(b.c.Now(), app, "hana", func(now time.Time, core *relay.Core) error {
		return core.Step(now, relay.Input{Kind: relay.InputKick, App: app, User: "hana"})
	})
	require.ErrorIs(t, err, cluster.ErrNotOwner, "a kick %s could not store did not happen: the caller must retry", owner)
}
