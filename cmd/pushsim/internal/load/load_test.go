package load

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/cmd/relay/relayproc"
	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/pgtest"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/testca"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/sender"
	relayserver "github.com/pushlab/pushlab/relay/server"
	"github.com/pushlab/pushlab/sim/live"
)

func TestKilledPhonesAreSpreadAtTheRatio(t *testing.T) {
	for _, ratio := range []float64{0.01, 0.1, 0.25, 1} {
		n := 0
		for i := range 1000 {
			if (Config{KillRatio: ratio}).killed(i) {
				n++
			}
		}
		require.Equal(t, int(ratio*1000), n, "ratio %v", ratio)
	}
	require.False(t, Config{}.killed(3), "no ratio, no kill")
}

// A virtual load: every message is acknowledged, the killed tenth of the phones gets a push for
// each message to it, after the simulated network's latencies.
func TestVirtualLoadPushesTheKilledPhones(t *testing.T) {
	res, err := RunVirtual(context.Background(), Config{Devices: 200, Rate: 100, Duration: 5 * time.Second, Seed: 1})
	require.NoError(t, err)
	require.Equal(t, 200-20+10, res.Connected, "200 phones and 10 senders, a tenth of the phones killed")
	require.InDelta(t, 100, res.MessagesPerSecond, 1)
	require.InDelta(t, 10, res.PushesPerSecond, 6, "about a tenth of the messages go to killed phones")
	require.Positive(t, res.PushLatencyMs.Count)
	require.InDelta(t, 45, res.PushLatencyMs.P99, 1, "20 ms to the relay, 5 to FCM, 20 to the phone")
	require.Zero(t, res.Errors)
}

// A live load against a relay and fakefcm on loopback in this process, over plain HTTP and over
// TLS (the load's clients trusting the test CA through Config.TLS, the relay's sender through
// its transport): phones connect, the killed ones get their pushes on their FCM channels, and
// every acknowledged send is found among its recipient's stored messages.
func TestLiveLoadAgainstRunningServers(t *testing.T) {
	for _, mode := range []string{"plain", "tls"} {
		t.Run(mode, func(t *testing.T) {
			cfg := Config{Devices: 40, Senders: 4, Rate: 40, Duration: 2 * time.Second, KillRatio: 0.5, Seed: 2, CheckAcked: true}
			if mode == "tls" {
				startTLSServers(t, &cfg)
				require.True(t, strings.HasPrefix(cfg.RelayURL, "https://") && strings.HasPrefix(cfg.FCMURL, "https://"))
			} else {
				st, err := live.StartStack(t.Context(), live.StackConfig{Seed: 1, DB: live.MemoryDB, AdminKey: "load-test-admin-key-0123"})
				require.NoError(t, err)
				t.Cleanup(func() { st.Close() })
				cfg.RelayURL, cfg.FCMURL, cfg.AdminKey = st.RelayURL, st.FCMURL, st.AdminKey
			}
			liveLoadPushesTheKilledPhones(t, cfg)
		})
	}
}

// startTLSServers starts a relay (in memory) and a fakefcm on loopback, both serving TLS with
// certificates of a test CA, and points cfg at them, trusting that CA.
func startTLSServers(t *testing.T, cfg *Config) {
	ca := testca.New(t)
	fcm, err := fcmserver.ListenTLS("127.0.0.1:0", fcmserver.Config{Core: fakefcm.Config{Seed: 1}}, ca.ServerConfig())
	require.NoError(t, err)
	t.Cleanup(func() { fcm.Shutdown(context.Background()) })
	cfg.AdminKey = "load-test-admin-key-0123"
	rs, err := relayserver.ListenTLS(t.Context(), "127.0.0.1:0", relayserver.Config{Store: relay.NewMemoryStore(),
		Sender:   sender.New(sender.Config{Transport: &http.Transport{TLSClientConfig: ca.ClientConfig()}}),
		AdminKey: secret.New(cfg.AdminKey)}, ca.ServerConfig())
	require.NoError(t, err)
	t.Cleanup(func() { rs.Shutdown(context.Background()) })
	cfg.RelayURL, cfg.FCMURL, cfg.TLS = rs.URL, fcm.URL, ca.ClientConfig()
}

