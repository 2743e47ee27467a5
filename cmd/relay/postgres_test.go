package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/cmd/relay/relayproc"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// pgPassword is a password the relay must never show.
const pgPassword = "pg-Pa55w0rd-in-the-config"

// The config file's postgres runs the relay on PostgreSQL, and its state survives a restart;
// --postgres replaces the file's URL and the log says so. The listening line names the database
// without the password (the throwaway server trusts local connections, so any password works).
func TestPostgresFromTheConfigFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary")
	}
	dsn := strings.Replace(pg.Database(t), "pgtest@", "pgtest:"+pgPassword+"@", 1)
	bin := buildRelay(t)
	cfg := filepath.Join(t.TempDir(), "relay.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("postgres: "+dsn+"\n"), 0o600))
	ctx := context.Background()
	start := func(args ...string) (*relayproc.Process, *logBuffer) {
		logs := newLogBuffer()
		p, err := relayproc.Start(ctx, relayproc.Options{Bin: bin, Config: cfg, StoreInConfig: true, AdminKey: crashAdminKey, Args: args, Stderr: logs})
		require.NoError(t, err, "relay log:\n%s", logs)
		t.Cleanup(func() { _ = p.Kill() })
		return p, logs
	}
	p, logs := start()
	admin := &client.Admin{BaseURL: p.URL, Key: crashAdminKey}
	require.NoError(t, admin.PutApp(ctx, relay.AppConfig{SDKAppID: crashApp, Name: "Kept", SecretKey: secret.New(crashAppSecret)}))
	require.NoError(t, p.Kill())
	require.Contains(t, logs.String(), `"postgres":"postgres://pgtest:xxxxx@/`)
	require.NotContains(t, logs.String(), pgPassword)

	// --postgres with the same URL: it replaces the file's, with a warning, and finds the app.
	p, logs = start("--postgres", dsn)
	var v relay.AppView
	require.NoError(t, (&client.Admin{BaseURL: p.URL, Key: crashAdminKey}).Do(ctx, "GET", fmt.Sprintf("/admin/v1/apps/%d", crashApp), nil, &v))
	require.Equal(t, "Kept", v.Name)
	require.NoError(t, p.Stop())
	require.Contains(t, logs.String(), "--postgres replaces the config file's postgres")
	require.NotContains(t, logs.String(), pgPassword)
}
