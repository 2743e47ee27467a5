package cluster

import (
	"encoding/binary"
	"hash/fnv"
)

// DefaultPartitions is the number of partitions when the configuration names none.
const DefaultPartitions = 64

// PartitionOf is the partition, in [0, partitions), that holds the user userID of the app
// sdkAppID: FNV-1a 64 over the app ID's 8 bytes (big-endian) followed by the user ID's bytes,
// modulo partitions. Every device of a user lands in the user's partition, because the device
// takes no part in the hash.
//
// The function must never change: stored data is placed by it, and a changed hash would put users
// in partitions their data is not in. Its values are pinned by a test. Changing the partition
// count moves users too, so it is fixed for a cluster's life.
//
// PartitionOf panics if partitions is not positive: that is a configuration the caller validates.
func PartitionOf(sdkAppID uint64, userID string, partitions int) int {
	if partitions <= 0 {
		panic("cluster: PartitionOf needs a positive partition count")
	}
	h := fnv.New64a()
	var app [8]byte
	binary.BigEndian.PutUint64(app[:], sdkAppID)
	_, _ = h.Write(app[:])         // a hash.Hash never fails to write
	_, _ = h.Write([]byte(userID)) // idem
	return int(h.Sum64() % uint64(partitions))
}
