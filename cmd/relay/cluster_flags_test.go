package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay/server"
)

// Cluster settings that cannot run are refused before anything runs (no store opened, nothing
// listening), saying what to do, and without the passwords of the URLs given.
func TestClusterSettingsThatCannotRunAreRefused(t *testing.T) {
	dir := t.TempDir()
	withSection := filepath.Join(dir, "cluster.yaml")
	require.NoError(t, os.WriteFile(withSection, []byte("cluster: {nodeId: n1, nats: 'nats://u:"+dsnPassword+"@127.0.0.1:1'}\n"), 0o600))
	withApps := filepath.Join(dir, "apps.yaml")
	require.NoError(t, os.WriteFile(withApps, []byte("apps: [{sdkAppId: 1400000001, secretKey: s3cret-s3cret-s3cret}]\n"), 0o600))
	db := filepath.Join(dir, "relay.db")
	pgURL := "postgres://relay:" + dsnPassword + "@127.0.0.1:1/relay"
	nats := "nats://u:" + dsnPassword + "@127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--db", db, "--node-id", "n1", "--nats", nats}, "--node-id, --nats: cluster settings without --cluster"},
		{[]string{"--db", db, "--partitions", "8"}, "--partitions: cluster settings without --cluster"},
		{[]string{"--db", db, "--config", withSection}, withSection + ": a cluster section without --cluster"},
		{[]string{"--cluster", "--db", db, "--node-id", "n1", "--nats", nats}, "--cluster keeps the state in PostgreSQL"},
		{[]string{"--cluster", "--node-id", "n1", "--nats", nats}, "--cluster needs PostgreSQL"},
		{[]string{"--cluster", "--postgres", pgURL, "--node-id", "n1"}, "--cluster needs NATS"},
		{[]string{"--cluster", "--postgres", pgURL, "--nats", nats}, "--cluster needs this node's name"},
		{[]string{"--cluster", "--postgres", pgURL, "--nats", nats, "--node-id", "n.1"}, `--node-id: name "n.1" has '.'`},
		{[]string{"--cluster", "--postgres", pgURL, "--nats", nats, "--node-id", "n1", "--cluster-name", "a b"}, `--cluster-name: name "a b"`},
		{[]string{"--cluster", "--postgres", pgURL, "--nats", nats, "--node-id", "n1", "--partitions", "0"}, "--partitions 0: must be positive"},
		{[]string{"--cluster", "--postgres", pgURL, "--nats", nats, "--node-id", "n1", "--lease-ttl", "10ms"}, "--lease-ttl 10ms: at least 1s"},
		{[]string{"--cluster", "--postgres", pgURL, "--nats", nats, "--node-id", "n1", "--config", withApps}, withApps + ": apps and certificates in the config file are not created by a cluster node"},
	} {
		// An address no relay can listen on: were the settings let through, the relay would stop
		// there (or at its store) with another error, not serve.
		err := run(append([]string{"--listen", "256.0.0.1:0", "--admin-key", "store-test-admin-key-0123"}, tc.args...))
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
		require.NotContains(t, err.Error(), dsnPassword)
		_, statErr := os.Stat(db)
		require.True(t, os.IsNotExist(statErr), "the SQLite file is not even created")
	}
}

// The config file's cluster section gives the settings; the flags given replace its keys, and
// defaults fill in the rest.
func TestClusterFlagsReplaceTheConfigFilesKeys(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "relay.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("cluster: {nodeId: file-node, nats: 'nats://file:4222', name: filecluster, partitions: 32, leaseTTL: 20s}\n"), 0o600))
	data, err := os.ReadFile(cfg)
	require.NoError(t, err)
	fc, err := server.ParseFileConfig(cfg, data)
	require.NoError(t, err)
	for _, tc := range []struct {
		args []string
		want clusterSettings
	}{
		{[]string{"--cluster"}, clusterSettings{nodeID: "file-node", nats: "nats://file:4222", name: "filecluster", partitions: 32, leaseTTL: 20 * time.Second}},
		{[]string{"--cluster", "--node-id", "flag-node", "--partitions", "8", "--lease-ttl", "3s"},
			clusterSettings{nodeID: "flag-node", nats: "nats://file:4222", name: "filecluster", partitions: 8, leaseTTL: 3 * time.Second}},
	} {
		fs := flag.NewFlagSet("relay", flag.ContinueOnError)
		cf := addClusterFlags(fs)
		require.NoError(t, fs.Parse(tc.args))
		got, err := cf.resolve(fs, fc, cfg, false, "postgres://db")
		require.NoError(t, err)
		require.Equal(t, tc.want, *got, "%v", tc.args)
	}
	// Without a config file: the defaults.
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	cf := addClusterFlags(fs)
	require.NoError(t, fs.Parse([]string{"--cluster", "--node-id", "n1", "--nats", "nats://x:4222"}))
	got, err := cf.resolve(fs, &server.FileConfig{}, "", false, "postgres://db")
	require.NoError(t, err)
	require.Equal(t, clusterSettings{nodeID: "n1", nats: "nats://x:4222", name: "pushlab", partitions: 64, leaseTTL: 10 * time.Second}, *got)
}
