package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/schollz/progressbar/v3"

	"github.com/pushlab/pushlab/cmd/pushsim/internal/load"
	"github.com/pushlab/pushlab/reports"
)

// loadJSON is what --json prints: the run's figures (without the time series), its mode and
// how long it took.
type loadJSON struct {
	reports.Load
	// Busy counts the sends the relay answered "busy, retry" (live runs; each was sent again
	// after a backoff), and Unsent the messages the senders still held when the sending ended.
	Busy    int     `json:"busy"`
	Unsent  int     `json:"unsent"`
	Mode    string  `json:"mode"`
	Seconds float64 `json:"seconds"`
	// RelayCPUPerPushUs is the started relay's CPU time per push delivered, in µs, and RelayCores
	// and BenchCores the cores' worth of CPU the relay and this process used, from the start of
	// the sending to the end of the drain (live runs that start their relay).
	RelayCPUPerPushUs float64 `json:"relayCpuPerPushUs,omitempty"`
	RelayCores        float64 `json:"relayCores,omitempty"`
	BenchCores        float64 `json:"benchCores,omitempty"`
}

// runLoad puts a load on the relay and fakefcm and reports what came out.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) (retErr error) {
	fs := flag.NewFlagSet("pushsim load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	devices := fs.Int("devices", 2000, "phones connected (a share of them killed)")
	senders := fs.Int("senders", 0, "extra phones, always online, that send the messages (default rate/20, at least 10)")
	rate := fs.Float64("rate", 100, "messages per second, each to a random phone's user")
	dur := fs.Duration("duration", 15*time.Second, "how long messages are sent, once every phone is connected")
	kill := fs.Float64("kill-ratio", 0.1, "share of phones whose app is killed after login: their messages become pushes")
	live := fs.Bool("live", false, "real WebSockets against a relay process and fakefcm (the default)")
	virtual := fs.Bool("virtual", false, "the same load on the cores in the simulator, in virtual time")
	relayURL := fs.String("relay", "", "a running relay's URL (with --fcm and --admin-key); default: start one")
	fcmURL := fs.String("fcm", "", "a running fakefcm's URL")
	adminKey := fs.String("admin-key", os.Getenv("PUSHLAB_ADMIN_KEY"), "the running relay's admin key (default $PUSHLAB_ADMIN_KEY)")
	relayBin := fs.String("relay-bin", "", "relay binary to start (default: next to pushsim, or on PATH; make build)")
	memStore := fs.Bool("memory-store", false, "start the relay on its in-memory store (the pipeline without SQLite's cost)")
	journalStore := fs.Bool("journal-store", false, "start the relay on its journal store (relay --journal): durable as SQLite is, its state in memory and each batch appended to a file")
	relayLogs := fs.String("relay-logs", "", "folder for the log of each relay this run starts: relay.log, or node-1.log … with --nodes (default: discarded)")
	nodes := fs.Int("nodes", 0, "N ≥ 2: start N relay processes as a cluster (relay --cluster) on one PostgreSQL and one NATS, phones spread over them")
	postgres := fs.String("postgres", "", "with --nodes: the cluster's PostgreSQL URL (default: start a throwaway one from the installed server)")
	natsURL := fs.String("nats", "", "with --nodes: the cluster's NATS URL (default: an embedded server on 127.0.0.1)")
	procs := fs.Int("load-procs", 0, "processes holding the phones: 0 decides from the open-file limit (one while they fit), 1 this one, K worker processes")
	sources := fs.Int("sources", 8, "loopback source addresses (127.0.0.1…) to spread the phones' connections over")
	seed := fs.Uint64("seed", 1, "seed of the recipients' draws (and of the virtual mode)")
	asJSON := fs.Bool("json", false, "print one JSON object with the figures instead of a table")
	out := fs.String("out", "out/load", "folder for report.json and load.html")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (the load generator, and the fakefcm it starts) to this file")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if *live && *virtual {
		return &exitError{2, fmt.Errorf("choose --live or --virtual, not both")}
	}
	// A flag the chosen mode cannot honour is refused, never ignored.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var notHere []string
	for _, name := range []string{"relay", "fcm", "admin-key", "relay-bin", "memory-store", "journal-store", "relay-logs", "sources", "load-procs", "nodes", "postgres", "nats"} {
		if set[name] && *virtual {
			notHere = append(notHere, "--"+name)
		}
	}
	for _, name := range []string{"relay-bin", "memory-store", "journal-store", "relay-logs", "nodes", "postgres", "nats"} {
		if set[name] && *relayURL != "" {
			notHere = append(notHere, "--"+name)
		}
	}
	if len(notHere) > 0 {
		why := "live-mode flags (real sockets and servers); the virtual mode runs the cores in the simulator"
		if !*virtual {
			why = "flags for the relay this run starts, but --relay names one already running"
		}
		return &exitError{2, fmt.Errorf("%s: %s", strings.Join(notHere, ", "), why)}
	}
	cfg := load.Config{Devices: *devices, Senders: *senders, Rate: *rate, Duration: *dur, KillRatio: *kill,
		RelayURL: *relayURL, FCMURL: *fcmURL, AdminKey: *adminKey, RelayBin: *relayBin, MemoryStore: *memStore, JournalStore: *journalStore,
		Sources: *sources, Seed: *seed, Procs: *procs, Nodes: *nodes, Postgres: *postgres, NATS: *natsURL, RelayLogs: *relayLogs}
	if err := cfg.Validate(); err != nil {
		return &exitError{2, err}
	}
	mode := "live"
	if *virtual {
		mode = "virtual"
	}
	bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(stderr), progressbar.OptionSpinnerType(14),
		progressbar.OptionSetElapsedTime(true), progressbar.OptionClearOnFinish())
	cfg.Progress = func(p load.Phase, s reports.Sample) {
		bar.Describe(fmt.Sprintf("%-7s connected %6d · %7.1f msg/s · %7.1f push/s · p99 %6.1f ms", p, s.Connected, s.Messages, s.Pushes, s.P99Ms))
		_ = bar.Add(1)
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer func() { retErr = errors.Join(retErr, stop()) }()
	}
	started := time.Now()
	var res reports.Load
	var busy, unsent int
	var cpu load.CPUUse
	var err error
	if *virtual {
		res, err = load.RunVirtual(ctx, cfg)
	} else {
		var lr load.Result
		lr, err = load.RunLive(ctx, cfg)
		res, busy, unsent, cpu = lr.Load, lr.Busy, lr.Unsent, lr.CPU
	}
	_ = bar.Finish()
	if err != nil {
		return fmt.Errorf("pushsim load: %w", err)
	}
	finished := time.Now()
	host, _ := os.Hostname()
	command := "pushsim load " + strings.Join(maskFlags(args, "admin-key", "postgres", "nats"), " ")
	rep := &reports.Report{Schema: reports.SchemaVersion, Load: &res, Run: reports.Run{Seed: *seed, Mode: mode,
		Command: command, Replay: command,
		GoVersion: runtime.Version(), Host: host, Started: started, Finished: finished, WallSeconds: finished.Sub(started).Seconds()}}
	if err := reports.WriteLoad(*out, rep); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		figures := res
		figures.Series = nil // in report.json and load.html
		return enc.Encode(loadJSON{Load: figures, Busy: busy, Unsent: unsent, Mode: mode, Seconds: finished.Sub(started).Seconds(),
			RelayCPUPerPushUs: cpu.RelayPerPushUs(res.Pushes), RelayCores: cpu.Cores(cpu.Relay), BenchCores: cpu.Cores(cpu.Bench)})
	}
	t := table.NewWriter()
	t.SetOutputMirror(stdout)
	t.SetStyle(table.StyleLight)
	t.AppendHeader(table.Row{"figure", "value"})
	t.AppendRows([]table.Row{
		{"phones (connected at the end)", fmt.Sprintf("%d (%d)", res.Devices, res.Connected)},
		{"held at once (phones and senders)", res.PeakConnected},
		{"relay processes · load processes", fmt.Sprintf("%d · %d", res.Nodes, res.LoadProcesses)},
		{"messages/s", fmt.Sprintf("%.1f", res.MessagesPerSecond)},
		{"pushes/s", fmt.Sprintf("%.1f", res.PushesPerSecond)},
		{"push latency p50 · p90 · p99 · max", fmt.Sprintf("%.1f · %.1f · %.1f · %.1f ms", res.PushLatencyMs.P50, res.PushLatencyMs.P90, res.PushLatencyMs.P99, res.PushLatencyMs.Max)},
		{"relay memory per connection", fmt.Sprintf("%.1f KiB", res.RelayBytesPerConnection/1024)},
		{"busy replies (sends refused; sent again after a backoff while the sending lasts)", busy},
		{"messages never taken (held by the senders at the end)", unsent},
		{"relay CPU a push · cores: relay, this process", fmt.Sprintf("%.1f µs · %.2f, %.2f", cpu.RelayPerPushUs(res.Pushes), cpu.Cores(cpu.Relay), cpu.Cores(cpu.Bench))},
		{"errors", res.Errors},
		{"first error", res.FirstError},
	})
	t.Render()
	fmt.Fprintf(stdout, "%s mode, %.1fs; report in %s/ (report.json, load.html)\n", mode, finished.Sub(started).Seconds(), *out)
	return nil
}

// runLoadWorker serves pushsim load as one of its worker processes: calls on standard input,
// answers on standard output (load.ServeWorker). It is started by pushsim load, never by hand.
func runLoadWorker(ctx context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return &exitError{2, fmt.Errorf("takes no arguments: pushsim load starts it")}
	}
	return load.ServeWorker(ctx, os.Stdin, stdout)
}
