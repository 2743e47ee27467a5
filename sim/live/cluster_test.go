package live_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/cmd/relay/relayproc"
	"github.com/pushlab/pushlab/internal/logbuf"
	"github.com/pushlab/pushlab/internal/pgtest"
	"github.com/pushlab/pushlab/internal/relaycluster"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/live"
)

const (
	// clusterTTL keeps the live cluster tests short: a node's partitions move within seconds.
	clusterTTL = 2 * time.Second
	// clusterPartitions are few, to move quickly.
	clusterPartitions = 8
	// moveWithin is how long a fault may take to move partitions: the TTL and a few seconds.
	moveWithin = clusterTTL + 5*time.Second
)

// relayBinDir is where the tests' relay binary is built, once per test binary (TestMain removes
// it).
func relayBinDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("pushlab-live-relay-%d", os.Getpid()))
}

// relayBin compiles cmd/relay once for the package's tests (quick from go's build cache).
var relayBin = sync.OnceValues(func() (string, error) { return relayproc.Build(relayBinDir()) })

// openCluster opens a live world whose relay is three relay processes in cluster mode, on a
// throwaway PostgreSQL and NATS, once every node serves its share (relaycluster.Ready); logs
// are the nodes' log lines.
func openCluster(t *testing.T) (w *live.World, logs map[string]*logbuf.Buffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the relay binary")
	}
	if pgtest.Skipped() {
		t.Skip(pgtest.SkipEnv + "=1: the live cluster needs PostgreSQL")
	}
	bin, err := relayBin()
	require.NoError(t, err)
	logs = map[string]*logbuf.Buffer{"n1": {}, "n2": {}, "n3": {}}
	w, err = live.Open(t.Context(), live.Config{Seed: 1, Cluster: &live.ClusterConfig{Nodes: 3, Partitions: clusterPartitions,
		LeaseTTL: clusterTTL, RelayBin: bin, Logs: func(node string) io.Writer { return logs[node] }}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, w.Close()) })
	return w, logs
}

// servedBy maps each partition to the node serving it under the newest lease, by the views of
// the nodes running (a node cut off the database may still list a lease that lapsed, and one cut
// off may not answer: the others' views say enough).
func servedBy(t *testing.T, w *live.World) map[int]string {
	views, _ := w.ClusterViews()
	out := map[int]string{}
	newest := map[int]uint64{}
	for name, v := range views {
		for _, o := range v.Owned {
			if o.Epoch > newest[o.Partition] {
				out[o.Partition], newest[o.Partition] = name, o.Epoch
			}
		}
	}
	return out
}

// waitServedWithout waits until every partition is served, none by node.
func waitServedWithout(t *testing.T, w *live.World, node string) map[int]string {
	t.Helper()
	var owners map[int]string
	if !assert.Eventually(t, func() bool {
		owners = servedBy(t, w)
		return len(owners) == clusterPartitions && !slices.Contains(values(owners), node)
	}, moveWithin, 50*time.Millisecond) {
		t.Fatalf("partitions not all served without %s: %v", node, owners)
	}
	return owners
}

// waitServedBy waits until every partition is served and node serves some.
func waitServedBy(t *testing.T, w *live.World, node string, within time.Duration) {
	t.Helper()
	var owners map[int]string
	if !assert.Eventually(t, func() bool {
		owners = servedBy(t, w)
		return len(owners) == clusterPartitions && slices.Contains(values(owners), node)
	}, within, 50*time.Millisecond) {
		t.Fatalf("partitions not all served, some by %s: %v", node, owners)
	}
}

