package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const dsnPassword = "pg-Pa55w0rd-never-shown"

// --db and a PostgreSQL URL (the flag's or the config file's) name two stores: the relay refuses
// to start rather than ignore one, and the refusal does not show the URL's password.
func TestDBAndPostgresTogetherAreRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "relay.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte("postgres: postgres://relay:"+dsnPassword+"@127.0.0.1:1/relay\n"), 0o600))
	db := filepath.Join(dir, "relay.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--db", db, "--postgres", "postgres://relay:" + dsnPassword + "@127.0.0.1:1/relay"}, "--db " + db + " and --postgres both name a store"},
		{[]string{"--db", db, "--config", cfg}, "--db " + db + " and " + cfg + ": postgres both name a store"},
	} {
		err := run(append([]string{"--listen", "127.0.0.1:0", "--admin-key", "store-test-admin-key-0123"}, tc.args...))
		require.ErrorContains(t, err, tc.want)
		require.NotContains(t, err.Error(), dsnPassword)
		_, statErr := os.Stat(db)
		require.True(t, os.IsNotExist(statErr), "the SQLite file is not even created")
	}
}

// A PostgreSQL that cannot be reached stops the relay naming the setting, without the password.
func TestUnreachablePostgresHidesThePassword(t *testing.T) {
	err := run([]string{"--listen", "127.0.0.1:0", "--admin-key", "store-test-admin-key-0123",
		"--postgres", "postgres://relay:" + dsnPassword + "@127.0.0.1:1/relay?connect_timeout=5"})
	require.ErrorContains(t, err, "--postgres: open postgres store postgres://relay:xxxxx@127.0.0.1:1/relay")
	require.NotContains(t, err.Error(), dsnPassword)
}

// --journal names a store too: with --db, or a PostgreSQL URL (the flag's or the config
// file's), the relay refuses to start, and creates neither file; with --cluster, or a push trace
// bigger than it keeps in memory, likewise.
func TestJournalWithAnotherStoreIsRefused(t *testing.T) {
	dir := t.TempDir()
	pgCfg := filepath.Join(dir, "pg.yaml")
	require.NoError(t, os.WriteFile(pgCfg, []byte("postgres: postgres://relay:"+dsnPassword+"@127.0.0.1:1/relay\n"), 0o600))
	bigTrace := filepath.Join(dir, "trace.yaml")
	require.NoError(t, os.WriteFile(bigTrace, []byte("relay: {trace: {maxEntries: 20000000}}\n"), 0o600))
	db, journal := filepath.Join(dir, "relay.db"), filepath.Join(dir, "relay.journal")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--db", db}, "--db " + db + " and --journal " + journal + " both name a store"},
		{[]string{"--postgres", "postgres://relay:" + dsnPassword + "@127.0.0.1:1/relay"}, "--postgres and --journal " + journal + " both name a store"},
		{[]string{"--config", pgCfg}, pgCfg + ": postgres and --journal " + journal + " both name a store"},
		{[]string{"--cluster"}, "--journal with --cluster"},
		{[]string{"--config", bigTrace}, "trace.maxEntries 20000000 is more than it keeps (10000000)"},
	} {
		err := run(append([]string{"--listen", "127.0.0.1:0", "--admin-key", "store-test-admin-key-0123", "--journal", journal}, tc.args...))
		require.ErrorContains(t, err, tc.want)
		require.NotContains(t, err.Error(), dsnPassword)
		for _, f := range []string{db, journal} {
			_, statErr := os.Stat(f)
			require.True(t, os.IsNotExist(statErr), "%s is not even created", f)
		}
	}
}
