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

	"github.com/pushlab/pushlab/internal/perf"
)

// runBench runs every performance measurement and prints each figure against its goal.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pushsim bench", flag.ContinueOnError)
	rounds := fs.Int("rounds", 5, "interleaved rounds per measurement (figures are medians)")
	round := fs.Duration("round", time.Second, "length of one throughput round")
	asJSON := fs.Bool("json", false, "print the figures as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
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
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(figs)
	}
	return perf.WriteTable(stdout, figs)
}
