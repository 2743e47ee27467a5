package sqlitestore

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
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

func TestDurableSuite(t *testing.T) {
	storetest.DurableSuite(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "relay.db")
		return func(t *testing.T) relay.Store { return openStore(t, path) }
	})
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

const (
	crashChildEnv = "SQLITESTORE_CRASH_CHILD_DB" // set in the child process: the database it writes
	crashKillAt   = 300                          // batches the child reports before the parent kills it
	crashKeep     = 20                           // messages the child's inbox keeps (it trims the rest)
)

// crashBatch is batch i (from 1) of the crash test: three messages, the batch counter between
// them, and a trim, so that a torn batch would show as a counter disagreeing with the inbox.
func crashBatch(i uint64) []relay.Record {
	msg := func(seq uint64) relay.Record {
		return relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: seq, ID: strconv.FormatUint(seq, 10),
			Text: strings.Repeat("x", 500), Time: time.Unix(0, int64(seq))}}
	}
	recs := []relay.Record{msg(3*i - 2), msg(3*i - 1), relay.PutCounter{Name: "batches", Value: i}, msg(3 * i)}
	if 3*i > crashKeep {
		recs = append(recs, relay.TrimInbox{User: alice, Through: 3*i - crashKeep})
	}
	return recs
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

// TestSurvivesSIGKILL runs a child process that applies batches and prints the number of each
// batch Apply returned for, kills it with SIGKILL mid-stream, and checks that the database holds
// every batch reported and no part of any other. It does so three times on the same database,
// each child going on from where the database says the last one stopped.
func TestSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "relay.db")
	var applied uint64
	for round := range 3 {
		reported := killChild(t, path, applied)
		s, err := Open(path)
		require.NoError(t, err)
		st := storetest.Load(t, s)
		require.NoError(t, s.Close())
		// The child may have committed one batch more than it reported before it died.
		applied = st.Counters["batches"]
		require.Contains(t, []uint64{reported, reported + 1}, applied, "round %d: reported %d", round, reported)
		var want []uint64
		for seq := 3*applied - crashKeep + 1; seq <= 3*applied; seq++ {
			want = append(want, seq)
		}
		var got []uint64
		for _, m := range st.Messages[alice] {
			got = append(got, m.Seq)
		}
		require.Equal(t, want, got, "round %d: the inbox is exactly that of %d whole batches", round, applied)
		t.Logf("round %d: the child reported batch %d before SIGKILL; the database holds %d", round, reported, applied)
	}
}

// killChild starts a child on the database at path, which holds batches 1 to from, and kills it
// after it reported crashKillAt more batches. It returns the last batch the child reported.
func killChild(t *testing.T, path string, from uint64) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound, should the child hang
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSurvivesSIGKILL$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill() }()

	reported := from
	killed := false
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		n, ok := strings.CutPrefix(lines.Text(), "applied ")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(n, 10, 64)
		require.NoError(t, err)
		require.Equal(t, reported+1, v, "the child reports batches in order, from the database's next")
		reported = v
		if v == from+crashKillAt && !killed {
			require.NoError(t, cmd.Process.Kill()) // SIGKILL: no deferred code, no clean close
			killed = true
		}
	}
	require.NoError(t, lines.Err())
	err = cmd.Wait()
	require.True(t, killed, "the child stopped by itself after batch %d: %v", reported, err)
	return reported
}

// crashChild is the child side of TestSurvivesSIGKILL: it applies batches, from the one after
// those the database holds, until it is killed.
func crashChild(t *testing.T, path string) {
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := st.Counters["batches"] + 1; i <= 100_000; i++ {
		if err := s.Apply(context.Background(), crashBatch(i)); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("applied %d\n", i)
	}
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
