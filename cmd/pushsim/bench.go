package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/pushlab/pushlab/cmd/pushsim/internal/perf"
)

// runBench runs every performance measurement and prints each figure against its goal.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pushsim bench", flag.ContinueOnError)
	rounds := fs.Int("rounds", 5, "interleaved rounds per measurement (figures are medians)")
	round := fs.Duration("round", time.Second, "length of one throughput round")
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	relayBin := fs.String("relay-bin", "", "relay binary for the measurements that run it in its own process (default: next to pushsim, or on PATH)")
	idleConns := fs.Int("idle-connections", 2000, "idle connections for the memory-per-connection figure")
	quick := fs.Bool("quick", false, "skip the day in the life and the live loads (minutes)")
	nodes := fs.Int("cluster-nodes", 3, "relays of the cluster whose live loads are measured against the single node's (0: none)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(stderr, "pushsim bench: %d CPUs, %s, %d rounds of %v\n", runtime.NumCPU(), runtime.Version(), *rounds, *round)
	var figs []perf.Figure
	fcm, err := perf.MeasureFCMSend(ctx, perf.FCMSendConfig{Rounds: *rounds, Round: *round})
	if err != nil {
		return fmt.Errorf("fakefcm sends: %w", err)
	}
	figs = append(figs, perf.FCMSendFigures(fcm)...)

	decisions, err := perf.MeasureCoreDecisions(perf.CoreDecisionsConfig{Rounds: *rounds, Round: *round})
	if err != nil {
		return fmt.Errorf("relay core decisions: %w", err)
	}
	figs = append(figs, perf.CoreDecisionsFigure(decisions))

	var perConn []float64
	for range 3 {
		b, err := perf.MeasureRelayIdleMemory(ctx, perf.RelayMemoryConfig{RelayBin: *relayBin, Connections: *idleConns})
		if err != nil {
			return fmt.Errorf("relay memory per connection: %w", err)
		}
		perConn = append(perConn, b)
	}
	figs = append(figs, perf.RelayMemoryFigure(perConn, *idleConns))

	if !*quick {
		fmt.Fprintln(stderr, "pushsim bench: a virtual day in the life of 10,000 (three runs), 30,000 and 100,000 phones…")
		day, err := perf.DayInTheLifeFigures()
		if err != nil {
			return fmt.Errorf("day in the life: %w", err)
		}
		figs = append(figs, day...)
		fmt.Fprintln(stderr, "pushsim bench: live loads (19,000 phones; 1,000 msg/s; 6,000 msg/s)…")
		live, err := perf.LiveLoadFigures(ctx, perf.LiveLoadConfig{RelayBin: *relayBin})
		if err != nil {
			return fmt.Errorf("live load: %w", err)
		}
		figs = append(figs, live...)
		if *nodes >= 2 {
			fmt.Fprintf(stderr, "pushsim bench: live loads on a cluster of %d relays and on the single node, interleaved…\n", *nodes)
			cl, err := perf.ClusterLoadFigures(ctx, perf.ClusterLoadConfig{RelayBin: *relayBin, Nodes: *nodes})
			if err != nil {
				return fmt.Errorf("cluster load: %w", err)
			}
			figs = append(figs, cl...)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(figs)
	}
	return perf.WriteTable(stdout, figs)
}
