package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
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

// The folder of a server whose process is gone is removed at the next start; a running server's
// folder, and a fresh one without a server yet, are left alone.
func TestStaleFoldersAreRemoved(t *testing.T) {
	root := t.TempDir()
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	folder := func(name string, pid int) string {
		dir := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o700))
		if pid != 0 {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "postmaster.pid"), []byte(fmt.Sprintf("%d\n/some/data\n", pid)), 0o600))
		}
		return dir
	}
	stale := folder("pgtest-stale", dead.Process.Pid)
	running := folder("pgtest-running", os.Getpid())
	starting := folder("pgtest-starting", 0)
	removeStale(root)
	require.NoDirExists(t, stale)
	require.DirExists(t, running)
	require.DirExists(t, starting)
}

// Without the server binaries the error says what to install, and how to skip instead.
func TestMissingPostgresSaysWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := binDir(filepath.Join(t.TempDir(), "*", "bin"))
	require.ErrorContains(t, err, "run `apt-get install postgresql`")
	require.ErrorContains(t, err, SkipEnv+"=1")

	// Debian's layout, off PATH: the newest version is taken.
	root := t.TempDir()
	for _, v := range []string{"9", "15", "13"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, v, "bin"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, v, "bin", "initdb"), nil, 0o755))
	}
	dir, err := binDir(filepath.Join(root, "*", "bin"))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "15", "bin"), dir)
}