func liveLoadPushesTheKilledPhones(t *testing.T, cfg Config) {
	res, err := RunLive(t.Context(), cfg)
	require.NoError(t, err)
	require.Zero(t, res.Errors)
	require.Equal(t, 40-20+4, res.Connected)
	require.Equal(t, 40+4, res.PeakConnected, "every phone and sender, before the kills")
	// Counts, not rates: this run is in wall time, on a machine that may be busy.
	require.InDelta(t, 40*2, res.Messages, 2, "every send of 40/s for 2 s acknowledged")
	require.Positive(t, res.MessagesPerSecond)
	require.Positive(t, res.PushLatencyMs.Count, "killed phones got pushes")
	require.Equal(t, res.PushLatencyMs.Count, res.Pushes)
	require.InDelta(t, res.Messages/2, res.Pushes, 24, "about half the messages go to killed phones")
	require.NotEmpty(t, res.Series)
	require.Zero(t, res.Busy)
	require.Equal(t, res.Messages, res.AckedChecked, "every acknowledged send looked for")
	require.Zero(t, res.AckedLost, "first lost: %s", res.FirstLost)
}

// RunWorld takes any twin of the world port: on a live world (the real shells on in-memory
// listeners, in a synctest bubble's fake time, so that the run's seconds cost none) every phone
// connects and the killed ones get their pushes on their FCM channels.
func TestWorldLoadRunsOnALiveWorld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, err := live.Open(t.Context(), live.Config{Seed: 3, Relay: worldRelay(), DB: live.MemoryDB, InMemory: true, Settle: synctest.Wait})
		require.NoError(t, err)
		defer func() {
			require.NoError(t, w.Close())
			synctest.Wait()
		}()
		res, err := RunWorld(t.Context(), w, Config{Devices: 30, Senders: 3, Rate: 30, Duration: 3 * time.Second, KillRatio: 0.5, Seed: 3})
		require.NoError(t, err)
		require.Zero(t, res.Errors)
		require.Equal(t, 30+3, res.PeakConnected, "every phone and sender, before the kills")
		require.Equal(t, 30-15+3, res.Connected)
		require.InDelta(t, 30, res.MessagesPerSecond, 1)
		require.Positive(t, res.PushLatencyMs.Count, "killed phones got pushes")
		require.InDelta(t, res.MessagesPerSecond/2, res.PushesPerSecond, 8, "about half the messages go to killed phones")
		require.NotEmpty(t, res.Series)
	})
}

func TestConfigRefusesWhatCannotWork(t *testing.T) {
	for _, c := range []Config{{KillRatio: 2}, {Rate: -1}, {Devices: -1}, {Sources: 300}, {RelayURL: "http://x"},
		{Procs: -1}, {Procs: 2, TLS: &tls.Config{}}, {Nodes: -1},
		{Nodes: 3, RelayURL: "http://r", FCMURL: "http://f"}, {Nodes: 3, MemoryStore: true},
		{Postgres: "postgres://x"}, {NATS: "nats://x"}, {Nodes: 1, NATS: "nats://x"},
		{RelayURL: "http://r", FCMURL: "http://f", RelayLogs: "logs"}, {RelayURL: "http://r", FCMURL: "http://f", MemoryStore: true},
		{Nodes: 3, JournalStore: true}, {RelayURL: "http://r", FCMURL: "http://f", JournalStore: true}, {MemoryStore: true, JournalStore: true}} {
		require.Error(t, c.Validate(), "%+v", c)
	}
}

// The started relay runs on one store: the journal store is refused beside the memory store and
// wherever the memory store is (a cluster, a relay already running), each refusal naming why.
func TestConfigRefusesTheJournalStoreWhereItCannotRun(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{MemoryStore: true, JournalStore: true}, "--memory-store and --journal-store: the started relay runs on one store"},
		{Config{Nodes: 3, JournalStore: true}, "nodes 3: a cluster keeps its state in PostgreSQL, shared by the nodes; --journal-store is for one relay"},
		{Config{Nodes: 3, MemoryStore: true}, "nodes 3: a cluster keeps its state in PostgreSQL, shared by the nodes; --memory-store is for one relay"},
		{Config{RelayURL: "http://r", FCMURL: "http://f", JournalStore: true}, "JournalStore: settings of the relays the run starts"},
	} {
		require.ErrorContains(t, tc.cfg.Validate(), tc.want, "%+v", tc.cfg)
	}
	for _, c := range []Config{{JournalStore: true}, {MemoryStore: true}, {Nodes: 1, JournalStore: true}} {
		require.NoError(t, c.Validate(), "%+v", c)
	}
}

