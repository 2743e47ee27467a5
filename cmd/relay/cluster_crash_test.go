package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/cmd/relay/relayproc"
	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/relaycluster"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/server"
)

const (
	// natsPassword is the NATS password the relay must never show.
	natsPassword = "nats-Pa55w0rd-never-shown"
	// crashPartitions and crashLeaseTTL keep the cluster crash test short: few partitions to
	// restore, failover within seconds.
	crashPartitions = 16
	crashLeaseTTL   = 2 * time.Second
	// clusterKillAfter is how many acknowledged sends the traffic reaches before a node is killed.
	clusterKillAfter = 150
)

// clusterCrashBench is three relay processes run as a cluster on one PostgreSQL database and
// an embedded NATS server, pushing to an in-process fakefcm.
type clusterCrashBench struct {
	*crashBench
	nodes []string
	procs map[string]*relayproc.Process
	logs  map[string]*logBuffer
}

// url is node id's base URL.
func (b *clusterCrashBench) url(id string) string { return b.procs[id].URL }

// view reads node id's GET /admin/v1/cluster; ok is false when it does not answer.
func (b *clusterCrashBench) view(id string) (server.ClusterView, bool) {
	var v server.ClusterView
	err := (&client.Admin{BaseURL: b.url(id), Key: crashAdminKey}).Do(context.Background(), "GET", "/admin/v1/cluster", nil, &v)
	return v, err == nil
}

// served maps each partition to the node of running that serves it.
func (b *clusterCrashBench) served(running []string) map[int]string {
	out := map[int]string{}
	for _, id := range running {
		if v, ok := b.view(id); ok {
			for _, o := range v.Owned {
				out[o.Partition] = id
			}
		}
	}
	return out
}

// waitServed waits until every partition is served by one of running, each serving some.
func (b *clusterCrashBench) waitServed(within time.Duration, running ...string) map[int]string {
	b.t.Helper()
	var owners map[int]string
	require.Eventually(b.t, func() bool {
		owners = b.served(running)
		nodes := map[string]bool{}
		for _, n := range owners {
			nodes[n] = true
		}
		return len(owners) == crashPartitions && len(nodes) == len(running)
	}, within, 20*time.Millisecond, "partitions not all served by %v", running)
	return owners
}

// waitSettled waits until the running nodes form a ready cluster (relaycluster.Ready): each
// partition served once, and no node serving more than its share, past which it would hand
// partitions over to a node short of its share. Owners read before that may still move; a test
// that picks users by their partition's owner reads them after it.
func (b *clusterCrashBench) waitSettled(within time.Duration, running ...string) map[int]string {
	b.t.Helper()
	urls := make([]string, len(running))
	for i, id := range running {
		urls[i] = b.url(id)
	}
	why := ""
	if !assert.Eventually(b.t, func() bool {
		views, err := relaycluster.Views(b.t.Context(), http.DefaultClient, urls, crashAdminKey)
		if err != nil {
			why = err.Error()
			return false
		}
		var ok bool
		ok, why = relaycluster.Ready(views)
		return ok
	}, within, 20*time.Millisecond) {
		b.t.Fatalf("the cluster of %v is not ready: %s", running, why)
	}
	return b.served(running)
}

// connect opens an app on node id: log in, report the token, sync from 0 (every page). It
// returns an error instead of failing the test, for the traffic's goroutines.
func (b *clusterCrashBench) connect(ctx context.Context, id string, p *phone) (*client.Conn, []relay.MsgFrame, error) {
	app, err := client.Dial(ctx, b.url(id), client.Options{})
	if err != nil {
		return nil, nil, err
	}
	sig := relay.MakeUserSig(crashAppSecret, relay.UserSigClaims{SDKAppID: crashApp, UserID: p.user, Expire: time.Now().Add(time.Hour).Unix()})
	fail := func(err error) (*client.Conn, []relay.MsgFrame, error) { app.Drop(); return nil, nil, err }
	if err := app.Login(ctx, crashApp, p.user, sig, p.dev, "android"); err != nil {
		return fail(err)
	}
	if _, err := app.Do(ctx, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: p.cert, Token: p.token}); err != nil {
		return fail(err)
	}
	var msgs []relay.MsgFrame
	var since uint64
	for {
		r, err := app.Do(ctx, relay.ClientFrame{Op: relay.OpSync, Since: since})
		if err != nil {
			return fail(err)
		}
		msgs = append(msgs, r.Msgs...)
		if len(r.Msgs) > 0 {
			since = r.Msgs[len(r.Msgs)-1].Seq
		}
		if !r.More {
			return app, msgs, nil
		}
	}
}

