package cluster_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay/cluster"
)

// The partition of a user must never change: stored data is placed by it. The values were
// computed apart from this code (FNV-1a 64 written out in a few lines of Python).
func TestPartitionOfIsPinned(t *testing.T) {
	for _, c := range []struct {
		app  uint64
		user string
		n    int
		want int
	}{
		{1400000000, "alice", 64, 22},
		{1400000000, "bob", 64, 25},
		{1, "", 64, 18},
		{1<<63 + 5, "用户", 64, 50},
		{1400000000, "alice", 7, 1},
		{1400000000, "alice", 1, 0},
	} {
		require.Equal(t, c.want, cluster.PartitionOf(c.app, c.user, c.n), "app %d user %q partitions %d", c.app, c.user, c.n)
	}
}

func TestPartitionOfSpreadsAndSeparatesApps(t *testing.T) {
	const P = 64
	hits := make([]int, P)
	for i := range 64 * 100 {
		p := cluster.PartitionOf(1400000000, "user"+string(rune('a'+i%26))+string(rune('0'+i/26%10))+string(rune('0'+i/260)), P)
		require.True(t, p >= 0 && p < P)
		hits[p]++
	}
	for p, n := range hits {
		require.Positive(t, n, "partition %d never hit", p)
	}
	// The app ID takes part: the same user of another app is (almost always) elsewhere.
	moved := 0
	for i := range 100 {
		u := "u" + string(rune('A'+i%26)) + string(rune('a'+i/26))
		if cluster.PartitionOf(1, u, P) != cluster.PartitionOf(2, u, P) {
			moved++
		}
	}
	require.Greater(t, moved, 80)
}

func TestPartitionOfPanicsWithoutPartitions(t *testing.T) {
	require.Panics(t, func() { cluster.PartitionOf(1, "a", 0) })
}
