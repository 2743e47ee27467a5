package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/pushlab/pushlab/internal/relaycluster"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
)

// ClusterConfig makes the live world's relay a cluster of real relay processes (relay
// --cluster) on a throwaway PostgreSQL and an embedded NATS server, each node behind proxies of
// its own to both, so that its node faults (sim.NodeFaults) happen for real.
type ClusterConfig struct {
	// Nodes is the node count (3 when zero); the nodes are named n1, n2, ….
	Nodes int
	// Partitions is the partition count (16 when zero).
	Partitions int
	// LeaseTTL is the nodes' lease TTL (6 s when zero); a node renews every third of it.
	LeaseTTL time.Duration
	// RelayBin is the relay binary; empty finds it next to this program or on PATH.
	RelayBin string
	// Logs, if set, is given each node's log lines.
	Logs func(node string) io.Writer
}

// ClusterFeatures is what the live world honours when its relay is a cluster (Config.Cluster),
// given the live world's: node faults, and a relay restart that restarts every node, as on the
// cluster twin; the relay processes' cores cannot be tapped, nor their link to FCM cut.
func ClusterFeatures(f sim.Features) sim.Features {
	f.NodeFaults, f.Tap, f.FCMPartition = true, false, false
	return f
}

// liveCluster is a live world's relay cluster: the processes, and what the world did to them.
type liveCluster struct {
	rc    *relaycluster.Cluster
	names []string
	// partitions is the cluster's partition count.
	partitions int
	tmp        string
	hc         *http.Client

	mu sync.Mutex // guards the nodes' states
	// dead, paused and offBus say which nodes take no app connections (as on the cluster twin).
	dead, paused, offBus map[string]bool
	// resume is each paused node's pending SIGCONT.
	resume map[string]*time.Timer
}

// startCluster starts the cluster a live world's relay is, with the world's relay rules, and
// waits until every partition is served and the nodes have evened out (relaycluster.Ready).
func startCluster(ctx context.Context, cfg Config, adminKey string) (_ *liveCluster, err error) {
	cc := *cfg.Cluster
	if cc.Nodes == 0 {
		cc.Nodes = sim.DefaultClusterNodes
	}
	if cc.Partitions == 0 {
		cc.Partitions = sim.DefaultClusterPartitions
	}
	if cc.LeaseTTL == 0 {
		cc.LeaseTTL = sim.DefaultClusterLeaseTTL
	}
	c := &liveCluster{partitions: cc.Partitions, hc: &http.Client{Timeout: 10 * time.Second}, dead: map[string]bool{}, paused: map[string]bool{},
		offBus: map[string]bool{}, resume: map[string]*time.Timer{}}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if c.tmp, err = os.MkdirTemp("", "pushsim-cluster-"); err != nil {
		return nil, err
	}
	conf, err := yaml.Marshal(map[string]relay.Config{"relay": cfg.Relay})
	if err != nil {
		return nil, fmt.Errorf("the relay nodes' config: %w", err)
	}
	file := filepath.Join(c.tmp, "relay.yaml")
	if err := os.WriteFile(file, conf, 0o600); err != nil {
		return nil, err
	}
	for k := range cc.Nodes {
		c.names = append(c.names, nodeName(k))
	}
	if c.rc, err = relaycluster.Start(ctx, relaycluster.Config{Nodes: cc.Nodes, NodeID: nodeName, Name: "pushsim-" + filepath.Base(c.tmp),
		Partitions: cc.Partitions, LeaseTTL: cc.LeaseTTL, RelayBin: cc.RelayBin, ConfigFile: file, AdminKey: adminKey, Proxies: true,
		Stderr: cc.Logs}); err != nil {
		return nil, fmt.Errorf("start the relay cluster: %w", err)
	}
	if err := relaycluster.WaitReady(ctx, c.hc, c.urls(), adminKey, relaycluster.ReadyLongest); err != nil {
		return nil, err
	}
	return c, nil
}

// nodeName names node k as the cluster twin does: n1, n2, ….
func nodeName(k int) string { return fmt.Sprintf("n%d", k+1) }

// urls are the nodes' base URLs, in order.
func (c *liveCluster) urls() []string {
	out := make([]string, len(c.rc.Nodes))
	for i, n := range c.rc.Nodes {
		out[i] = n.URL
	}
	return out
}

