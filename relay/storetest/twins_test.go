package storetest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/internal/pgtest"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/pgstore"
	"github.com/pushlab/pushlab/relay/sqlitestore"
	"github.com/pushlab/pushlab/relay/storetest"
)

// pg is the throwaway PostgreSQL server of the twin test; TestMain stops it.
var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Wrap(m).Run()) }

// TestPropertyDurableStoresMatchMemoryStore is the three-twin conformance property: the same random
// batches go to the memory store, a SQLite store and a PostgreSQL store, and both durable
// stores load what the memory store loads after every batch. PUSHLAB_NO_POSTGRES=1 leaves
// PostgreSQL out.
func TestPropertyDurableStoresMatchMemoryStore(t *testing.T) {
	dir := t.TempDir()
	run := 0
	twins := []storetest.Twin{{Name: "sqlite", Fresh: func(rt *rapid.T) (relay.Store, func()) {
		run++
		db, err := sqlitestore.Open(filepath.Join(dir, fmt.Sprintf("run%d.db", run)))
		require.NoError(rt, err)
		return db, func() { require.NoError(rt, db.Close()) }
	}}}
	if pgtest.Skipped() {
		t.Log(pgtest.SkipEnv + "=1: PostgreSQL left out")
	} else {
		ctx := context.Background()
		dsn := pg.Database(t)
		s, err := pgstore.Open(ctx, dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		conn, err := pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close(ctx) })
		twins = append(twins, storetest.Twin{Name: "postgres", Fresh: func(rt *rapid.T) (relay.Store, func()) {
			require.NoError(rt, pgtest.Empty(ctx, conn, "schema_version"))
			return s, func() {}
		}})
	}
	storetest.CheckTwins(t, twins...)
}
