package perf

import (
	"context"
	"fmt"
	"time"

	"github.com/pushlab/pushlab/cmd/pushsim/internal/load"
)

// LiveLoadConfig sizes the live load figures.
type LiveLoadConfig struct {
	RelayBin string
	// Devices for the concurrency figure (default 19,000).
	Devices int
	// LatencyRuns is how many runs the kill→push latency is the median of (default 3).
	LatencyRuns int
}

// LiveLoadFigures runs pushsim load with the relay in its own process: 19,000 phones connected
// (how many the relay holds, and its memory per connection), then 1,000 messages a second to
// 2,000 phones, a tenth of them killed, LatencyRuns times (the kill→push latency, the median of
// the runs' p99s against the goal of 10 ms).
func LiveLoadFigures(ctx context.Context, cfg LiveLoadConfig) ([]Figure, error) {
	if cfg.Devices == 0 {
		cfg.Devices = 19_000
	}
	if cfg.LatencyRuns == 0 {
		cfg.LatencyRuns = 3
	}
	var figs []Figure
	conc, err := load.RunLive(ctx, load.Config{Devices: cfg.Devices, Rate: 100, Duration: 5 * time.Second, KillRatio: 0.01, RelayBin: cfg.RelayBin})
	if err != nil {
		return nil, fmt.Errorf("concurrent devices: %w", err)
	}
	figs = append(figs,
		Figure{Name: "live concurrent devices, relay in its own process", Value: float64(conc.PeakConnected), Unit: "connections",
			Goal: fmt.Sprintf("%d", cfg.Devices), Met: conc.Errors == 0 && conc.PeakConnected >= cfg.Devices,
			Note: fmt.Sprintf("held at once, logged in and bound: %d phones and the senders; %d errors, 100 msg/s alongside", cfg.Devices, conc.Errors)},
		Figure{Name: "  relay memory per loaded connection", Value: conc.RelayBytesPerConnection / 1024, Unit: "KiB", Goal: "≤ 16",
			Met: conc.RelayBytesPerConnection <= 16*1024, Note: "RSS delta over the run's phones"})
	var p99s, p50s, maxes []float64
	pushes, errs := 0, 0
	for range cfg.LatencyRuns {
		lat, err := load.RunLive(ctx, load.Config{Devices: 2000, Rate: 1000, Duration: 10 * time.Second, KillRatio: 0.1, RelayBin: cfg.RelayBin})
		if err != nil {
			return nil, fmt.Errorf("kill→push latency: %w", err)
		}
		if lat.PushLatencyMs.Count > 0 {
			p99s, p50s, maxes = append(p99s, lat.PushLatencyMs.P99), append(p50s, lat.PushLatencyMs.P50), append(maxes, lat.PushLatencyMs.Max)
		}
		pushes += lat.PushLatencyMs.Count
		errs += lat.Errors + lat.Busy
	}
	p99 := Median(p99s)
	figs = append(figs, Figure{Name: "kill→push latency p99 at 1,000 msg/s, live", Value: p99, Unit: "ms", Goal: "≤ 10",
		Met: p99 <= 10 && len(p99s) == cfg.LatencyRuns,
		Note: fmt.Sprintf("median of %d runs' p99 (2,000 phones, a tenth killed, 10 s; send to arrival on the FCM channel); median p50 %.1f, max %.1f; %d pushes, %d errors or busy",
			cfg.LatencyRuns, Median(p50s), Median(maxes), pushes, errs)})
	return figs, nil
}
