package server

import (
	"fmt"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
)

// anyPartition asks coreOf for any core: for reads of the catalog, which every core holds.
const anyPartition = -1

// The admin calls reach the core that holds what they touch through these, on the loop's
// goroutine: the single relay's core, or in cluster mode the core of the partition, on this
// node, that holds the user, or the catalog owner (CatalogPartition) for changes of the catalog.

// partitionOf is the partition that holds a user: 0 for a single relay.
func (s *Server) partitionOf(app uint64, user string) int {
	if s.cl == nil {
		return 0
	}
	return cluster.PartitionOf(app, user, s.cl.cfg.Partitions)
}

// coreOf is the core serving partition p (anyPartition: any core this node runs); in cluster
// mode an error wrapping cluster.ErrNotOwner when this node does not serve it.
func (s *Server) coreOf(p int) (*relay.Core, error) {
	if s.cl == nil {
		return s.core, nil
	}
	if p == anyPartition {
		if owned := s.cl.node.Owned(); len(owned) > 0 {
			p = owned[0]
		} else {
			p = cluster.CatalogPartition
		}
	}
	c, ok := s.cl.node.Core(p)
	if !ok {
		return nil, fmt.Errorf("%w %d (node %s); retry", cluster.ErrNotOwner, p, s.cl.cfg.NodeID)
	}
	return c, nil
}

// applyCatalog makes a change of the catalog (cluster.CatalogInput) and returns a core that
// holds it, to answer the change's view from.
func (s *Server) applyCatalog(now time.Time, in relay.Input) (*relay.Core, error) {
	if s.cl == nil {
		return s.core, s.core.Step(now, in)
	}
	if err := s.cl.node.Catalog(now, in); err != nil {
		return nil, err
	}
	return s.coreOf(cluster.CatalogPartition)
}

// putApp creates (create) or replaces an app.
func (s *Server) putApp(now time.Time, cfg relay.AppConfig, create bool) (relay.AppView, error) {
	c, err := s.applyCatalog(now, relay.Input{Kind: relay.InputPutApp, AppConfig: cfg, Create: create})
	if err != nil {
		return relay.AppView{}, err
	}
	v, _ := c.App(cfg.SDKAppID)
	return v, nil
}

// putCertificate creates (create; ID 0 takes the next free one) or replaces a certificate.
func (s *Server) putCertificate(now time.Time, cert relay.Certificate, create bool) (relay.CertificateView, error) {
	if cert.ID == 0 {
		c, err := s.coreOf(cluster.CatalogPartition)
		if err != nil {
			return relay.CertificateView{}, err
		}
		cert.ID = c.NextCertificateID()
	}
	c, err := s.applyCatalog(now, relay.Input{Kind: relay.InputPutCertificate, Cert: cert, Create: create})
	if err != nil {
		return relay.CertificateView{}, err
	}
	v, _ := c.Certificate(cert.ID)
	return v.View(), nil
}
