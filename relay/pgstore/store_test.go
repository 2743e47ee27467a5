package pgstore

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/internal/pgtest"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

// pg is the throwaway PostgreSQL server this package's tests share; TestMain stops it.
var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Wrap(m).Run()) }

func openStore(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// alice is the user of storetest.Sample's inbox.
var alice = relay.UserKey{SDKAppID: 1400000001, UserID: "alice"}

func TestDurableSuite(t *testing.T) { storetest.DurableSuite(t, newDB) }

func TestSQLSuite(t *testing.T) { storetest.SQLSuite(t, newDB) }

// newDB makes a database for one of storetest's suites.
func newDB(t *testing.T) storetest.Opener {
	dsn := pg.Database(t)
	return func(t *testing.T) relay.Store { return openStore(t, dsn) }
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	dsn := pg.Database(t)
	s, err := Open(ctx, dsn)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `UPDATE schema_version SET version = $1`, len(migrations)+1)
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))

	_, err = Open(ctx, dsn)
	require.ErrorIs(t, err, ErrSchemaTooNew)
	require.ErrorContains(t, err, fmt.Sprintf("schema version %d, this relay knows versions up to %d", len(migrations)+1, len(migrations)))
}

func TestOpenMigratesOnceAndKeepsData(t *testing.T) {
	ctx := context.Background()
	dsn := pg.Database(t)
	s, err := Open(ctx, dsn)
	require.NoError(t, err)
	require.NoError(t, s.Apply(ctx, storetest.Sample()))
	require.NoError(t, s.Close())

	s = openStore(t, dsn) // a second Open finds the schema current and leaves it alone
	var version int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version))
	require.Equal(t, len(migrations), version)
	require.Len(t, storetest.Load(t, s).Messages[alice], 2)
}

// Relays starting at once against one new database migrate it one after the other.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	dsn := pg.Database(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(context.Background(), dsn)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
}

// The password of a DSN never shows in what Open returns, nor in what the store names itself.
func TestPasswordNeverShows(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	for _, dsn := range []string{
		"postgres://relay:" + pw + "@127.0.0.1:1/relay?sslmode=disable&connect_timeout=5", // nothing listens on port 1
		"postgres://relay@127.0.0.1:1/relay?password=" + pw + "&sslmode=disable",
		"host=127.0.0.1 port=1 user=relay password=" + pw + " dbname=relay sslmode=disable",
		"host=127.0.0.1 port=1 user=relay password='" + pw + " x' dbname=relay",
		"postgres://relay:" + pw + "@127.0.0.1:1/relay?sslmode=bogus", // does not parse
		"postgres://relay:" + pw + "@[::1/relay",                      // not a URL
		"port=notanumber password=" + pw,
	} {
		_, err := Open(context.Background(), dsn)
		require.Error(t, err, dsn)
		require.NotContains(t, err.Error(), pw, dsn)
		require.NotContains(t, Redact(dsn), pw, dsn)
		if strings.Contains(dsn, "127.0.0.1") && !strings.Contains(dsn, "[::1") {
			require.Contains(t, Redact(dsn), "127.0.0.1", "the rest of the DSN stays, to say which server")
		}
	}
	s := openStore(t, pg.Database(t))
	require.NotContains(t, s.String(), "password")
}

func TestTraceSuite(t *testing.T) {
	storetest.TraceSuite(t, func(t *testing.T) relay.Store { return openStore(t, pg.Database(t)) })
}

// twin is the PostgreSQL store as a conformance-property twin: one database, emptied before
// each check.
func twin(t *testing.T) storetest.Twin {
	dsn := pg.Database(t)
	s := openStore(t, dsn)
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return storetest.Twin{Name: "postgres", Fresh: func(rt *rapid.T) (relay.Store, func()) {
		require.NoError(rt, pgtest.Empty(context.Background(), conn, "schema_version"))
		return s, func() {}
	}}
}

func TestTracePropertyMatchesMemoryStore(t *testing.T) { storetest.CheckTraceTwin(t, twin(t)) }
