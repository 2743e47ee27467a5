// Package cluster holds the deterministic heart of the relay's cluster mode (DESIGN.md §11):
// users hashed to a fixed number of partitions, partition ownership as leases with an epoch
// (the fencing token every write carries), and the owner core that decides, from a view of the
// lease table and the live nodes at a given time, which leases a node renews, acquires, releases
// and has lost.
//
// Nothing here reads the clock, sleeps or starts goroutines: time is passed in. The lease table
// is an interface (LeaseTable, Members) with an in-memory reference implementation (MemLeases)
// for the simulator and the tests; clustertest holds the conformance suite every implementation
// must pass.
//
// The nodes talk over a Bus (core NATS in package natsbus; MemBus, synchronous, for tests and the
// simulator) on the subjects of PartitionSubject and GatewaySubject, in the versioned wire
// messages of wire.go (Encode, Decode). clustertest.RunBus is the behaviour suite both buses pass.
package cluster