// node finds a node by name.
func (c *liveCluster) node(name string) (*relaycluster.Node, error) {
	if i := slices.Index(c.names, name); i >= 0 {
		return c.rc.Nodes[i], nil
	}
	return nil, fmt.Errorf("no node %q: the cluster's nodes are %s", name, strings.Join(c.names, ", "))
}

// takesConnections says whether node i is up and on the bus (c.mu held).
func (c *liveCluster) takesConnections(i int) bool {
	n := c.names[i]
	return !c.dead[n] && !c.paused[n] && !c.offBus[n]
}

// urlFor is where the phone added index-th connects: its own node (spread by the order phones
// were added), or the next one after it that takes connections, as on the cluster twin.
func (c *liveCluster) urlFor(index int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := max(index, 0) % len(c.names)
	for k := range c.names {
		if i := (first + k) % len(c.names); c.takesConnections(i) {
			return c.rc.Nodes[i].URL
		}
	}
	return c.rc.Nodes[first].URL // none is up: the dial fails, as it would
}

// adminURL is a node to send admin calls to: the first that is up, on the bus and on the
// database (it forwards a call to the owner of the partition the call needs).
func (c *liveCluster) adminURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, n := range c.rc.Nodes {
		if c.takesConnections(i) {
			return n.URL
		}
	}
	return c.rc.Nodes[0].URL
}

// kill kills a node with SIGKILL.
func (c *liveCluster) kill(name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.resume[name]; t != nil {
		t.Stop()
		delete(c.resume, name)
	}
	if err := n.Kill(); err != nil {
		return err
	}
	c.dead[name], c.paused[name] = true, false
	return nil
}

// restart starts a killed node again, with its ID and address.
func (c *liveCluster) restart(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	c.dead[name] = false
	c.mu.Unlock()
	return nil
}

// pause stops a node (SIGSTOP) and lets it run again (SIGCONT) after d.
func (c *liveCluster) pause(name string, d time.Duration) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead[name] || c.paused[name] {
		return fmt.Errorf("pause node %s: it is killed or paused already", name)
	}
	if err := n.Pause(); err != nil {
		return err
	}
	c.paused[name] = true
	c.resume[name] = time.AfterFunc(d, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.resume[name] == nil {
			return // killed meanwhile
		}
		delete(c.resume, name)
		_ = n.Resume() // still running: a kill would have stopped this timer
		c.paused[name] = false
	})
	return nil
}

// partition cuts a node off the bus or the database, or heals the cut.
func (c *liveCluster) partition(name string, from sim.NodeLink, cut bool) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	var l relaycluster.Link
	switch from {
	case sim.NodeBus:
		l = relaycluster.Bus
	case sim.NodeDB:
		l = relaycluster.DB
	default:
		return fmt.Errorf("partition node %s from %q: a node is cut off the bus or the db", name, from)
	}
	if err := n.Cut(l, cut); err != nil {
		return err
	}
	if from == sim.NodeBus {
		c.mu.Lock()
		c.offBus[name] = cut
		c.mu.Unlock()
	}
	return nil
}

