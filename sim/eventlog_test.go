package sim

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden event logs in testdata/ from this run")

// TestEventLogOfOneSeedIsPinned pins the virtual world's event log for one seed and one script:
// every observation, push, FCM answer and trace decision, with its virtual time. A change in the
// cores, the device model or the virtual network that moves any event shows as a diff of
// testdata/eventlog-seed7.txt; when the change is meant, go test ./sim -run EventLog -rewrite
// writes the new log, and the diff is reviewed like code.
func TestEventLogOfOneSeedIsPinned(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 7, Jitter: 10 * time.Millisecond, KeepLog: true}, "alice", "bob", "carol")
	for _, u := range []string{"alice", "bob", "carol"} {
		d[u].Login(true)
	}
	w.run(time.Second)
	d["alice"].Kill()
	w.run(time.Second)
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "pushed"})
	w.run(time.Second)
	d["carol"].Logout()
	d["bob"].Send(relay.ClientFrame{To: "carol", Text: "synced later"})
	w.run(time.Second)
	require.NoError(t, w.AddFaults([]fakefcm.FaultRule{{Status: 503, Count: 1}}))
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "retried"})
	w.run(10 * time.Second)
	d["alice"].NetLoss()
	d["alice"].Relaunch()
	w.run(time.Second)
	require.NoError(t, w.RestartRelay())
	w.run(5 * time.Second)
	d["alice"].NetRestore()
	d["carol"].Login(true)
	w.run(5 * time.Second)

	_, lines := w.EventLog()
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "eventlog-seed7.txt")
	if *rewrite {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden log: run go test ./sim -run EventLog -rewrite")
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); diff != "" {
		t.Fatalf("the event log of seed 7 changed (-want +got); if meant, rerun with -rewrite:\n%s", diff)
	}
}
