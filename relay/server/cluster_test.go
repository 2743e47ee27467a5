package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/relaycluster"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/cluster/natsbus"
	"github.com/pushlab/pushlab/relay/pgstore"
)

// testPartitions is the partition count of the cluster tests: small, so that every node owns
// several and a test finds users on each quickly.
const testPartitions = 8

// testLeaseTTL is the cluster tests' lease TTL: failovers within a few seconds.
const testLeaseTTL = 2 * time.Second

// clusterBench is a cluster of relay nodes in this process, on a throwaway PostgreSQL database
// and an embedded NATS server, each serving HTTP on 127.0.0.1.
type clusterBench struct {
	t      *testing.T
	dsn    string
	nats   string
	nodes  map[string]*clusterNode
	sender *fakeSender
}

// clusterNode is one running node.
type clusterNode struct {
	id    string
	l     *Listening
	store *pgstore.Store
	bus   *natsbus.Bus
	once  sync.Once
}

func startClusterBench(t *testing.T, ids ...string) *clusterBench {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	require.True(t, ns.ReadyForConnections(5*time.Second), "NATS did not start")
	b := &clusterBench{t: t, dsn: pg.Database(t), nats: ns.ClientURL(), nodes: map[string]*clusterNode{}, sender: &fakeSender{}}
	for _, id := range ids {
		b.start(id)
	}
	return b
}

// start starts node id; wrap, if given, wraps its store.
func (b *clusterBench) start(id string, wrap ...func(*pgstore.Store) FencedStore) *clusterNode {
	t := b.t
	t.Helper()
	ctx := context.Background()
	st, err := pgstore.Open(ctx, b.dsn)
	require.NoError(t, err)
	bus, err := natsbus.Connect(natsbus.Config{URL: b.nats, Name: id, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	table := st.LeaseTable()
	var store FencedStore = st
	for _, w := range wrap {
		store = w(st)
	}
	l, err := Listen(ctx, "127.0.0.1:0", Config{Store: store, Sender: b.sender, AdminKey: secret.New(adminKey),
		Cluster: &ClusterConfig{NodeID: id, Name: "test", Partitions: testPartitions, LeaseTTL: testLeaseTTL,
			Bus: bus, Leases: table, Members: table}})
	require.NoError(t, err)
	n := &clusterNode{id: id, l: l, store: st, bus: bus}
	b.nodes[id] = n
	t.Cleanup(func() { b.stop(id) })
	return n
}

// stop shuts node id down gracefully.
func (b *clusterBench) stop(id string) {
	n := b.nodes[id]
	n.once.Do(func() {
		require.NoError(b.t, n.l.Shutdown(context.Background()))
		n.bus.Close()
		n.store.Close()
	})
}

// admin calls node id's admin API.
func (b *clusterBench) admin(id, method, path, body string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.nodes[id].l.URL+path, strings.NewReader(body))
	require.NoError(b.t, err)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(out)
}

// view is node id's GET /admin/v1/cluster.
func (b *clusterBench) view(id string) ClusterView {
	b.t.Helper()
	status, body := b.admin(id, "GET", "/admin/v1/cluster", "")
	require.Equal(b.t, http.StatusOK, status, body)
	var v ClusterView
	require.NoError(b.t, json.Unmarshal([]byte(body), &v))
	return v
}

// owners maps each partition to the running node that serves it, by the nodes' own views.
func (b *clusterBench) owners(running ...string) map[int]string {
	out := map[int]string{}
	for _, id := range running {
		for _, o := range b.view(id).Owned {
			out[o.Partition] = id
		}
	}
	return out
}

// waitServed waits until every partition is served by one of running, each of which serves some.
func (b *clusterBench) waitServed(within time.Duration, running ...string) map[int]string {
	b.t.Helper()
	var owners map[int]string
	require.Eventually(b.t, func() bool {
		owners = b.owners(running...)
		serving := map[string]bool{}
		for _, id := range owners {
			serving[id] = true
		}
		return len(owners) == testPartitions && len(serving) == len(running)
	}, within, 20*time.Millisecond, "partitions not all served by %v", running)
	return owners
}

// waitSettled waits until the running nodes form a ready cluster (relaycluster.Ready): every
// node sees the others live, each partition is served once, and none serves more than its share,
// past which it would hand partitions over to a node short of its share (and close the
// connections of their users). Owners read before that may still move; a test that picks users
// by their partition's owner, or keeps connections open across the rest of it, waits for this.
func (b *clusterBench) waitSettled(within time.Duration, running ...string) map[int]string {
	b.t.Helper()
	urls := make([]string, len(running))
	for i, id := range running {
		urls[i] = b.nodes[id].l.URL
	}
	require.EventuallyWithT(b.t, func(c *assert.CollectT) {
		views, err := relaycluster.Views(context.Background(), http.DefaultClient, urls, adminKey)
		if !assert.NoError(c, err) {
			return
		}
		ok, why := relaycluster.Ready(views)
		assert.True(c, ok, "the cluster of %v is not ready: %s", running, why)
	}, within, 20*time.Millisecond)
	return b.owners(running...)
}

// userOn finds a user ID whose partition owners gives to node.
func userOn(owners map[int]string, node, prefix string) string {
	for i := range 1000 {
		u := fmt.Sprintf("%s%d", prefix, i)
		if owners[cluster.PartitionOf(appID, u, testPartitions)] == node {
			return u
		}
	}
	panic("no user found on " + node)
}

// login opens an app connection to node id, logs user's device in and syncs.
func (b *clusterBench) login(id, user, dev string) *client.Conn {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, b.nodes[id].l.URL, client.Options{})
	require.NoError(b.t, err)
	b.t.Cleanup(func() { c.Close() })
	sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: user, Expire: time.Now().Add(time.Hour).Unix()})
	require.NoError(b.t, c.Login(ctx, appID, user, sig, dev, "android"))
	_, err = c.Do(ctx, relay.ClientFrame{Op: relay.OpSync}) // live frames flow once the device synced
	require.NoError(b.t, err)
	return c
}

