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
}

// LiveLoadFigures runs pushsim load three times, the relay in its own process: 19,000 phones
// connected (how many the relay holds, and its memory per connection), 1,000 messages a second
// to 2,000 phones (the kill→push latency), and all-killed phones at 6,000 messages a second
// (the relay's push throughput through the Admin SDK to fakefcm, on its in-memory store and on
// SQLite).
func LiveLoadFigures(ctx context.Context, cfg LiveLoadConfig) ([]Figure, error) {
	if cfg.Devices == 0 {
		cfg.Devices = 19_000
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
	lat, err := load.RunLive(ctx, load.Config{Devices: 2000, Rate: 1000, Duration: 10 * time.Second, KillRatio: 0.1, RelayBin: cfg.RelayBin})
	if err != nil {
		return nil, fmt.Errorf("kill→push latency: %w", err)
	}
	figs = append(figs, Figure{Name: "kill→push latency p99 at 1,000 msg/s, live", Value: lat.PushLatencyMs.P99, Unit: "ms", Goal: "≤ 25",
		Met:  lat.PushLatencyMs.P99 <= 25 && lat.PushLatencyMs.Count > 0,
		Note: fmt.Sprintf("send to arrival on the FCM channel; p50 %.1f, max %.1f, %d pushes", lat.PushLatencyMs.P50, lat.PushLatencyMs.Max, lat.PushLatencyMs.Count)})
	for _, mem := range []bool{true, false} {
		thr, err := load.RunLive(ctx, load.Config{Devices: 5000, Senders: 300, Rate: 6000, Duration: 10 * time.Second, KillRatio: 1,
			RelayBin: cfg.RelayBin, MemoryStore: mem})
		if err != nil {
			return nil, fmt.Errorf("push throughput: %w", err)
		}
		f := Figure{Name: "relay push throughput, Admin SDK → fakefcm (memory store)", Value: thr.PushesPerSecond, Unit: "/s", Goal: "≥ 5000",
			Met: thr.PushesPerSecond >= 5000, Note: fmt.Sprintf("6,000 msg/s offered to 5,000 killed phones; p99 %.0f ms", thr.PushLatencyMs.P99)}
		if !mem {
			f.Name, f.Goal, f.Met = "  the same on SQLite (durable)", "–", true
		}
		figs = append(figs, f)
	}
	return figs, nil
}