// A load on a world refuses the settings only RunLive can honour, before anything runs: the
// world brings its own relay, and its phones are in this process.
func TestAWorldLoadRefusesLiveSettings(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{RelayLogs: "logs"}, "RelayLogs: settings of the relays RunLive starts"},
		{Config{RelayBin: "bin/relay", MemoryStore: true}, "RelayBin, MemoryStore: settings of the relays RunLive starts"},
		{Config{JournalStore: true}, "JournalStore: settings of the relays RunLive starts"},
		{Config{Procs: 2}, "Procs, TLS and CheckAcked are for RunLive"},
		{Config{CheckAcked: true}, "Procs, TLS and CheckAcked are for RunLive"},
	} {
		tc.cfg.Devices, tc.cfg.Duration = 10, time.Second
		_, err := RunVirtual(context.Background(), tc.cfg)
		require.ErrorContains(t, err, tc.want, "%+v", tc.cfg)
	}
}

// Phones are spread over worker processes only when this process's open files are not enough
// for them (with headroom), as many as they need; a number given is kept.
func TestProcessesFollowTheFileLimit(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		limit int
		want  int
	}{
		{Config{Devices: 19_000, Senders: 10, KillRatio: 0.01}, 20_000, 1}, // the bench's 19,000 phones stay in one process
		{Config{Devices: 2_000, Senders: 10, KillRatio: 0.1}, 20_000, 1},
		{Config{Devices: 19_000, Senders: 10, KillRatio: 0.1}, 20_000, 2}, // fakefcm's side of 1,900 channels here too
		{Config{Devices: 19_000, Senders: 10, KillRatio: 0.1, FCMURL: "http://f"}, 20_000, 1},
		{Config{Devices: 25_000, Senders: 10, KillRatio: 0.1}, 20_000, 2},
		{Config{Devices: 30_000, Senders: 10, KillRatio: 0.1}, 20_000, 2},
		{Config{Devices: 60_000, Senders: 10, KillRatio: 0.1}, 20_000, 4},
		{Config{Devices: 2_000, Senders: 10, KillRatio: 0.1}, 1_024, 3},
		{Config{Devices: 30_000, Senders: 10, Procs: 1}, 20_000, 1},
		{Config{Devices: 200, Senders: 10, Procs: 3}, 20_000, 3},
	} {
		require.Equal(t, tc.want, tc.cfg.procs(tc.limit), "%+v under %d open files", tc.cfg, tc.limit)
	}
}

// A live load spread over two worker processes against one relay: every phone and sender is
// held at once (the sum over the workers at one tally), each killed phone's pushes are timed in
// whichever worker holds it, though their messages left from both, and every push's latency is
// pooled into the percentiles.
func TestSpreadLoadOverWorkerProcesses(t *testing.T) {
	st, err := live.StartStack(t.Context(), live.StackConfig{Seed: 1, DB: live.MemoryDB, AdminKey: "load-test-admin-key-0123"})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var started atomic.Int32
	cfg := Config{Devices: 300, Senders: 6, Rate: 100, Duration: time.Second, KillRatio: 0.5, Seed: 4, Procs: 2,
		Worker: testWorker(&started), RelayURL: st.RelayURL, FCMURL: st.FCMURL, AdminKey: st.AdminKey}
	res, err := RunLive(t.Context(), cfg)
	require.NoError(t, err)
	require.Equal(t, int32(2), started.Load())
	require.Zero(t, res.Errors)
	require.Equal(t, 300+6, res.PeakConnected, "every phone and sender, before the kills")
	require.Equal(t, 300-150+6, res.Connected)
	require.InDelta(t, 100, res.Messages, 3, "every send of 100/s for 1 s acknowledged")
	require.Positive(t, res.Pushes, "killed phones got pushes")
	require.Equal(t, res.Pushes, res.PushLatencyMs.Count, "every push's latency pooled")
	require.InDelta(t, res.Messages/2, res.Pushes, 30, "about half the messages go to killed phones")
	require.Positive(t, res.PushLatencyMs.P50)
	require.Less(t, res.PushLatencyMs.Max, 5000.0, "latencies from the message's own send time")
	require.NotEmpty(t, res.Series)
}

