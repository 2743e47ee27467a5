package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

func openStore(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// alice is the user of storetest.Sample's inbox.
var alice = relay.UserKey{SDKAppID: 1400000001, UserID: "alice"}

func TestDurableSuite(t *testing.T) { storetest.DurableSuite(t, newDB) }

func TestSQLSuite(t *testing.T) { storetest.SQLSuite(t, newDB) }

// newDB makes a database file for one of storetest's suites.
func newDB(t *testing.T) storetest.Opener {
	path := filepath.Join(t.TempDir(), "relay.db")
	return func(t *testing.T) relay.Store { return openStore(t, path) }
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE schema_version SET version = ?`, len(migrations)+1)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	_, err = Open(path)
	require.ErrorIs(t, err, ErrSchemaTooNew)
	require.ErrorContains(t, err, fmt.Sprintf("schema version %d, this relay knows versions up to %d", len(migrations)+1, len(migrations)))
}

func TestOpenMigratesOnceAndKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd ?#% name.db")
	s, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Apply(context.Background(), storetest.Sample()))
	require.NoError(t, s.Close())
	_, err = os.Stat(path)
	require.NoError(t, err, "the file has the name asked for")

	s = openStore(t, path) // a second Open finds the schema current and leaves it alone
	var version int
	require.NoError(t, s.db.QueryRow(`SELECT version FROM schema_version`).Scan(&version))
	require.Equal(t, len(migrations), version)
	require.Len(t, storetest.Load(t, s).Messages[alice], 2)
}

// The durability the README promises is that of WAL with synchronous=NORMAL (what
// TestSurvivesSIGKILL and cmd/relay's crash test hold it to): the store must run with exactly
// those settings, neither weaker (OFF) nor, unannounced, stronger (FULL: an fsync per batch).
func TestRunsWALWithSynchronousNormal(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "relay.db"))
	var mode string
	var sync int
	require.NoError(t, s.db.QueryRow("PRAGMA journal_mode").Scan(&mode))
	require.NoError(t, s.db.QueryRow("PRAGMA synchronous").Scan(&sync))
	require.Equal(t, "wal", strings.ToLower(mode))
	require.Equal(t, 1, sync, "synchronous=NORMAL is 1 (OFF 0, FULL 2)")
}

// TestTheLoopNeverCheckpoints: the store's connection, on which every Apply commits, never
// checkpoints the write-ahead log (a checkpoint inside a commit stalls the relay's loop); the
// checkpointer's connection copies the log into the database, and what was applied reads back
// after a reopen.
func TestTheLoopNeverCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	s, err := Open(path)
	require.NoError(t, err)
	var auto int
	require.NoError(t, s.db.QueryRow("PRAGMA wal_autocheckpoint").Scan(&auto))
	require.Zero(t, auto, "the store's connection never checkpoints")
	require.NoError(t, s.Apply(context.Background(), storetest.Sample()))
	copied, err := s.ckpt.checkpoint(context.Background())
	require.NoError(t, err)
	require.Positive(t, copied, "the checkpointer copies the log into the database")
	want := storetest.Load(t, s)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "closing twice is harmless")
	s, err = Open(path)
	require.NoError(t, err)
	defer s.Close()
	storetest.RequireEqualStates(t, want, storetest.Load(t, s))
}

// TestSurvivesSIGKILL: storetest's crash test on a SQLite file (three children killed with
// SIGKILL mid-stream; every batch reported is in the database, and no part of any other).
func TestSurvivesSIGKILL(t *testing.T) {
	storetest.SurvivesSIGKILL(t, "TestSurvivesSIGKILL", "relay.db",
		func(path string) (relay.Store, error) { return Open(path) })
}

// BenchmarkApplyMessage measures the write rate: one PutMessage per Apply (a transaction each),
// and batches of 100.
func BenchmarkApplyMessage(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openStore(b, filepath.Join(b.TempDir(), "relay.db"))
			ctx := context.Background()
			at := time.Now()
			seq := uint64(0)
			recs := make([]relay.Record, batch)
			n := 0
			for b.Loop() {
				for j := range recs {
					seq++
					recs[j] = relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: seq, ID: strconv.FormatUint(seq, 10),
						From: "bob", Conv: "c2c_bob", Text: "a message of some fifty bytes, as chats have them", Time: at}}
				}
				if err := s.Apply(ctx, recs); err != nil {
					b.Fatal(err)
				}
				n += batch
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// The database holds credentials: only its owner may read it, whatever the umask.
func TestNewDatabaseIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	s := openStore(t, path)
	require.NoError(t, s.Apply(context.Background(), storetest.Sample()))
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), p)
	}
}
