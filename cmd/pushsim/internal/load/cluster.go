package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/pushlab/pushlab/cmd/relay/relayproc"
	"github.com/pushlab/pushlab/internal/pgserver"
)

// clusterReadyLongest is how long a started cluster may take until every partition is served.
const clusterReadyLongest = time.Minute

// cluster is what a run with Nodes ≥ 2 starts beside its relays: a throwaway PostgreSQL and an
// embedded NATS server, each unless the run names one.
type cluster struct {
	pg       *pgserver.Server
	nats     *natsserver.Server
	pgURL    string
	natsURL  string
	name     string
	postgres string // the database the relays share
}

func (c *cluster) close() {
	if c.nats != nil {
		c.nats.Shutdown()
		c.nats.WaitForShutdown()
	}
	if c.pg != nil {
		_ = c.pg.Stop()
	}
}

// startCluster starts PostgreSQL (unless cfg.Postgres) and NATS (unless cfg.NATS) for a cluster
// of relays.
func startCluster(cfg Config) (_ *cluster, err error) {
	c := &cluster{postgres: cfg.Postgres, natsURL: cfg.NATS, name: fmt.Sprintf("pushsim-load-%d", os.Getpid())}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if c.postgres == "" {
		if c.pg, err = pgserver.Start(); err != nil {
			return nil, fmt.Errorf("a cluster needs PostgreSQL (or --postgres URL): %w", err)
		}
		if c.postgres, err = c.pg.CreateDatabase(context.Background()); err != nil {
			return nil, err
		}
	}
	if c.natsURL == "" {
		if c.nats, err = natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, NoLog: true, NoSigs: true}); err != nil {
			return nil, fmt.Errorf("start NATS: %w", err)
		}
		c.nats.Start()
		if !c.nats.ReadyForConnections(10 * time.Second) {
			return nil, errors.New("start NATS: not ready within 10s")
		}
		c.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", c.nats.Addr().(*net.TCPAddr).Port)
	}
	return c, nil
}

// nodeID is the ID of the cluster's kth relay.
func nodeID(k int) string { return fmt.Sprintf("node-%d", k+1) }

// relayArgs are the flags that make the cluster's kth relay a node of it (beside --postgres,
// which relayproc passes).
func (c *cluster) relayArgs(k int) []string {
	return []string{"--cluster", "--node-id", nodeID(k), "--nats", c.natsURL, "--cluster-name", c.name}
}

// startNodes starts the cluster's relays, the first alone (it migrates the shared database's
// schema), then the others at once.
func (c *cluster) startNodes(ctx context.Context, cfg Config, adminKey, conf string) ([]*relayproc.Process, error) {
	opts := func(k int) relayproc.Options {
		return relayproc.Options{Bin: cfg.RelayBin, AdminKey: adminKey, Config: conf, Postgres: c.postgres, Args: c.relayArgs(k)}
	}
	first, err := relayproc.Start(ctx, opts(0))
	if err != nil {
		return nil, fmt.Errorf("start relay %s: %w", nodeID(0), err)
	}
	procs := make([]*relayproc.Process, cfg.Nodes)
	procs[0] = first
	errs := make([]error, cfg.Nodes)
	var wg sync.WaitGroup
	for k := 1; k < cfg.Nodes; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if procs[k], errs[k] = relayproc.Start(ctx, opts(k)); errs[k] != nil {
				errs[k] = fmt.Errorf("start relay %s: %w", nodeID(k), errs[k])
			}
		}()
	}
	wg.Wait()
	var started []*relayproc.Process
	for _, p := range procs {
		if p != nil {
			started = append(started, p)
		}
	}
	return started, errors.Join(errs...)
}

// clusterView is what a node answers at GET /admin/v1/cluster: its ID, the partition count, the
// partitions it serves, the live nodes and the partitions without a live lease.
type clusterView struct {
	NodeID     string `json:"nodeId"`
	Partitions int    `json:"partitions"`
	Owned      []struct {
		Partition int    `json:"partition"`
		Epoch     uint64 `json:"epoch"`
	} `json:"owned"`
	LiveNodes []string `json:"liveNodes"`
	Unowned   []int    `json:"unowned"`
}

// clusterPath is a node's admin endpoint describing the cluster as it sees it.
const clusterPath = "/admin/v1/cluster"

// ready says whether the nodes' views show a cluster ready for phones: every node sees every
// node live, and each partition is served by exactly one node; else what is missing.
func ready(views []clusterView) (bool, string) {
	if len(views) == 0 {
		return false, "no node answered"
	}
	parts := views[0].Partitions
	servedBy := map[int]string{}
	for _, v := range views {
		if len(v.LiveNodes) != len(views) {
			return false, fmt.Sprintf("%s sees %d live nodes of %d", v.NodeID, len(v.LiveNodes), len(views))
		}
		if v.Partitions != parts {
			return false, fmt.Sprintf("%s counts %d partitions, %s %d", v.NodeID, v.Partitions, views[0].NodeID, parts)
		}
		for _, o := range v.Owned {
			if other, ok := servedBy[o.Partition]; ok {
				return false, fmt.Sprintf("partition %d served by %s and %s", o.Partition, other, v.NodeID)
			}
			servedBy[o.Partition] = v.NodeID
		}
	}
	if parts == 0 || len(servedBy) != parts {
		return false, fmt.Sprintf("%d of %d partitions served", len(servedBy), parts)
	}
	return true, ""
}

// waitReady polls every node's cluster view until the cluster is ready (ready), at most
// clusterReadyLongest.
func waitReady(ctx context.Context, hc *http.Client, urls []string, adminKey string) error {
	deadline := time.Now().Add(clusterReadyLongest)
	why := ""
	for time.Now().Before(deadline) {
		views := make([]clusterView, 0, len(urls))
		var err error
		for _, u := range urls {
			var v clusterView
			if v, err = getClusterView(ctx, hc, u, adminKey); err != nil {
				break
			}
			views = append(views, v)
		}
		if err == nil {
			var ok bool
			if ok, why = ready(views); ok {
				return nil
			}
		} else {
			why = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the cluster was not ready within %v: %s", clusterReadyLongest, why)
}

func getClusterView(ctx context.Context, hc *http.Client, base, adminKey string) (clusterView, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+clusterPath, nil)
	if err != nil {
		return clusterView{}, err
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := hc.Do(req)
	if err != nil {
		return clusterView{}, fmt.Errorf("GET %s: %w", clusterPath, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return clusterView{}, fmt.Errorf("GET %s of %s: %s", clusterPath, base, resp.Status)
	}
	var v clusterView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return clusterView{}, fmt.Errorf("GET %s of %s: %w", clusterPath, base, err)
	}
	return v, nil
}