// A phone whose connection the relay closed (here: silent past a heartbeat deadline shorter than
// the phones' ping interval) is an error and no longer counted as connected; the peak counts the
// connections open at one moment, before the relay closed any.
func TestConnectionsTheRelayClosedAreErrors(t *testing.T) {
	st, err := live.StartStack(t.Context(), live.StackConfig{Seed: 1, DB: live.MemoryDB, AdminKey: "load-test-admin-key-0123",
		Relay: relay.Config{HeartbeatInterval: duration.Of(time.Second), HeartbeatDeadline: duration.Of(3 * time.Second)}})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	res, err := RunLive(t.Context(), Config{Devices: 20, Senders: 2, Rate: 10, Duration: 2 * time.Second, KillRatio: 0.5, Seed: 5,
		RelayURL: st.RelayURL, FCMURL: st.FCMURL, AdminKey: st.AdminKey})
	require.NoError(t, err)
	require.Equal(t, 20+2, res.PeakConnected)
	require.Less(t, res.Connected, 20-10, "the silent phones' connections are gone")
	require.GreaterOrEqual(t, res.Errors, 20-10-res.Connected)
	require.Contains(t, res.FirstError, "the relay closed its connection")
}

// runKeepingTheRelayLog runs a small live load (10 phones, 1 s) on a relay built for the test,
// with cfg's store and checks, keeping the relay's log; it returns the result and the log.
func runKeepingTheRelayLog(t *testing.T, cfg Config) (Result, []byte) {
	t.Helper()
	bin, err := relayproc.Build(t.TempDir())
	require.NoError(t, err)
	logs := filepath.Join(t.TempDir(), "logs")
	cfg.Devices, cfg.Senders, cfg.Rate, cfg.Duration, cfg.KillRatio, cfg.Seed = 10, 2, 10, time.Second, 0.5, 3
	cfg.RelayBin, cfg.RelayLogs = bin, logs
	res, err := RunLive(t.Context(), cfg)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(logs, "relay.log"))
	require.NoError(t, err)
	return res, b
}

// TestTheStartedRelaysLogIsKept: with RelayLogs, the log lines of the relay the run starts land
// in relay.log in that folder (without it they are dropped).
func TestTheStartedRelaysLogIsKept(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary")
	}
	res, b := runKeepingTheRelayLog(t, Config{MemoryStore: true})
	require.Zero(t, res.Errors)
	require.Contains(t, string(b), "relay listening")
	require.NotContains(t, string(b), loadAdminKey, "the admin key stays out of the log")
}

// TestAJournalStoreRunStartsTheRelayOnAJournal: with JournalStore, the relay the run starts keeps
// its state in a journal file in the run's folder (its "relay listening" line names it, and no
// SQLite file), and the sends it acknowledged are kept.
func TestAJournalStoreRunStartsTheRelayOnAJournal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary")
	}
	res, b := runKeepingTheRelayLog(t, Config{JournalStore: true, CheckAcked: true})
	require.Zero(t, res.Errors, res.FirstError)
	require.Positive(t, res.Pushes)
	require.Positive(t, res.AckedChecked)
	require.Zero(t, res.AckedLost, res.FirstLost)
	var listening map[string]any
	for _, line := range strings.Split(string(b), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "relay listening" {
			listening = entry
		}
	}
	require.NotNil(t, listening, "no \"relay listening\" line in %s", b)
	journal, _ := listening["journal"].(string)
	require.Equal(t, "relay.journal", filepath.Base(journal), "the store it names: %v", listening)
	require.NotContains(t, listening, "db")
}

