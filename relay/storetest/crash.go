package storetest

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
)

const (
	crashChildEnv = "STORETEST_CRASH_CHILD" // set in the child process: the store it writes
	crashKillAt   = 300                     // batches the child reports before the parent kills it
	crashKeep     = 20                      // messages the child's inbox keeps (it trims the rest)
)

// crashBatch is batch i (from 1) of the crash test: three messages, the batch counter between
// them, and a trim, so that a torn batch would show as a counter disagreeing with the inbox.
func crashBatch(i uint64) []relay.Record {
	msg := func(seq uint64) relay.Record {
		return relay.PutMessage{User: sampleUser, Msg: relay.StoredMsg{Seq: seq, ID: strconv.FormatUint(seq, 10),
			Text: strings.Repeat("x", 500), Time: time.Unix(0, int64(seq))}}
	}
	recs := []relay.Record{msg(3*i - 2), msg(3*i - 1), relay.PutCounter{Name: "batches", Value: i}, msg(3 * i)}
	if 3*i > crashKeep {
		recs = append(recs, relay.TrimInbox{User: sampleUser, Through: 3*i - crashKeep})
	}
	return recs
}

// SurvivesSIGKILL is a durable store's crash test, run by the test named test (a Test function
// that calls it and nothing else): a child process, the test binary running that test alone,
// opens the store at the file name in the parent's temporary directory and applies batches,
// printing the number of each batch Apply returned for; the parent kills it with SIGKILL (no
// deferred code, no close) after 300 of them and opens the store itself, three times over, each
// child going on from where the store says the last one stopped. Every batch reported is there,
// and no part of any other: the inbox is exactly that of whole batches.
func SurvivesSIGKILL(t *testing.T, test, name string, open func(path string) (relay.Store, error)) {
	if child := os.Getenv(crashChildEnv); child != "" {
		crashChild(t, child, open)
		return
	}
	// Only the parent makes the directory: a child is killed before its test could remove one.
	path := filepath.Join(t.TempDir(), name)
	var applied uint64
	for round := range 3 {
		reported := killChild(t, test, path, applied)
		s, err := open(path)
		require.NoError(t, err)
		st := Load(t, s)
		require.NoError(t, s.Close())
		// The child may have committed one batch more than it reported before it died.
		applied = st.Counters["batches"]
		require.Contains(t, []uint64{reported, reported + 1}, applied, "round %d: reported %d", round, reported)
		var want, got []uint64
		for seq := 3*applied - crashKeep + 1; seq <= 3*applied; seq++ {
			want = append(want, seq)
		}
		for _, m := range st.Messages[sampleUser] {
			got = append(got, m.Seq)
		}
		require.Equal(t, want, got, "round %d: the inbox is exactly that of %d whole batches", round, applied)
		t.Logf("round %d: the child reported batch %d before SIGKILL; the store holds %d", round, reported, applied)
	}
}

// killChild starts a child on the store at path, which holds batches 1 to from, and kills it
// after it reported crashKillAt more batches. It returns the last batch the child reported.
func killChild(t *testing.T, test, path string, from uint64) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a bound, should the child hang
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
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
		require.Equal(t, reported+1, v, "the child reports batches in order, from the store's next")
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

// crashChild is the child side of SurvivesSIGKILL: it applies batches, from the one after those
// the store holds, until it is killed.
func crashChild(t *testing.T, path string, open func(path string) (relay.Store, error)) {
	s, err := open(path)
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
