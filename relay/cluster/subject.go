package cluster

import (
	"fmt"
	"strconv"
	"strings"
)

// Subjects of the cluster's bus. Every subject starts with "pushlab.<cluster>", so several
// clusters (a test's and staging's, say) can share one NATS server without hearing each other:
//
//	pushlab.<cluster>.p.<partition>  the inbox of a partition's owner: gateways' connection events
//	                                 (ConnOpened, ConnFrame, ConnClosed) and other owners'
//	                                 SendRequests. Only the current owner subscribes; a request
//	                                 nobody answers is ErrUnavailable.
//	pushlab.<cluster>.gw.<node>      the inbox of a node's gateway: owners' Deliver and Close for
//	                                 the connections it holds.
//	pushlab.<cluster>.all            every node: PartitionMoved and Catalog.
//
// Cluster and node names are single subject tokens (CheckSubjectToken); partitions are decimal.

// PartitionSubject is the subject of partition's owner inbox in cluster.
func PartitionSubject(cluster string, partition int) string {
	return "pushlab." + cluster + ".p." + strconv.Itoa(partition)
}

// GatewaySubject is the subject of node's gateway inbox in cluster.
func GatewaySubject(cluster, node string) string {
	return "pushlab." + cluster + ".gw." + node
}

// BroadcastSubject is the subject every node of cluster subscribes to.
func BroadcastSubject(cluster string) string { return "pushlab." + cluster + ".all" }

// CheckSubjectToken reports whether name can be a cluster or node name in a subject: 1 to 64
// letters, digits, '-' or '_' (NATS splits subjects on '.', and '*' and '>' are wildcards).
func CheckSubjectToken(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("name %q: use 1 to 64 letters, digits, '-' or '_'", name)
	}
	if i := strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}); i >= 0 {
		return fmt.Errorf("name %q has %q at byte %d: use only letters, digits, '-' or '_'", name, name[i], i)
	}
	return nil
}
