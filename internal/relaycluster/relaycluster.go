// Package relaycluster starts a relay cluster of real processes for pushsim: a throwaway
// PostgreSQL and an embedded NATS server (unless given), and N relay processes in cluster mode
// (relay --cluster) on them, each optionally behind cuttable proxies to NATS and PostgreSQL. The
// load's cluster (pushsim load --nodes) and the live cluster twin (sim/live) both start theirs
// here.
package relaycluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/pushlab/pushlab/cmd/relay/relayproc"
	"github.com/pushlab/pushlab/internal/cutproxy"
	"github.com/pushlab/pushlab/internal/pgserver"
)

// ReadyLongest is how long a started cluster may take until it is Ready: every partition served, and the nodes evened out.
const ReadyLongest = time.Minute

// Config is a cluster to start. Zero fields take the defaults.
type Config struct {
	// Nodes is the node count.
	Nodes int
	// NodeID names node k (from 0); nil names them node-1, node-2, ….
	NodeID func(k int) string
	// Name is the cluster's name on the bus.
	Name string
	// Partitions and LeaseTTL are passed as --partitions and --lease-ttl when set.
	Partitions int
	LeaseTTL   time.Duration
	// RelayBin is the relay binary (empty: relayproc.Locate); ConfigFile its --config.
	RelayBin, ConfigFile string
	// AdminKey is the nodes' admin key.
	AdminKey string
	// Postgres and NATS name servers to use; empty starts a throwaway PostgreSQL and an
	// embedded NATS server.
	Postgres, NATS string
	// Proxies puts each node behind a proxy of its own to NATS and one to PostgreSQL, which
	// Node.Cut cuts.
	Proxies bool
	// Stderr, if set, is given each node's log lines.
	Stderr func(node string) io.Writer
}

// Cluster is a started cluster: its servers and its nodes.
type Cluster struct {
	// PostgresURL, NATSURL and Name are what the nodes share.
	PostgresURL, NATSURL, Name string
	// Nodes are the relay processes, in order.
	Nodes []*Node

	cfg  Config
	pg   *pgserver.Server
	nats *natsserver.Server
}

// Link names what a node can be cut off from.
type Link string

// The links of a node.
const (
	Bus Link = "bus" // NATS
	DB  Link = "db"  // PostgreSQL
)

// Node is one relay process of the cluster, which can be killed, restarted with the same ID and
// address, paused and cut off the bus or the database.
type Node struct {
	// ID is the node's --node-id; URL its base URL (the same across restarts).
	ID, URL string

	mu      sync.Mutex
	proc    *relayproc.Process // nil while killed
	opts    relayproc.Options
	proxies map[Link]*cutproxy.Proxy
}

// StartServers starts the cluster's PostgreSQL (unless cfg.Postgres) and NATS (unless cfg.NATS),
// without nodes; Start starts them with its nodes.
func StartServers(cfg Config) (_ *Cluster, err error) {
	c := &Cluster{cfg: cfg, PostgresURL: cfg.Postgres, NATSURL: cfg.NATS, Name: cfg.Name}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.PostgresURL == "" {
		if c.pg, err = pgserver.Start(); err != nil {
			return nil, fmt.Errorf("a cluster needs PostgreSQL (or --postgres URL): %w", err)
		}
		if c.PostgresURL, err = c.pg.CreateDatabase(context.Background()); err != nil {
			return nil, err
		}
	}
	if c.NATSURL == "" {
		if c.nats, err = natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: natsserver.RANDOM_PORT, NoLog: true, NoSigs: true}); err != nil {
			return nil, fmt.Errorf("start NATS: %w", err)
		}
		c.nats.Start()
		if !c.nats.ReadyForConnections(10 * time.Second) {
			return nil, errors.New("start NATS: not ready within 10s")
		}
		c.NATSURL = fmt.Sprintf("nats://127.0.0.1:%d", c.nats.Addr().(*net.TCPAddr).Port)
	}
	return c, nil
}