func values(m map[int]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// ownedBy is the partitions node serves, with their lease epochs.
func ownedBy(t *testing.T, w *live.World, node string) map[int]uint64 {
	views, err := w.ClusterViews()
	require.NoError(t, err)
	out := map[int]uint64{}
	for _, o := range views[node].Owned {
		out[o.Partition] = o.Epoch
	}
	return out
}

// The live cluster's relay is three real processes: the world says it can act on its nodes,
// and every partition is served when it opens.
func TestLiveClusterOpensServingEveryPartition(t *testing.T) {
	t.Parallel()
	w, _ := openCluster(t)
	require.True(t, w.Features().NodeFaults)
	require.Equal(t, []string{"n1", "n2", "n3"}, w.Nodes())
	views, err := w.ClusterViews()
	require.NoError(t, err)
	var all []relaycluster.View
	for _, v := range views {
		all = append(all, v)
	}
	ok, why := relaycluster.Ready(all)
	require.True(t, ok, why)
}

// KillNode is a SIGKILL: the node answers no more, and the others serve its partitions within
// the TTL and a few seconds; RestartNode starts it again with its ID and address, and it
// serves partitions again.
func TestLiveClusterKillAndRestartNode(t *testing.T) {
	t.Parallel()
	w, _ := openCluster(t)
	require.NotEmpty(t, ownedBy(t, w, "n2"))
	require.NoError(t, w.KillNode("n2"))
	views, err := w.ClusterViews()
	require.NoError(t, err)
	require.NotContains(t, views, "n2", "a killed node is not read")
	waitServedWithout(t, w, "n2")

	require.NoError(t, w.RestartNode("n2"))
	views, err = w.ClusterViews()
	require.NoError(t, err, "the restarted node answers on its address")
	require.Equal(t, "n2", views["n2"].NodeID)
	require.Eventually(t, func() bool {
		views, err := w.ClusterViews()
		return err == nil && len(views["n1"].LiveNodes) == 3
	}, moveWithin, 50*time.Millisecond, "the others see the restarted node live")
}

// PauseNode is SIGSTOP for a while, then SIGCONT: while it sleeps the others take its
// partitions; awake, it serves none of them under its old leases (its writes under them are
// fenced), and the partitions are each served once.
func TestLiveClusterPausedNodeLosesItsLeases(t *testing.T) {
	t.Parallel()
	w, _ := openCluster(t)
	before := ownedBy(t, w, "n1")
	require.NotEmpty(t, before)
	require.NoError(t, w.PauseNode("n1", moveWithin+clusterTTL))
	waitServedWithout(t, w, "n1")
	// Awake, each partition is served once, and n1 holds none under a lease it held before.
	require.Eventually(t, func() bool {
		views, err := w.ClusterViews()
		if err != nil || len(views) != 3 {
			return false
		}
		for p, epoch := range ownedByView(views["n1"]) {
			if before[p] == epoch {
				return false
			}
		}
		var all []relaycluster.View
		for _, v := range views {
			all = append(all, v)
		}
		ok, _ := relaycluster.Ready(all)
		return ok
	}, 3*moveWithin, 50*time.Millisecond, "the woken node keeps no old lease and the cluster is whole again")
}

func ownedByView(v relaycluster.View) map[int]uint64 {
	out := map[int]uint64{}
	for _, o := range v.Owned {
		out[o.Partition] = o.Epoch
	}
	return out
}

// PartitionNode from the bus closes the node's NATS connections and refuses new ones until
// healed: the node finds itself disconnected and gives its partitions up, the others serve them,
// and once healed it reconnects and takes its share again.
func TestLiveClusterNodeCutOffTheBus(t *testing.T) {
	t.Parallel()
	w, logs := openCluster(t)
	require.NotEmpty(t, ownedBy(t, w, "n3"))
	require.NoError(t, w.PartitionNode("n3", sim.NodeBus, true))
	require.Eventually(t, func() bool { return strings.Contains(logs["n3"].String(), "nats disconnected") },
		moveWithin, 20*time.Millisecond, "n3 is not cut off NATS: %s", logs["n3"])
	// Off the bus it can serve nobody: it gives its partitions up, and the others serve them.
	waitServedWithout(t, w, "n3")
	// Its log reaches the test through a pipe: read as it comes, not at one instant.
	require.Eventually(t, func() bool { return strings.Contains(logs["n3"].String(), "node off the bus") },
		moveWithin, 20*time.Millisecond, "n3 did not give its partitions up: %s", logs["n3"])
	require.NoError(t, w.PartitionNode("n3", sim.NodeBus, false))
	require.Eventually(t, func() bool { return strings.Contains(logs["n3"].String(), "nats reconnected") },
		moveWithin, 20*time.Millisecond, "n3 is not back on NATS: %s", logs["n3"])
	waitServedBy(t, w, "n3", 3*moveWithin)
}

// PartitionNode from the database closes the node's PostgreSQL connections: its lease renewals
// fail, and the others serve its partitions under newer leases; healed, it serves again.
func TestLiveClusterNodeCutOffTheDatabase(t *testing.T) {
	t.Parallel()
	w, logs := openCluster(t)
	require.NotEmpty(t, ownedBy(t, w, "n3"))
	require.NoError(t, w.PartitionNode("n3", sim.NodeDB, true))
	waitServedWithout(t, w, "n3")
	require.Eventually(t, func() bool { return strings.Contains(logs["n3"].String(), "leases not renewed") },
		moveWithin, 20*time.Millisecond, "n3's renewals do not fail: %s", logs["n3"])
	require.NoError(t, w.PartitionNode("n3", sim.NodeDB, false))
	waitServedBy(t, w, "n3", 3*moveWithin)
}
