package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/pushlab/pushlab/cmd/pushsim/internal/perf"
)

// benchPart is one measurement of pushsim bench, by the name --only picks it by.
type benchPart struct {
	name, what string
	// long parts (minutes) are skipped by --quick.
	long bool
	run  func(ctx context.Context, o benchOptions) ([]perf.Figure, error)
}

// benchOptions are the flags the parts read.
type benchOptions struct {
	rounds, idleConns, nodes, overloadRuns int
	round, sweepWindow                     time.Duration
	relayBin                               string
	sweepPlan                              perf.SweepPlan
	stderr                                 io.Writer
}

// benchParts are the measurements in the order pushsim bench runs them.
func benchParts() []benchPart {
	return []benchPart{
		{name: "fcm", what: "fakefcm sends/s, raw and through the Admin SDK, against a trivial handler", run: func(ctx context.Context, o benchOptions) ([]perf.Figure, error) {
			fcm, err := perf.MeasureFCMSend(ctx, perf.FCMSendConfig{Rounds: o.rounds, Round: o.round})
			if err != nil {
				return nil, fmt.Errorf("fakefcm sends: %w", err)
			}
			return perf.FCMSendFigures(fcm), nil
		}},
		{name: "core", what: "the relay core's push decisions/s", run: func(ctx context.Context, o benchOptions) ([]perf.Figure, error) {
			decisions, err := perf.MeasureCoreDecisions(perf.CoreDecisionsConfig{Rounds: o.rounds, Round: o.round})
			if err != nil {
				return nil, fmt.Errorf("relay core decisions: %w", err)
			}
			return []perf.Figure{perf.CoreDecisionsFigure(decisions)}, nil
		}},
		{name: "memory", what: "the relay's memory per idle connection", run: func(ctx context.Context, o benchOptions) ([]perf.Figure, error) {
			var perConn []float64
			for range 3 {
				b, err := perf.MeasureRelayIdleMemory(ctx, perf.RelayMemoryConfig{RelayBin: o.relayBin, Connections: o.idleConns})
				if err != nil {
					return nil, fmt.Errorf("relay memory per connection: %w", err)
				}
				perConn = append(perConn, b)
			}
			return []perf.Figure{perf.RelayMemoryFigure(perConn, o.idleConns)}, nil
		}},
		{name: "day", what: "a virtual day in the life of 10,000 phones (three runs), 30,000 and 100,000", long: true, run: func(context.Context, benchOptions) ([]perf.Figure, error) {
			day, err := perf.DayInTheLifeFigures()
			if err != nil {
				return nil, fmt.Errorf("day in the life: %w", err)
			}
			return day, nil
		}},
		{name: "live", what: "live loads: 19,000 phones held; kill→push latency at 1,000 msg/s, 3 runs", long: true, run: func(ctx context.Context, o benchOptions) ([]perf.Figure, error) {
			live, err := perf.LiveLoadFigures(ctx, perf.LiveLoadConfig{RelayBin: o.relayBin})
			if err != nil {
				return nil, fmt.Errorf("live load: %w", err)
			}
			return live, nil
		}},
		{name: "sweep", what: "the offered-rate sweep on the memory store, SQLite and the journal store, then rounds at 1.5×, 1× and 2× the sustained rate", long: true, run: func(ctx context.Context, o benchOptions) ([]perf.Figure, error) {
			cfg := perf.SweepConfig{RelayBin: o.relayBin, Plan: o.sweepPlan, Window: o.sweepWindow, OverloadRuns: o.overloadRuns,
				Progress: func(line string) { fmt.Fprintln(o.stderr, "pushsim bench:   "+line) }}
			sweeps, err := perf.RunSweeps(ctx, cfg)
			if err != nil {
				return nil, fmt.Errorf("offered-rate sweep: %w", err)
			}
			return perf.SweepFigures(sweeps, cfg), nil
		}},
		{name: "cluster", what: "live loads on a cluster of relays and on the single node, interleaved", long: true, run: func(ctx context.Context, o benchOptions) ([]perf.Figure, error) {
			if o.nodes < 2 {
				return nil, nil
			}
			cl, err := perf.ClusterLoadFigures(ctx, perf.ClusterLoadConfig{RelayBin: o.relayBin, Nodes: o.nodes})
			if err != nil {
				return nil, fmt.Errorf("cluster load: %w", err)
			}
			return cl, nil
		}},
	}
}