// TestAClusterKeepsEachNodesLog: with Nodes and RelayLogs, each node the run starts logs to a
// file of its own, named for the node (node-1.log, node-2.log), on a throwaway PostgreSQL and an
// embedded NATS as `pushsim load --nodes` runs them.
func TestAClusterKeepsEachNodesLog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary as a cluster")
	}
	if pgtest.Skipped() {
		t.Skip(pgtest.SkipEnv + "=1: this test needs PostgreSQL")
	}
	bin, err := relayproc.Build(t.TempDir())
	require.NoError(t, err)
	logs := filepath.Join(t.TempDir(), "logs")
	res, err := RunLive(t.Context(), Config{Devices: 10, Senders: 2, Rate: 10, Duration: time.Second, KillRatio: 0.5, Seed: 5,
		RelayBin: bin, Nodes: 2, RelayLogs: logs})
	require.NoError(t, err)
	require.Zero(t, res.Errors, "first error: %s", res.FirstError)
	require.Equal(t, 2, res.Nodes)
	entries, err := os.ReadDir(logs)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"node-1.log", "node-2.log"}, names)
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(logs, name))
		require.NoError(t, err)
		require.Contains(t, string(b), "relay listening", name)
		// Each file is its own node's: the node's start names it (JSON lines, one a record).
		node := strings.TrimSuffix(name, ".log")
		started := false
		for line := range strings.Lines(string(b)) {
			if strings.Contains(line, `"msg":"relay cluster node started"`) {
				require.Contains(t, line, `"node":"`+node+`"`, name)
				started = true
			}
		}
		require.True(t, started, "%s logs its node's start", name)
		require.NotContains(t, string(b), loadAdminKey, "the admin key stays out of %s", name)
	}
}

// TestARelayLogsFolderThatCannotBeMadeStopsTheRun: the run stops before any relay starts, and
// says why.
func TestARelayLogsFolderThatCannotBeMadeStopsTheRun(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o600))
	_, err := RunLive(t.Context(), Config{Devices: 1, Senders: 1, Rate: 1, Duration: time.Second, RelayBin: filepath.Join(t.TempDir(), "no-relay"),
		RelayLogs: filepath.Join(notADir, "logs")})
	require.ErrorContains(t, err, "relay logs")
}

// A relay over capacity answers "busy, retry": the senders resend each refused message after a
// backoff, so that every message they made is acknowledged once or still held when the sending
// ends, and none acknowledged is lost. Here the relay takes at most two unanswered pushes and
// fakefcm holds each answer 40 ms, about 50 pushes a second, against 120 messages a second to
// killed phones.
func TestSendersResendWhatABusyRelayRefused(t *testing.T) {
	fcm, err := fcmserver.Listen("127.0.0.1:0", fcmserver.Config{Core: fakefcm.Config{Seed: 1}})
	require.NoError(t, err)
	t.Cleanup(func() { fcm.Shutdown(context.Background()) })
	require.NoError(t, (&control.Client{BaseURL: fcm.URL}).SetFaults(t.Context(),
		[]fakefcm.FaultRule{{Latency: duration.Of(40 * time.Millisecond)}}))
	cfg := Config{Devices: 40, Senders: 4, Rate: 120, Duration: 2 * time.Second, KillRatio: 1, Seed: 3, CheckAcked: true,
		AdminKey: "load-test-admin-key-0123", FCMURL: fcm.URL}
	rs, err := relayserver.Listen(t.Context(), "127.0.0.1:0", relayserver.Config{Store: relay.NewMemoryStore(),
		Sender: sender.New(sender.Config{}), AdminKey: secret.New(cfg.AdminKey),
		Overload: relayserver.OverloadConfig{MaxUnansweredPushes: 2}})
	require.NoError(t, err)
	t.Cleanup(func() { rs.Shutdown(context.Background()) })
	cfg.RelayURL = rs.URL

	res, err := RunLive(t.Context(), cfg)
	require.NoError(t, err)
	require.Zero(t, res.Errors, res.FirstError)
	require.Positive(t, res.Busy, "the relay refused sends")
	require.Positive(t, res.Unsent, "a relay taking 50 a second leaves messages unsent")
	// Each sender makes one message per interval of its schedule, from a random offset within
	// the first interval (its generator's first draw) until the window ends.
	made := 0
	interval := time.Duration(float64(time.Second) / (cfg.Rate / float64(cfg.Senders)))
	for si := range cfg.Senders {
		offset := time.Duration(rand.New(rand.NewPCG(cfg.Seed, uint64(si))).Int64N(int64(interval) + 1))
		made += int((cfg.Duration-offset-1)/interval) + 1
	}
	require.Equal(t, made, res.Messages+res.Unsent, "every message made is acknowledged once or still held")
	require.Equal(t, res.Messages, res.AckedChecked, "every acknowledged send looked for")
	require.Zero(t, res.AckedLost, "first lost: %s", res.FirstLost)
}
