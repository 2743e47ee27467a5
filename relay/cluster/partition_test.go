package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
)

// cluster.PartitionOf places users as the relay core does (relay's tests pin its values).
func TestPartitionOfIsTheRelays(t *testing.T) {
	for _, u := range []string{"alice", "bob", "", "用户"} {
		require.Equal(t, relay.PartitionOf(1400000000, u, cluster.DefaultPartitions), cluster.PartitionOf(1400000000, u, cluster.DefaultPartitions), u)
	}
}
