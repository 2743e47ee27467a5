package scenarios

import (
	"context"
	"log/slog"

	"github.com/pushlab/pushlab/reports"
)

// Options say how to run scenarios.
type Options struct {
	// Seed fixes the virtual mode's draws; the same seed gives the same run.
	Seed uint64
	// Live runs on real sockets and the real clock, against embedded servers unless Remote names
	// running ones.
	Live   bool
	Remote Remote
	// Logger receives the log lines of the embedded relay and fakefcm of the live mode; nil
	// discards them.
	Logger *slog.Logger
}

// Run plays one scenario and reports how it went.
func Run(ctx context.Context, sc *Scenario, opt Options) reports.Scenario {
	var b backend
	var err error
	if opt.Live || opt.Remote.RelayURL != "" {
		b, err = newLive(ctx, sc, opt.Seed, opt.Remote, opt.Logger)
	} else {
		b, err = newVirtual(sc, opt.Seed)
	}
	if err != nil {
		out := reports.Scenario{Name: sc.Name, Description: sc.Description, File: sc.File, Error: "setup: " + err.Error(),
			Steps: []reports.Step{}, Expectations: []reports.Expectation{}, Devices: []reports.Device{},
			Trace: []reports.TraceEntry{}, FCM: []reports.FCMMessage{}}
		out.Totals = reports.SummarizeScenario(&out)
		return out
	}
	defer b.close()
	r := &runner{sc: sc, b: b}
	r.run(ctx)
	return r.out
}
