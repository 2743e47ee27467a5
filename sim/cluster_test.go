package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// testClusterWorld is testWorld on the cluster twin: three nodes, eight partitions.
func testClusterWorld(t *testing.T, cfg VirtualConfig, ids ...string) (*VirtualWorld, map[string]*Device) {
	t.Helper()
	w, err := NewCluster(cfg, ClusterConfig{Partitions: 8})
	require.NoError(t, err)
	require.NoError(t, w.AddApp(relay.AppConfig{SDKAppID: testApp, SecretKey: secret.New(testSecret)}))
	sender, err := w.AddCertificate(CertificateSpec{ID: 6768, SDKAppID: testApp, PackageName: "com.example.im", API: "v1"})
	require.NoError(t, err)
	devs := map[string]*Device{}
	for _, id := range ids {
		devs[id] = w.AddDevice(DeviceConfig{ID: id + "-phone", User: id, SDKAppID: testApp, AppSecret: testSecret,
			CertificateID: 6768, SenderID: sender, Package: "com.example.im", Installed: true})
	}
	w.run(time.Second)
	return w, devs
}

// The cluster's cores, the vcluster and the world read one clock: every trace entry is made at
// the world's time it comes out at, and a push reaches FCM one backend latency after the core
// decided it, however long the cluster sat idle before the input that made it.
func TestClusterCoresReadTheWorldsClock(t *testing.T) {
	w, d := testClusterWorld(t, VirtualConfig{Seed: 3, Jitter: 37 * time.Millisecond}, "alice", "bob")
	type late struct {
		entry relay.TraceEntry
		now   time.Time
	}
	var skewed []late
	type attempt struct {
		id uint64
		n  int
	}
	decided := map[attempt]time.Time{}
	var arrivals int
	w.SetTap(func(e TapEvent) {
		switch e.Kind {
		case TapReady:
			for _, t := range e.Ready.Trace {
				if !t.Time.Equal(e.Time) {
					skewed = append(skewed, late{t, e.Time})
				}
			}
			for _, p := range e.Ready.Pushes {
				decided[attempt{p.ID, p.Attempt}] = e.Time
			}
		case TapFCM:
			arrivals++
			at, ok := decided[attempt{e.Push.ID, e.Push.Attempt}]
			require.True(t, ok, "push %d reached FCM, decided by no core", e.Push.ID)
			require.Equal(t, w.cfg.BackendLatency, e.Time.Sub(at), "push %d reached FCM at %s, decided at %s", e.Push.ID, e.Time, at)
		}
	})
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(time.Second)
	d["alice"].Kill()
	w.run(1234 * time.Millisecond) // the cluster sits idle between owner-loop steps
	for range 3 {
		d["bob"].Send(relay.ClientFrame{To: "alice", Text: "ping"})
		w.run(777 * time.Millisecond)
	}
	w.run(2 * time.Minute)
	require.Positive(t, arrivals, "pushes reached FCM")
	require.Empty(t, skewed, "trace entries made at another time than the world's")
}

// PartitionOwner names the running node whose lease holds the user's partition: for each of
// forty users, the lease table's holder of relay.PartitionOf's partition. Killed, the holder is
// named no more, though its lease lives on until the TTL; once another node takes the
// partition over, that one is named. A world whose relay is one core has no nodes.
func TestPartitionOwnerIsTheRunningHolderOfTheUsersPartition(t *testing.T) {
	w, _ := testClusterWorld(t, VirtualConfig{Seed: 1})
	w.run(10 * time.Second) // the nodes even out their shares
	holders := map[string]bool{}
	for i := range 40 {
		user := fmt.Sprintf("user-%d", i)
		got, err := w.PartitionOwner(testApp, user)
		require.NoError(t, err, user)
		require.Equal(t, w.Cluster().Owner(relay.PartitionOf(testApp, user, 8)), got, user)
		holders[got] = true
	}
	require.Len(t, holders, 3, "forty users' partitions on every node")

	victim, err := w.PartitionOwner(testApp, "carol")
	require.NoError(t, err)
	require.NoError(t, w.KillNode(victim))
	_, err = w.PartitionOwner(testApp, "carol")
	require.ErrorContains(t, err, "has no running owner now", "the killed holder's lease still lives")
	w.run(20 * time.Second)
	taker, err := w.PartitionOwner(testApp, "carol")
	require.NoError(t, err)
	require.NotEqual(t, victim, taker)

	one, _ := testWorld(t, VirtualConfig{Seed: 1})
	_, err = one.PartitionOwner(testApp, "carol")
	require.ErrorIs(t, err, ErrUnsupported)
}
