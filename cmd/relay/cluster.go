package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/server"
)

// clusterFlags are the flags of cluster mode (relay --cluster; DESIGN.md §11).
type clusterFlags struct {
	on         *bool
	nodeID     *string
	nats       *string
	name       *string
	partitions *int
	leaseTTL   *time.Duration
}

// clusterFlagNames are the flags that mean something only with --cluster.
var clusterFlagNames = []string{"node-id", "nats", "cluster-name", "partitions", "lease-ttl"}

func addClusterFlags(fs *flag.FlagSet) clusterFlags {
	return clusterFlags{
		on:         fs.Bool("cluster", false, "run as one node of a cluster: several relays on one PostgreSQL (--postgres) and one NATS (--nats); see the README"),
		nodeID:     fs.String("node-id", "", "with --cluster: this node's name, unique in the cluster (letters, digits, '-', '_'); defaults to the config file's cluster.nodeId"),
		nats:       fs.String("nats", "", "with --cluster: NATS URL the nodes talk over (nats://host:4222); defaults to the config file's cluster.nats"),
		name:       fs.String("cluster-name", "pushlab", "with --cluster: the cluster's name on the bus (clusters sharing a NATS server must differ)"),
		partitions: fs.Int("partitions", cluster.DefaultPartitions, "with --cluster: fixed number of partitions users hash to; the same on every node, never changed once data is stored"),
		leaseTTL:   fs.Duration("lease-ttl", cluster.DefaultLeaseTTL, "with --cluster: how long a partition's lease holds without renewal: a dead node's partitions move within about this"),
	}
}

// clusterSettings is what cluster mode runs with, once flags and config file are merged.
type clusterSettings struct {
	nodeID     string
	nats       string // a secret: may hold credentials
	name       string
	partitions int
	leaseTTL   time.Duration
}

// resolve merges the flags with the config file's cluster section (flags win) and checks them,
// before anything runs. It answers nil without --cluster, and refuses cluster settings given
// without it, a store other than PostgreSQL, and a config file's apps and certificates.
func (c clusterFlags) resolve(fs *flag.FlagSet, fc *server.FileConfig, configPath string, dbSet bool, pgURL string) (*clusterSettings, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !*c.on {
		var given []string
		for _, n := range clusterFlagNames {
			if set[n] {
				given = append(given, "--"+n)
			}
		}
		if len(given) > 0 {
			return nil, fmt.Errorf("%s: cluster settings without --cluster; add --cluster to run a cluster node, or leave them out", strings.Join(given, ", "))
		}
		if !fc.Cluster.IsZero() {
			return nil, fmt.Errorf("%s: a cluster section without --cluster; add --cluster to run a cluster node, or remove the section", configPath)
		}
		return nil, nil
	}
	cs := &clusterSettings{nodeID: fc.Cluster.NodeID, nats: fc.Cluster.NATS.Reveal(), name: fc.Cluster.Name,
		partitions: fc.Cluster.Partitions, leaseTTL: fc.Cluster.LeaseTTL.D()}
	if set["node-id"] || cs.nodeID == "" {
		cs.nodeID = *c.nodeID
	}
	if set["nats"] || cs.nats == "" {
		cs.nats = *c.nats
	}
	if set["cluster-name"] || cs.name == "" {
		cs.name = *c.name
	}
	if set["partitions"] || cs.partitions == 0 {
		cs.partitions = *c.partitions
	}
	if set["lease-ttl"] || cs.leaseTTL == 0 {
		cs.leaseTTL = *c.leaseTTL
	}
	switch {
	case dbSet:
		return nil, errors.New("--cluster keeps the state in PostgreSQL, shared by the nodes: give --postgres (or the config file's postgres), not --db")
	case pgURL == "":
		return nil, errors.New("--cluster needs PostgreSQL, shared by the nodes: give --postgres URL or the config file's postgres")
	case cs.nats == "":
		return nil, errors.New("--cluster needs NATS, the nodes' bus: give --nats URL or the config file's cluster.nats")
	case cs.nodeID == "":
		return nil, errors.New("--cluster needs this node's name: give --node-id ID or the config file's cluster.nodeId")
	case cs.partitions <= 0:
		return nil, fmt.Errorf("--partitions %d: must be positive (default %d)", cs.partitions, cluster.DefaultPartitions)
	case cs.leaseTTL < time.Second:
		return nil, fmt.Errorf("--lease-ttl %v: at least 1s (default %v)", cs.leaseTTL, cluster.DefaultLeaseTTL)
	case len(fc.Apps) > 0 || len(fc.Certificates) > 0:
		return nil, fmt.Errorf("%s: apps and certificates in the config file are not created by a cluster node; create them once through the admin API of any node", configPath)
	}
	if err := cluster.CheckSubjectToken(cs.nodeID); err != nil {
		return nil, fmt.Errorf("--node-id: %w", err)
	}
	if err := cluster.CheckSubjectToken(cs.name); err != nil {
		return nil, fmt.Errorf("--cluster-name: %w", err)
	}
	return cs, nil
}
