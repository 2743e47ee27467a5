package pgserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

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

// Without the server binaries the error says what to install.
func TestMissingPostgresSaysWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := binDir(filepath.Join(t.TempDir(), "*", "bin"))
	require.ErrorIs(t, err, ErrNotInstalled)
	require.ErrorContains(t, err, "run `apt-get install postgresql`")

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