// Start starts the servers (StartServers) and the nodes, the first alone (it migrates the shared
// database's schema), then the others at once. It does not wait for the cluster to be ready:
// WaitReady does.
func Start(ctx context.Context, cfg Config) (_ *Cluster, err error) {
	c, err := StartServers(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	c.Nodes = make([]*Node, cfg.Nodes)
	for k := range c.Nodes {
		if c.Nodes[k], err = c.newNode(k); err != nil {
			return nil, err
		}
	}
	if cfg.Nodes == 0 {
		return c, nil
	}
	if err := c.Nodes[0].Start(ctx); err != nil {
		return nil, err
	}
	errs := make([]error, cfg.Nodes)
	var wg sync.WaitGroup
	for k := 1; k < cfg.Nodes; k++ {
		wg.Go(func() { errs[k] = c.Nodes[k].Start(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Args are the flags that make a relay node id of a cluster on the bus at natsURL (beside
// --postgres, which relayproc passes), with the partition count and lease TTL when set.
func (cfg Config) Args(id, natsURL string) []string {
	args := []string{"--cluster", "--node-id", id, "--nats", natsURL, "--cluster-name", cfg.Name}
	if cfg.Partitions > 0 {
		args = append(args, "--partitions", fmt.Sprint(cfg.Partitions))
	}
	if cfg.LeaseTTL > 0 {
		args = append(args, "--lease-ttl", cfg.LeaseTTL.String())
	}
	return args
}

// nodeID is the ID of node k.
func (cfg Config) nodeID(k int) string {
	if cfg.NodeID != nil {
		return cfg.NodeID(k)
	}
	return fmt.Sprintf("node-%d", k+1)
}

// newNode prepares node k (its proxies, if any), not started.
func (c *Cluster) newNode(k int) (*Node, error) {
	n := &Node{ID: c.cfg.nodeID(k), proxies: map[Link]*cutproxy.Proxy{}}
	natsURL, pgURL := c.NATSURL, c.PostgresURL
	if c.cfg.Proxies {
		var err error
		if natsURL, pgURL, err = n.startProxies(natsURL, pgURL); err != nil {
			n.closeProxies()
			return nil, fmt.Errorf("node %s: %w", n.ID, err)
		}
	}
	n.opts = relayproc.Options{Bin: c.cfg.RelayBin, AdminKey: c.cfg.AdminKey, Config: c.cfg.ConfigFile, Postgres: pgURL,
		Args: c.cfg.Args(n.ID, natsURL)}
	if c.cfg.Stderr != nil {
		n.opts.Stderr = c.cfg.Stderr(n.ID)
	}
	return n, nil
}

// startProxies puts proxies in front of NATS and PostgreSQL for the node, and answers the URLs
// that reach them through the proxies.
func (n *Node) startProxies(natsURL, pgURL string) (string, string, error) {
	nu, err := url.Parse(natsURL)
	if err != nil {
		return "", "", fmt.Errorf("NATS URL: %w", err)
	}
	bus, err := cutproxy.Start("tcp", nu.Host)
	if err != nil {
		return "", "", err
	}
	n.proxies[Bus] = bus
	nu.Host = bus.Addr()
	pu, err := url.Parse(pgURL)
	if err != nil {
		return "", "", errors.New("the PostgreSQL URL does not parse") // it may hold a password: not shown
	}
	network, target := "tcp", pu.Host
	q := pu.Query()
	if dir := q.Get("host"); strings.HasPrefix(dir, "/") { // a Unix socket's folder (pgserver's)
		port := q.Get("port")
		if port == "" {
			port = "5432"
		}
		network, target = "unix", filepath.Join(dir, ".s.PGSQL."+port)
		q.Del("host")
		q.Del("port")
		pu.RawQuery = q.Encode()
	}
	db, err := cutproxy.Start(network, target)
	if err != nil {
		return "", "", err
	}
	n.proxies[DB] = db
	pu.Host = db.Addr()
	return nu.String(), pu.String(), nil
}

func (n *Node) closeProxies() {
	for _, p := range n.proxies {
		_ = p.Close()
	}
}

// Start starts the node's process (again, after Kill: the same ID, the same address).
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil {
		return fmt.Errorf("start node %s: it is running", n.ID)
	}
	p, err := relayproc.Start(ctx, n.opts)
	if err != nil {
		return fmt.Errorf("start relay %s: %w", n.ID, err)
	}
	n.proc, n.URL = p, p.URL
	n.opts.Listen = strings.TrimPrefix(strings.TrimPrefix(p.URL, "http://"), "https://")
	return nil
}

// Process is the node's relay process; nil while it is killed.
func (n *Node) Process() *relayproc.Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// Kill stops the node's process with SIGKILL, as a crash would.
func (n *Node) Kill() error {
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p == nil {
		return fmt.Errorf("kill node %s: it is not running", n.ID)
	}
	return p.Kill()
}

// Pause stops the node's process (SIGSTOP) until Resume.
func (n *Node) Pause() error {
	if p := n.Process(); p != nil {
		return p.Pause()
	}
	return fmt.Errorf("pause node %s: it is not running", n.ID)
}

// Resume lets a paused node run again (SIGCONT).
func (n *Node) Resume() error {
	if p := n.Process(); p != nil {
		return p.Resume()
	}
	return fmt.Errorf("resume node %s: it is not running", n.ID)
}

// Cut cuts the node off the bus or the database (cut true), or heals the cut; the cluster must
// have been started with Proxies.
func (n *Node) Cut(l Link, cut bool) error {
	p := n.proxies[l]
	if p == nil {
		return fmt.Errorf("cut node %s off the %s: it was started without proxies", n.ID, l)
	}
	p.Cut(cut)
	return nil
}

// Close kills the nodes still running and stops the servers the cluster started.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		if n == nil {
			continue
		}
		_ = n.Kill()
		n.closeProxies()
	}
	if c.nats != nil {
		c.nats.Shutdown()
		c.nats.WaitForShutdown()
	}
	if c.pg != nil {
		_ = c.pg.Stop()
	}
}

// View is what a node answers at GET /admin/v1/cluster: its ID, the partition count, the
// partitions it serves, the live nodes and the partitions without a live lease.
type View struct {
	NodeID     string `json:"nodeId"`
	Partitions int    `json:"partitions"`
	Owned      []struct {
		Partition int    `json:"partition"`
		Epoch     uint64 `json:"epoch"`
	} `json:"owned"`
	LiveNodes []string `json:"liveNodes"`
	Unowned   []int    `json:"unowned"`
}

// viewPath is a node's admin endpoint describing the cluster as it sees it.
const viewPath = "/admin/v1/cluster"

// Ready says whether the nodes' views show a cluster ready for phones: every node sees every
// node live, each partition is served by exactly one node, and no node serves more than its
// share (the partitions over the nodes, rounded up); else what is missing. A cluster whose
// first node took every partition is served, but hands partitions over to the others a lease
// tick or so later, and a partition being handed over has no owner for a moment: sends and
// logins on it are refused (5002) meanwhile.
func Ready(views []View) (bool, string) {
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
	share := (parts + len(views) - 1) / len(views)
	for _, v := range views {
		if len(v.Owned) > share {
			return false, fmt.Sprintf("%s serves %d partitions, more than its share of %d: the nodes are still evening out", v.NodeID, len(v.Owned), share)
		}
	}
	return true, ""
}

// WaitReady polls the views of the nodes at urls until they show a ready cluster (Ready), for at
// most within.
func WaitReady(ctx context.Context, hc *http.Client, urls []string, adminKey string, within time.Duration) error {
	deadline := time.Now().Add(within)
	why := ""
	for time.Now().Before(deadline) {
		views, err := Views(ctx, hc, urls, adminKey)
		if err == nil {
			var ok bool
			if ok, why = Ready(views); ok {
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
	return fmt.Errorf("the cluster was not ready within %v: %s", within, why)
}

// Views reads the view of every node at urls.
func Views(ctx context.Context, hc *http.Client, urls []string, adminKey string) ([]View, error) {
	views := make([]View, 0, len(urls))
	for _, u := range urls {
		v, err := GetView(ctx, hc, u, adminKey)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return views, nil
}

// GetView reads the view of the node at base.
func GetView(ctx context.Context, hc *http.Client, base, adminKey string) (View, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+viewPath, nil)
	if err != nil {
		return View{}, err
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := hc.Do(req)
	if err != nil {
		return View{}, fmt.Errorf("GET %s: %w", viewPath, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return View{}, fmt.Errorf("GET %s of %s: %s", viewPath, base, resp.Status)
	}
	var v View
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return View{}, fmt.Errorf("GET %s of %s: %w", viewPath, base, err)
	}
	return v, nil
}