// pickBenchParts chooses the parts to run: those --only names (a comma-separated list), else
// every part, or only the short ones with --quick. An unknown name is refused.
func pickBenchParts(only string, quick bool) ([]benchPart, error) {
	if only == "" {
		var parts []benchPart
		for _, p := range benchParts() {
			if !quick || !p.long {
				parts = append(parts, p)
			}
		}
		return parts, nil
	}
	if quick {
		return nil, fmt.Errorf("--only and --quick: choose the parts with one of them")
	}
	var names []string
	for _, p := range benchParts() {
		names = append(names, p.name)
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(names, n) {
			return nil, fmt.Errorf("--only %q: no part %q; the parts are %s", only, n, strings.Join(names, ", "))
		}
		want[n] = true
	}
	var parts []benchPart
	for _, p := range benchParts() {
		if want[p.name] {
			parts = append(parts, p)
		}
	}
	return parts, nil
}

// runBench runs the performance measurements and prints each figure against its goal.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) (retErr error) {
	fs := flag.NewFlagSet("pushsim bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, p := range benchParts() {
		names = append(names, p.name)
	}
	rounds := fs.Int("rounds", 5, "interleaved rounds per measurement (figures are medians)")
	round := fs.Duration("round", time.Second, "length of one throughput round")
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	relayBin := fs.String("relay-bin", "", "relay binary for the measurements that run it in its own process (default: next to pushsim, or on PATH)")
	idleConns := fs.Int("idle-connections", 2000, "idle connections for the memory-per-connection figure")
	quick := fs.Bool("quick", false, "skip the long parts (minutes): the day in the life, the live loads, the sweep and the cluster")
	only := fs.String("only", "", "run only these parts, comma-separated: "+strings.Join(names, ", "))
	nodes := fs.Int("cluster-nodes", 3, "relays of the cluster whose live loads are measured against the single node's (0: none)")
	sweepStep := fs.Float64("sweep-step", 2000, "the offered-rate sweep's first rate and step, msg/s")
	sweepMax := fs.Float64("sweep-max", 20_000, "the offered-rate sweep's highest step, msg/s")
	sweepWindow := fs.Duration("sweep-window", 5*time.Second, "how long each sweep step sends (the 1.5× and 2× runs send twice as long)")
	overloadRuns := fs.Int("overload-runs", 3, "how many rounds offer each store 1.5×, 1× and 2× its sustained rate (delivered rates are the runs' medians, memory the worst run's)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("pushsim bench takes no arguments: %q", fs.Args())}
	}
	parts, err := pickBenchParts(*only, *quick)
	if err != nil {
		return &exitError{2, err}
	}
	if *sweepStep <= 0 || *sweepMax < *sweepStep || *sweepWindow <= 0 {
		return &exitError{2, fmt.Errorf("--sweep-step %v, --sweep-max %v, --sweep-window %v: a positive step no higher than the maximum, a positive window",
			*sweepStep, *sweepMax, *sweepWindow)}
	}
	if *overloadRuns < 1 {
		return &exitError{2, fmt.Errorf("--overload-runs %d: at least 1", *overloadRuns)}
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer func() { retErr = errors.Join(retErr, stop()) }()
	}
	o := benchOptions{rounds: *rounds, idleConns: *idleConns, nodes: *nodes, round: *round, sweepWindow: *sweepWindow, overloadRuns: *overloadRuns,
		relayBin: *relayBin, sweepPlan: perf.SweepPlan{From: *sweepStep, Step: *sweepStep, Max: *sweepMax}, stderr: stderr}
	fmt.Fprintf(stderr, "pushsim bench: %d CPUs, %s, %d rounds of %v\n", runtime.NumCPU(), runtime.Version(), *rounds, *round)
	began := time.Now()
	var figs []perf.Figure
	for _, p := range parts {
		fmt.Fprintf(stderr, "pushsim bench: %s (%s)… [%s]\n", p.name, p.what, time.Since(began).Round(time.Second))
		f, err := p.run(ctx, o)
		if err != nil {
			return err
		}
		figs = append(figs, f...)
	}
	fmt.Fprintf(stderr, "pushsim bench: done in %s\n", time.Since(began).Round(time.Second))
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(figs)
	}
	return perf.WriteTable(stdout, figs)
}