// nextFrame waits for c's next event, at most 5 s.
func nextFrame(t *testing.T, c *client.Conn) relay.ServerFrame {
	t.Helper()
	select {
	case f, ok := <-c.Events():
		require.True(t, ok, "connection ended: %v", c.Err())
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame within 5s")
		return relay.ServerFrame{}
	}
}

// Three nodes on one PostgreSQL and one NATS serve the app WebSocket and the admin API from any
// node: a send crosses gateways and partitions, a login kicks across nodes, the admin calls work
// on every node; a node that leaves hands its partitions over within the lease TTL.
func TestClusterServesFromAnyNodeAndHandsOverOnLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL and NATS")
	}
	b := startClusterBench(t, "a", "b", "c")
	// The users are picked by their partition's owner, and what follows asserts where their
	// messages are stored: the nodes have evened out their shares first.
	owners := b.waitSettled(20*time.Second, "a", "b", "c")

	// The catalog from any node: the app on a, its certificate on b, both seen from every node.
	status, body := b.admin("a", "POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"secretKey":%q,"name":"Demo","loginPolicy":"single"}`, appID, appSecret))
	require.Equal(t, http.StatusCreated, status, body)
	status, body = b.admin("b", "POST", fmt.Sprintf("/admin/v1/apps/%d/certificates", appID), fmt.Sprintf(`{"id":%d,"packageName":"com.example.im","serverKey":"legacy-key","endpoint":"http://127.0.0.1:9"}`, certID))
	require.Equal(t, http.StatusCreated, status, body)
	for _, id := range []string{"a", "b", "c"} {
		require.Eventually(t, func() bool {
			status, body := b.admin(id, "GET", fmt.Sprintf("/admin/v1/apps/%d/certificates/%d", appID, certID), "")
			return status == http.StatusOK && strings.Contains(body, "com.example.im")
		}, 5*time.Second, 10*time.Millisecond, "node %s never saw the certificate", id)
	}

	// A recipient whose partition c owns, connected to a; a sender whose partition b owns,
	// connected to b: the send is answered once c stored it, and delivered on a.
	rcpt, sndr := userOn(owners, "c", "rcpt"), userOn(owners, "b", "sndr")
	rc := b.login("a", rcpt, "r-phone")
	sc := b.login("b", sndr, "s-phone")
	ctx := context.Background()
	cWrites := func() int {
		t.Helper()
		status, body := b.admin("c", "GET", "/metrics", "")
		require.Equal(t, http.StatusOK, status)
		return storeWrites(t, body)
	}
	writesBefore := cWrites()
	r, err := sc.Do(ctx, relay.ClientFrame{Op: relay.OpSend, To: rcpt, Text: "across"})
	require.NoError(t, err)
	require.Equal(t, relay.OK, r.Code)
	f := nextFrame(t, rc)
	require.Equal(t, relay.OpMsg, f.Op)
	require.Equal(t, "across", f.Msg.Text)
	// c stored the send, through the same timed write as a single relay's batches.
	require.Greater(t, cWrites(), writesBefore, "c's partition writes are timed")

	// The user view of rcpt (owned by c) from every node.
	for _, id := range []string{"a", "b", "c"} {
		status, body := b.admin(id, "GET", client.UserPath(appID, rcpt), "")
		require.Equal(t, http.StatusOK, status, "node %s: %s", id, body)
		require.Contains(t, body, `"deviceId":"r-phone"`, "node %s", id)
	}

	// A profile set through a, of a user c owns: c keeps it, every node reads it.
	status, body = b.admin("a", "PUT", client.ProfilePath(appID, rcpt), `{"nickname":"Recipient"}`)
	require.Equal(t, http.StatusOK, status, body)
	for _, id := range []string{"a", "b", "c"} {
		status, body := b.admin(id, "GET", client.ProfilePath(appID, rcpt), "")
		require.Equal(t, http.StatusOK, status, "node %s: %s", id, body)
		require.Contains(t, body, `"nickname":"Recipient"`, "node %s", id)
	}

	// Policy single: a login of rcpt's second device on b kicks the first, connected to a.
	rc2 := b.login("b", rcpt, "r-tablet")
	f = nextFrame(t, rc)
	require.Equal(t, relay.OpKicked, f.Op)

	// An admin kick through a, of a user c owns.
	status, body = b.admin("a", "POST", client.KickPath(appID, rcpt), "")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"kicked":1`)
	require.Equal(t, relay.OpKicked, nextFrame(t, rc2).Op)

	// rcpt's pushes turned off through a (c owns rcpt), read back through b.
	status, body = b.admin("a", "PUT", client.PushSettingsPath(appID, rcpt), `{"enabled":false}`)
	require.Equal(t, http.StatusOK, status, body)
	status, body = b.admin("b", "GET", client.PushSettingsPath(appID, rcpt), "")
	require.Equal(t, http.StatusOK, status, body)
	require.JSONEq(t, `{"enabled":false}`, body)

	// c leaves: a and b serve every partition within the lease TTL and a little more.
	left := time.Now()
	b.stop("c")
	b.waitServed(testLeaseTTL+3*time.Second, "a", "b")
	t.Logf("partitions of the node that left served again after %v", time.Since(left).Round(time.Millisecond))
	// Until c's membership lapses (a lease TTL after its last beat), a and b still count it live:
	// one of them may have taken both of its partitions, and then hands one over to the other.
	// rcpt's partition may be the one that moves, so rcpt connects once a and b have evened out.
	b.waitSettled(testLeaseTTL+10*time.Second, "a", "b")

	// The message is still there for rcpt, now owned by a or b.
	again, err := client.Dial(ctx, b.nodes["a"].l.URL, client.Options{})
	require.NoError(t, err)
	defer again.Close()
	sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: rcpt, Expire: time.Now().Add(time.Hour).Unix()})
	require.NoError(t, again.Login(ctx, appID, rcpt, sig, "r-phone", "android"))
	r, err = again.Do(ctx, relay.ClientFrame{Op: relay.OpSync})
	require.NoError(t, err)
	require.Len(t, r.Msgs, 1)
	require.Equal(t, "across", r.Msgs[0].Text)
	status, body = b.admin("a", "GET", client.PushSettingsPath(appID, rcpt), "")
	require.Equal(t, http.StatusOK, status, body)
	require.JSONEq(t, `{"enabled":false}`, body, "the new owner restored rcpt's push settings from the store")
	require.True(t, slices.ContainsFunc(b.view("a").LiveNodes, func(n string) bool { return n == "b" }))
}

// heldLoad is a store whose first Load reads the state, then waits to be let go before it
// answers it: the window in which a catalog change is stored after the state was read.
type heldLoad struct {
	*pgstore.Store
	once   sync.Once
	loaded chan struct{}
	letGo  chan struct{}
}

func (h *heldLoad) Load(ctx context.Context) (*relay.State, error) {
	st, err := h.Store.Load(ctx)
	h.once.Do(func() {
		close(h.loaded)
		<-h.letGo
	})
	return st, err
}

// A node restoring partitions from a state read before a catalog change was stored still
// serves the change: it takes the changes it heard of since the read began again.
func TestClusterRestoreTakesCatalogChangesTheStateMissed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL and NATS")
	}
	b := startClusterBench(t, "a")
	b.waitServed(10*time.Second, "a")
	held := &heldLoad{loaded: make(chan struct{}), letGo: make(chan struct{})}
	node := b.start("b", func(st *pgstore.Store) FencedStore { held.Store = st; return held })
	select {
	case <-held.loaded: // b acquired partitions a gave up, and read the state
	case <-time.After(10 * time.Second):
		t.Fatal("b never restored a partition")
	}
	// The app is created (on a, which keeps partition 0) after b read the state, and b hears of it.
	status, body := b.admin("a", "POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"secretKey":%q,"name":"Late"}`, appID, appSecret))
	require.Equal(t, http.StatusCreated, status, body)
	require.Eventually(t, func() bool { return node.l.cl.catalogSeq.Load() > 0 }, 5*time.Second, 5*time.Millisecond, "b never heard of the app")
	close(held.letGo)
	b.waitServed(10*time.Second, "a", "b")
	// b reads the catalog from a core of its own: every one of them holds the app.
	checked := 0
	for _, o := range b.view("b").Owned {
		c, err := node.l.call(context.Background(), func(time.Time) (any, error) {
			core, err := node.l.coreOf(o.Partition)
			if err != nil {
				return nil, err
			}
			_, ok := core.App(appID)
			return ok, nil
		})
		if errors.Is(err, cluster.ErrNotOwner) {
			continue // moved on since
		}
		require.NoError(t, err)
		require.True(t, c.(bool), "b's partition %d restored without the app", o.Partition)
		checked++
	}
	require.NotZero(t, checked)
}
