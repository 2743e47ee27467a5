package relaycluster

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A cluster is ready for phones once every node sees every node live, each partition is served
// by exactly one of them, and none serves more than its share.
func TestReadyWhenEveryPartitionIsServed(t *testing.T) {
	view := func(id string, live int, owned ...int) View {
		v := View{NodeID: id, Partitions: 4}
		for k := range live {
			v.LiveNodes = append(v.LiveNodes, Config{}.nodeID(k))
		}
		for _, p := range owned {
			v.Owned = append(v.Owned, struct {
				Partition int    `json:"partition"`
				Epoch     uint64 `json:"epoch"`
			}{p, 1})
		}
		return v
	}
	for _, tc := range []struct {
		views []View
		want  string // "" when ready
	}{
		{[]View{view("node-1", 2, 0, 1), view("node-2", 2, 2, 3)}, ""},
		{[]View{view("node-1", 2, 0, 1), view("node-2", 2, 2)}, "3 of 4 partitions served"},
		{[]View{view("node-1", 1, 0, 1), view("node-2", 2, 2, 3)}, "node-1 sees 1 live nodes of 2"},
		{[]View{view("node-1", 2, 0, 1, 2), view("node-2", 2, 2, 3)}, "partition 2 served by node-1 and node-2"},
		{[]View{view("node-1", 2, 0, 1, 2), view("node-2", 2, 3)}, "node-1 serves 3 partitions, more than its share of 2: the nodes are still evening out"},
		{[]View{view("node-1", 2, 0, 1, 2, 3), view("node-2", 2)}, "node-1 serves 4 partitions, more than its share of 2: the nodes are still evening out"},
		{nil, "no node answered"},
	} {
		ok, why := Ready(tc.views)
		require.Equal(t, tc.want == "", ok, why)
		require.Equal(t, tc.want, why)
	}
}

// A cluster's node is started as relay --cluster with its own node ID, the cluster's NATS and
// name, and the partition count and lease TTL only when they are set.
func TestNodeArguments(t *testing.T) {
	cfg := Config{Name: "pushsim-load-7"}
	require.Equal(t, []string{"--cluster", "--node-id", "node-2", "--nats", "nats://127.0.0.1:4222", "--cluster-name", "pushsim-load-7"},
		cfg.Args(cfg.nodeID(1), "nats://127.0.0.1:4222"))
	cfg.Partitions, cfg.LeaseTTL = 16, 2e9
	require.Equal(t, []string{"--cluster", "--node-id", "n1", "--nats", "nats://x:1", "--cluster-name", "pushsim-load-7", "--partitions", "16", "--lease-ttl", "2s"},
		cfg.Args("n1", "nats://x:1"))
}