// open is connect for the test's goroutine, retrying while a partition is moving (5002, or a
// connection closed for a reconnect).
func (b *clusterCrashBench) open(id string, p *phone) []relay.MsgFrame {
	b.t.Helper()
	var msgs []relay.MsgFrame
	var last error
	require.Eventually(b.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		app, m, err := b.connect(ctx, id, p)
		if err != nil {
			last = err
			return false
		}
		p.app, msgs = app, m
		b.t.Cleanup(func() { app.Drop() })
		return true
	}, 15*time.Second, 50*time.Millisecond, "%s could not open on %s: %v", p.dev, id, last)
	return msgs
}

// userOn finds a user ID, starting with prefix, whose partition node owns.
func userOn(t *testing.T, owners map[int]string, node, prefix string) string {
	for i := range 10000 {
		u := fmt.Sprintf("%s%d", prefix, i)
		if owners[cluster.PartitionOf(crashApp, u, crashPartitions)] == node {
			return u
		}
	}
	t.Fatalf("no user %s… on node %s", prefix, node)
	return ""
}

// TestClusterSurvivesSIGKILLOfANode runs three relay processes as a cluster (--cluster) on one
// PostgreSQL database and one NATS server, with phones spread over the nodes, a cross-node kick
// and a logout; mid-traffic it kills one node with SIGKILL, and checks that its partitions are
// served again within the lease TTL and a few seconds, that every acknowledged message syncs once
// and in order, that phones killed while logged in (before the crash, or by it) are pushed, and
// that the logged-out and the kicked device never are.
func TestClusterSurvivesSIGKILLOfANode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary")
	}
	began := time.Now()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, NoLog: true, NoSigs: true,
		Username: "relay", Password: natsPassword})
	require.NoError(t, err)
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	require.True(t, ns.ReadyForConnections(5*time.Second), "NATS did not start")

	off := fakefcm.Throttles{DevicePerMinute: -1, DevicePerHour: -1, CollapsibleBurst: -1}
	fcm, err := fcmserver.Listen("127.0.0.1:0", fcmserver.Config{Core: fakefcm.Config{Seed: 9, Behaviour: fakefcm.Behaviour{Throttles: off}}})
	require.NoError(t, err)
	t.Cleanup(func() { fcm.Shutdown(context.Background()) })
	natsURL := fmt.Sprintf("nats://relay:%s@%s", natsPassword, ns.Addr())
	// The throwaway server trusts local connections: the password is there to be kept out of logs.
	dsn := strings.Replace(pg.Database(t), "pgtest@", "pgtest:"+pgPassword+"@", 1)
	b := &clusterCrashBench{crashBench: &crashBench{t: t, bin: buildRelay(t), pg: dsn, fcm: fcm, fcmc: &control.Client{BaseURL: fcm.URL}},
		nodes: []string{"n1", "n2", "n3"}, procs: map[string]*relayproc.Process{}, logs: map[string]*logBuffer{}}
	b.cfg = filepath.Join(t.TempDir(), "relay.yaml")
	require.NoError(t, os.WriteFile(b.cfg, []byte("relay: {framesPerSecond: 1000000, frameBurst: 1000000}\n"), 0o600))
	ctx := context.Background()
	b.creds, err = b.fcmc.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "demo", PackageNames: []string{"com.example.im"}})
	require.NoError(t, err)
	t.Logf("relay built, fakefcm and NATS started: %v", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	// The three nodes start together, as a cluster's nodes would after a deploy.
	var starting sync.WaitGroup
	errs := make([]error, len(b.nodes))
	procs := make([]*relayproc.Process, len(b.nodes))
	for i, id := range b.nodes {
		logs := newLogBuffer()
		b.logs[id] = logs
		starting.Go(func() {
			procs[i], errs[i] = relayproc.Start(ctx, relayproc.Options{Bin: b.bin, Postgres: b.pg, Config: b.cfg, AdminKey: crashAdminKey, Stderr: logs,
				Args: []string{"--cluster", "--node-id", id, "--nats", natsURL, "--cluster-name", "crash",
					"--partitions", fmt.Sprint(crashPartitions), "--lease-ttl", crashLeaseTTL.String()}})
		})
	}
	starting.Wait()
	for i, id := range b.nodes {
		if p := procs[i]; p != nil {
			t.Cleanup(func() { _ = p.Kill() })
			b.procs[id] = p
		}
	}
	for i, id := range b.nodes {
		require.NoError(t, errs[i], "node %s log:\n%s", id, b.logs[id])
	}
	defer func() {
		if t.Failed() {
			for _, id := range b.nodes {
				t.Logf("node %s log:\n%s", id, b.logs[id])
			}
		}
	}()
	owners := b.waitSettled(20*time.Second, b.nodes...)
	t.Logf("three nodes serve every partition, evenly, %v after start", time.Since(began).Round(time.Millisecond))

	// The catalog through n1: policy single, so that a login kicks the user's other devices.
	admin := &client.Admin{BaseURL: b.url("n1"), Key: crashAdminKey}
	b.admin = admin // what waitPush reads the push trace through
	caps := relay.Caps{PerMinute: 1_000_000, PerHour: 1_000_000, Burst: 1_000_000, Refill: duration.Of(time.Millisecond)}
	require.NoError(t, admin.PutApp(ctx, relay.AppConfig{SDKAppID: crashApp, Name: "Crash", SecretKey: secret.New(crashAppSecret), LoginPolicy: relay.PolicySingle, Caps: caps}))
	require.NoError(t, admin.PutCertificate(ctx, relay.Certificate{SDKAppID: crashApp, ID: v1Cert, PackageName: "com.example.im",
		ServiceAccount: secret.New(string(b.creds.ServiceAccount)), Endpoint: fcm.URL}))
	for _, id := range b.nodes {
		require.Eventually(t, func() bool {
			var v relay.CertificateView
			return (&client.Admin{BaseURL: b.url(id), Key: crashAdminKey}).Do(ctx, "GET", client.CertificatePath(crashApp, v1Cert), nil, &v) == nil
		}, 5*time.Second, 10*time.Millisecond, "node %s never saw the certificate", id)
	}

	// n3 dies. Recipients: 24 phones, on every node's gateway, a third of them in partitions n3
	// owns; half are killed (the app closed) before the traffic, half read their live frames.
	victim := "n3"
	var rcpts []*phone
	for i := range 24 {
		owner := b.nodes[i%3]
		u := userOn(t, owners, owner, fmt.Sprintf("r%d-", i))
		rcpts = append(rcpts, b.phone(u, u+"-phone", v1Cert))
	}
	for i, p := range rcpts {
		b.open(b.nodes[(i/3)%3], p) // gateways and owners mixed
		if i%2 == 0 {
			require.NoError(t, p.app.Drop())
			continue
		}
		events := p.app.Events()
		go func() {
			for range events {
			}
		}()
	}
	// kim logs in on n1, then on n2 with another device: the first is kicked, across nodes, by
	// n3 which holds kim. lou logs out. Neither the kicked nor the logged-out device may be pushed.
	kimOld := b.phone(userOn(t, owners, victim, "kim"), "kim-old", v1Cert)
	kimNew := b.phone(kimOld.user, "kim-new", v1Cert)
	b.open("n1", kimOld)
	b.open("n2", kimNew)
	select {
	case f := <-kimOld.app.Events():
		require.Equal(t, relay.OpKicked, f.Op, "kim-old: %+v", f)
	case <-time.After(5 * time.Second):
		t.Fatal("kim-old was not kicked by kim-new's login on another node")
	}
	require.NoError(t, kimNew.app.Drop()) // killed, logged in: pushed
	lou := b.phone(userOn(t, owners, victim, "lou"), "lou-phone", v1Cert)
	b.open("n2", lou)
	_, err = lou.app.Do(ctx, relay.ClientFrame{Op: relay.OpLogout})
	require.NoError(t, err)
	require.NoError(t, lou.app.Drop())

	// The traffic: nine senders, three per node, each sending to the recipients, kim and lou in
	// turn, one message at a time; a sender whose connection ends reconnects to its node while
	// that runs.
	var mu sync.Mutex
	var acks []acked
	var count atomic.Int64
	killNow, stop := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	targets := append([]string{kimOld.user, lou.user}, func() (us []string) {
		for _, p := range rcpts {
			us = append(us, p.user)
		}
		return us
	}()...)
	var refused atomic.Int64
	for i := range 9 {
		node := b.nodes[i%3]
		s := b.phone(fmt.Sprintf("s%d", i), fmt.Sprintf("s%d-phone", i), v1Cert)
		b.open(node, s)
		wg.Go(func() {
			app := s.app
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if app == nil {
					if node == victim {
						return
					}
					cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
					app, _, _ = b.connect(cctx, node, s)
					cancel()
					continue
				}
				to := targets[n%len(targets)]
				dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				r, err := app.Do(dctx, relay.ClientFrame{Op: relay.OpSend, To: to, Text: fmt.Sprintf("%s %d", s.user, n)})
				cancel()
				var re *client.ReplyError
				switch {
				case errors.As(err, &re):
					refused.Add(1) // not acknowledged (5002 while the partition moves): the app retries
					continue
				case err != nil:
					app.Drop()
					app = nil // the connection ended, or no answer in time: reconnect
					continue
				}
				mu.Lock()
				acks = append(acks, acked{sender: s.user, to: to, msgID: r.MsgID})
				mu.Unlock()
				if count.Add(1) == clusterKillAfter {
					once.Do(func() { close(killNow) })
				}
			}
		})
	}
	select {
	case <-killNow:
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d sends acknowledged in 30s", count.Load())
	}
	require.NoError(t, b.procs[victim].Kill()) // SIGKILL, mid-traffic
	killed := time.Now()
	atKill := count.Load()
	// Until its lease lapses nobody serves kim's partition: an admin call for kim on a live node
	// is answered "unavailable, retry".
	status, body := rawAdmin(t, b.url("n1"), "GET", client.UserPath(crashApp, kimOld.user))
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Contains(t, body, `"code":5002`)
	// So is an app's login for kim, on a live node's WebSocket: its gateway hears that nobody
	// owns the partition and says so, rather than leaving the login unanswered.
	lateCtx, cancelLate := context.WithTimeout(context.Background(), time.Second)
	late, err := client.Dial(lateCtx, b.url("n1"), client.Options{})
	require.NoError(t, err)
	sig := relay.MakeUserSig(crashAppSecret, relay.UserSigClaims{SDKAppID: crashApp, UserID: kimOld.user, Expire: time.Now().Add(time.Hour).Unix()})
	var refusal *client.ReplyError
	require.ErrorAs(t, late.Login(lateCtx, crashApp, kimOld.user, sig, "kim-late", "android"), &refusal)
	require.Equal(t, relay.CodeUnavailable, refusal.Code, refusal.Desc)
	late.Drop()
	cancelLate()
	survivors := []string{"n1", "n2"}
	b.waitServed(crashLeaseTTL+4*time.Second, survivors...)
	failover := time.Since(killed)
	t.Logf("%d sends acknowledged when n3 was killed; its partitions served again %v later", atKill, failover.Round(time.Millisecond))
	// Traffic goes on through the new owners, then stops.
	require.Eventually(t, func() bool { return count.Load() >= atKill+100 }, 10*time.Second, 10*time.Millisecond,
		"traffic did not go on after the failover (%d acknowledged, %d refused)", count.Load(), refused.Load())
	close(stop)
	wg.Wait()
	mu.Lock()
	acknowledged := acks
	mu.Unlock()
	t.Logf("%d sends acknowledged in all, %d refused while partitions moved", len(acknowledged), refused.Load())

	// Phones killed while logged in are pushed: those killed before the crash, those whose
	// gateway died with n3 (killed by the crash), and kim's new device.
	var pushedTo []*phone
	for i, p := range rcpts {
		if i%2 == 0 || b.nodes[(i/3)%3] == victim {
			pushedTo = append(pushedTo, p)
		}
	}
	pushedTo = append(pushedTo, kimNew)
	pusher := b.phone("pusher", "pusher-phone", v1Cert)
	b.open("n1", pusher)
	for _, p := range pushedTo {
		body := "after the crash, for " + p.dev
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			if pusher.app == nil {
				// The survivors still even out their shares: when the pusher's partition moves,
				// n1 closes its connection ("reconnect"), and it reconnects as an app does.
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				app, _, err := b.connect(cctx, "n1", pusher)
				cancel()
				if !assert.NoError(c, err, "pusher reconnecting to n1") {
					return
				}
				pusher.app = app
				t.Cleanup(func() { app.Drop() })
			}
			dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			_, err := pusher.app.Do(dctx, relay.ClientFrame{Op: relay.OpSend, To: p.user, Text: body})
			var re *client.ReplyError
			if err != nil && !errors.As(err, &re) {
				pusher.app.Drop()
				pusher.app = nil // the connection ended: reconnect
			}
			assert.NoError(c, err, "send to %s", p.user)
		}, 10*time.Second, 50*time.Millisecond)
		b.waitPush(p, body)
	}

	// Every acknowledged message syncs after a relogin, once, in order, whichever node holds it.
	for i, p := range rcpts {
		msgs := b.open(survivors[i%2], p)
		require.NoError(t, p.app.Drop())
		at := map[string]int{}
		for j, m := range msgs {
			_, dup := at[m.ID]
			require.False(t, dup, "%s: message %s synced twice", p.user, m.ID)
			at[m.ID] = j
			if j > 0 {
				require.Greater(t, m.Seq, msgs[j-1].Seq, "%s: sync out of order", p.user)
			}
		}
		last := map[string]int{}
		for _, a := range acknowledged {
			if a.to != p.user {
				continue
			}
			j, ok := at[a.msgID]
			require.True(t, ok, "%s: message %s from %s was acknowledged and is lost", p.user, a.msgID, a.sender)
			if prev, seen := last[a.sender]; seen {
				require.Greater(t, j, prev, "%s: %s's messages out of order", p.user, a.sender)
			}
			last[a.sender] = j
		}
	}

	// The kicked and the logged-out devices were never pushed; kim's user view, on either node,
	// shows only the new device logged in.
	for _, p := range []*phone{kimOld, lou} {
		recs, err := b.fcmc.Messages(ctx, fakefcm.RecordFilter{Token: p.token})
		require.NoError(t, err)
		require.Empty(t, recs, "%s was pushed", p.dev)
	}
	for _, id := range survivors {
		v, err := (&client.Admin{BaseURL: b.url(id), Key: crashAdminKey}).User(ctx, crashApp, kimOld.user)
		require.NoError(t, err)
		for _, d := range v.Devices {
			require.Equal(t, d.DeviceID == "kim-new", d.LoggedIn, "%s: %+v", id, d)
		}
	}
	// The dead node is gone from the lease table and the live nodes. (A partition may be free for
	// a tick at any time while the survivors even out their shares: one releases, the other takes.)
	v, ok := b.view("n1")
	require.True(t, ok)
	require.NotContains(t, v.LiveNodes, victim)
	for _, l := range v.Leases {
		require.NotEqual(t, victim, l.Node, "partition %d still leased to the dead node", l.Partition)
	}
	for _, id := range survivors {
		require.NoError(t, b.procs[id].Stop())
	}
	// No secret reached a log: the database's and NATS's passwords, the admin key, the app's
	// secret, the service account's private key.
	var sa struct {
		PrivateKey string `json:"private_key"`
	}
	require.NoError(t, json.Unmarshal(b.creds.ServiceAccount, &sa))
	require.NotEmpty(t, sa.PrivateKey)
	for _, id := range b.nodes {
		logs := b.logs[id].String()
		require.Contains(t, logs, `"nats":"nats://relay:xxxxx@`, "node %s", id)
		for _, secret := range []string{pgPassword, natsPassword, crashAdminKey, crashAppSecret, strings.TrimSpace(sa.PrivateKey)[40:80]} {
			require.NotContains(t, logs, secret, "node %s logged a secret", id)
		}
	}
	t.Logf("cluster crash test: %v", time.Since(began).Round(time.Millisecond))
}

// rawAdmin calls an admin path and answers the status and body as they are.
func rawAdmin(t *testing.T, base, method, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+crashAdminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(out)
}
