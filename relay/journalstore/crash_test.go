package journalstore

import (
	"bufio"
	"context"
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

const (
	crashChildEnv = "JOURNALSTORE_CRASH_CHILD" // set in the child process: the journal it writes
	crashKillAt   = 300                        // batches the child reports before the parent kills it
	crashKeep     = 20                         // messages the child's inbox keeps (it trims the rest)
	// crashCompactAt makes the child compact every few dozen batches, so that the kill may
	// land during a compaction's rewrite or just after its swap.
	crashCompactAt = 32 << 10
)

var alice = relay.UserKey{SDKAppID: 1400000001, UserID: "alice"}

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

// TestSurvivesSIGKILL: a child process applies batches and reports each one Apply returned for;
// the parent kills it with SIGKILL (no deferred code, no close) and reopens the journal, three
// times over. Every batch reported is there, and no part of any other: the inbox is exactly
// that of whole batches. The child compacts as it goes, so kills land around compactions too.
func TestSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(t, path)
		return
	}
	path := filepath.Join(t.TempDir(), "relay.journal")
	var applied uint64
	for round := range 3 {
		reported := killChild(t, path, applied)
		s, err := Open(Config{Path: path})
		require.NoError(t, err)
		st := storetest.Load(t, s)
		require.NoError(t, s.Close())
		// The child may have committed one batch more than it reported before it died.
		applied = st.Counters["batches"]
		require.Contains(t, []uint64{reported, reported + 1}, applied, "round %d: reported %d", round, reported)
		var want, got []uint64
		for seq := 3*applied - crashKeep + 1; seq <= 3*applied; seq++ {
			want = append(want, seq)
		}
		for _, m := range st.Messages[alice] {
			got = append(got, m.Seq)
		}
		require.Equal(t, want, got, "round %d: the inbox is exactly that of %d whole batches", round, applied)
		t.Logf("round %d: the child reported batch %d before SIGKILL; the journal holds %d", round, reported, applied)
	}
}

// killChild starts a child on the journal at path, which holds batches 1 to from, and kills it
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
		require.Equal(t, reported+1, v, "the child reports batches in order, from the journal's next")
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
// those the journal holds, until it is killed.
func crashChild(t *testing.T, path string) {
	s, err := Open(Config{Path: path, CompactAt: crashCompactAt})
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
