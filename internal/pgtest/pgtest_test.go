package pgtest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/pgserver"
)

var shared Shared

func TestMain(m *testing.M) { os.Exit(shared.Wrap(m).Run()) }

// Each test gets a database of its own on the one server, empty and writable, dropped after it.
func TestDatabasesAreSeparate(t *testing.T) {
	ctx := context.Background()
	a, b := shared.Database(t), shared.Database(t)
	require.NotEqual(t, a, b)
	ca, err := pgx.Connect(ctx, a)
	require.NoError(t, err)
	defer ca.Close(ctx)
	_, err = ca.Exec(ctx, "CREATE TABLE x (v int); INSERT INTO x VALUES (1)")
	require.NoError(t, err)
	cb, err := pgx.Connect(ctx, b)
	require.NoError(t, err)
	defer cb.Close(ctx)
	var n int
	require.NoError(t, cb.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'x'").Scan(&n))
	require.Zero(t, n, "the other database has no table x")
}

// Without the server binaries the error says how to skip the tests that need them instead.
func TestMissingPostgresSaysHowToSkip(t *testing.T) {
	err := explain(fmt.Errorf("start postgres: %w", pgserver.ErrNotInstalled))
	require.ErrorIs(t, err, pgserver.ErrNotInstalled)
	require.ErrorContains(t, err, SkipEnv+"=1")
	require.NoError(t, explain(nil))
}
