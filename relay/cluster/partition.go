package cluster

import "github.com/pushlab/pushlab/relay"

// DefaultPartitions is the number of partitions when the configuration names none.
const DefaultPartitions = 64

// PartitionOf is relay.PartitionOf: the partition, in [0, partitions), that holds the user userID
// of the app sdkAppID. It never changes (a test pins its values): stored data is placed by it.
func PartitionOf(sdkAppID uint64, userID string, partitions int) int {
	return relay.PartitionOf(sdkAppID, userID, partitions)
}
