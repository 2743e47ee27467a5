package cluster_test

import (
	"testing"

	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/cluster/clustertest"
)

// MemLeases is the reference semantics: it passes the conformance suites.
func TestMemLeasesConformance(t *testing.T) {
	clustertest.RunLeaseTable(t, func(*testing.T) cluster.LeaseTable { return cluster.NewMemLeases() })
}

func TestMemMembersConformance(t *testing.T) {
	clustertest.RunMembers(t, func(*testing.T) cluster.Members { return cluster.NewMemLeases() })
}