// restartAll kills every running node and starts them all again (RestartRelay on the cluster
// twin), then waits until every partition is served and the nodes have evened out.
func (c *liveCluster) restartAll(ctx context.Context, adminKey string) error {
	for _, name := range c.names {
		c.mu.Lock()
		dead := c.dead[name]
		c.mu.Unlock()
		if !dead {
			if err := c.kill(name); err != nil {
				return err
			}
		}
	}
	var errs []error
	for _, name := range c.names {
		errs = append(errs, c.restart(ctx, name))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return relaycluster.WaitReady(ctx, c.hc, c.urls(), adminKey, relaycluster.ReadyLongest)
}

// close stops the nodes' pending resumes, the nodes and the servers.
func (c *liveCluster) close() {
	c.mu.Lock()
	for name, t := range c.resume {
		t.Stop()
		delete(c.resume, name)
	}
	c.mu.Unlock()
	if c.rc != nil {
		c.rc.Close()
	}
	c.hc.CloseIdleConnections()
	if c.tmp != "" {
		_ = os.RemoveAll(c.tmp)
	}
}

// nodeRouter sends the admin client's calls to a node that is up (liveCluster.adminURL).
type nodeRouter struct {
	c    *liveCluster
	next http.RoundTripper
}

func (r nodeRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	base := r.c.adminURL()
	req = req.Clone(req.Context())
	req.URL.Host = strings.TrimPrefix(base, "http://")
	req.Host = req.URL.Host
	return r.next.RoundTrip(req)
}

// Nodes (sim.NodeFaults) names the cluster's nodes; none when the relay is one process.
func (w *World) Nodes() []string {
	if w.cl == nil {
		return nil
	}
	return slices.Clone(w.cl.names)
}

// KillNode (sim.NodeFaults) kills a node's process with SIGKILL.
func (w *World) KillNode(name string) error {
	if w.cl == nil {
		return fmt.Errorf("kill node %s: the relay is one process: %w", name, sim.ErrUnsupported)
	}
	err := w.cl.kill(name)
	w.settle()
	return err
}

// RestartNode (sim.NodeFaults) starts a killed node's process again, with the same node ID and
// address.
func (w *World) RestartNode(name string) error {
	if w.cl == nil {
		return fmt.Errorf("restart node %s: the relay is one process: %w", name, sim.ErrUnsupported)
	}
	return w.cl.restart(w.ctx, name)
}

// PauseNode (sim.NodeFaults) stops a node's process with SIGSTOP and resumes it with SIGCONT
// after d: a real zombie, whose leases lapse meanwhile.
func (w *World) PauseNode(name string, d time.Duration) error {
	if w.cl == nil {
		return fmt.Errorf("pause node %s: the relay is one process: %w", name, sim.ErrUnsupported)
	}
	return w.cl.pause(name, d)
}

// PartitionNode (sim.NodeFaults) cuts a node off NATS or PostgreSQL (every connection through
// its proxy closed, new ones refused), or heals the cut.
func (w *World) PartitionNode(name string, from sim.NodeLink, cut bool) error {
	if w.cl == nil {
		return fmt.Errorf("partition node %s: the relay is one process: %w", name, sim.ErrUnsupported)
	}
	return w.cl.partition(name, from, cut)
}

// PartitionOwner (sim.NodeFaults) names the node holding the user's partition, as the running
// nodes tell it (a killed or paused node's view cannot be read): see holderOf. A node that
// does not answer is named only when no other view holds the partition.
func (w *World) PartitionOwner(sdkAppID uint64, user string) (string, error) {
	if w.cl == nil {
		return "", fmt.Errorf("the owner of %s's partition: the relay is one process: %w", user, sim.ErrUnsupported)
	}
	views, err := w.ClusterViews()
	// The relay's app ID (w.app), which a cluster world, never remote, keeps unshifted.
	p := relay.PartitionOf(w.app(sdkAppID), user, w.cl.partitions)
	if owner := holderOf(views, p); owner != "" {
		return owner, nil
	}
	if err != nil {
		return "", fmt.Errorf("%s's partition %d: no view read holds it: %w", user, p, err)
	}
	return "", fmt.Errorf("%s's partition %d has no running owner now", user, p)
}

// holderOf is the node whose view holds partition p under the newest lease (epochs only grow,
// so where two views still claim it, the older claim is the one lapsing); "" when none does.
func holderOf(views map[string]relaycluster.View, p int) string {
	owner, epoch := "", uint64(0)
	for node, v := range views {
		for _, o := range v.Owned {
			if o.Partition == p && (owner == "" || o.Epoch > epoch || (o.Epoch == epoch && node < owner)) {
				owner, epoch = node, o.Epoch
			}
		}
	}
	return owner
}

// ClusterViews reads the view of the cluster (GET /admin/v1/cluster) of every node neither
// killed nor paused, by node name; nil when the relay is one process. A node that does not
// answer (one cut off, say) is left out, and named in the error.
func (w *World) ClusterViews() (map[string]relaycluster.View, error) {
	if w.cl == nil {
		return nil, nil
	}
	out := map[string]relaycluster.View{}
	var errs []error
	for _, n := range w.cl.rc.Nodes {
		w.cl.mu.Lock()
		skip := w.cl.dead[n.ID] || w.cl.paused[n.ID]
		w.cl.mu.Unlock()
		if skip {
			continue
		}
		v, err := relaycluster.GetView(w.ctx, w.cl.hc, n.URL, w.admin.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.ID, err))
			continue
		}
		out[n.ID] = v
	}
	return out, errors.Join(errs...)
}

var _ sim.NodeFaults = (*World)(nil)
