package perf

import (
	"context"
	"fmt"
	"time"

	"github.com/pushlab/pushlab/cmd/pushsim/internal/load"
)

// ClusterLoadConfig sizes the cluster's live load figures.
type ClusterLoadConfig struct {
	RelayBin string
	// Nodes is the cluster's size (default 3); Rounds how many interleaved rounds of the cluster
	// and the single node run (default 3).
	Nodes, Rounds int
	// Duration is how long each run sends (default 5 s).
	Duration time.Duration
}

// clusterShapes are the two loads each round runs on the cluster and on the single node: the
// push throughput (all phones killed, more messages offered than a relay pushes) and the
// kill→push latency at a rate both keep up with.
func clusterShapes(d time.Duration) (throughput, latency load.Config) {
	return load.Config{Devices: 5000, Senders: 300, Rate: 6000, Duration: d, KillRatio: 1},
		load.Config{Devices: 2000, Rate: 1000, Duration: d, KillRatio: 0.1}
}

// ClusterLoadFigures runs the same live loads on a cluster of relay processes (pushsim load
// --nodes) and on the single node (its default store, SQLite) in interleaved rounds, and reports
// each one's push throughput and kill→push p99 as medians, with the cluster's ratio to the single
// node as the median of the rounds' ratios.
func ClusterLoadFigures(ctx context.Context, cfg ClusterLoadConfig) ([]Figure, error) {
	if cfg.Nodes == 0 {
		cfg.Nodes = 3
	}
	if cfg.Rounds == 0 {
		cfg.Rounds = 3
	}
	if cfg.Duration == 0 {
		cfg.Duration = 5 * time.Second
	}
	thrShape, latShape := clusterShapes(cfg.Duration)
	var clThr, oneThr, thrRatio, clP99, oneP99, p99Ratio []float64
	// errs counts each shape's errors on each side ("throughput cluster", …), first the first.
	errs, first := map[string]int{}, map[string]string{}
	run := func(shape load.Config, what string, nodes int) (load.Result, error) {
		shape.RelayBin, shape.Nodes = cfg.RelayBin, nodes
		res, err := load.RunLive(ctx, shape)
		if err != nil {
			return res, fmt.Errorf("%d node(s), %v msg/s: %w", nodes, shape.Rate, err)
		}
		side := what + " single"
		if nodes > 1 {
			side = what + " cluster"
		}
		errs[side] += res.Errors
		if first[side] == "" {
			first[side] = res.FirstError
		}
		return res, nil
	}
	for round := range cfg.Rounds {
		// The order alternates, so that neither always runs on a machine warmed (or tired) by
		// the other.
		order := []int{cfg.Nodes, 1}
		if round%2 == 1 {
			order = []int{1, cfg.Nodes}
		}
		thr, p99 := map[int]float64{}, map[int]float64{}
		for _, nodes := range order {
			t, err := run(thrShape, "throughput", nodes)
			if err != nil {
				return nil, err
			}
			l, err := run(latShape, "latency", nodes)
			if err != nil {
				return nil, err
			}
			thr[nodes], p99[nodes] = t.PushesPerSecond, l.PushLatencyMs.P99
		}
		clThr, oneThr = append(clThr, thr[cfg.Nodes]), append(oneThr, thr[1])
		clP99, oneP99 = append(clP99, p99[cfg.Nodes]), append(oneP99, p99[1])
		if thr[1] > 0 {
			thrRatio = append(thrRatio, thr[cfg.Nodes]/thr[1])
		}
		if p99[1] > 0 {
			p99Ratio = append(p99Ratio, p99[cfg.Nodes]/p99[1])
		}
	}
	errors := func(side string) string {
		if errs[side] == 0 {
			return "0 errors"
		}
		return fmt.Sprintf("%d errors, first: %s", errs[side], first[side])
	}
	name := fmt.Sprintf("cluster of %d relays (PostgreSQL, NATS)", cfg.Nodes)
	// Sends refused at saturation are the load shed, not a fault: the throughput figures stand
	// with them; the latency load is one both keep up with, so an error there fails the figure.
	return []Figure{
		{Name: name + ": push throughput", Value: Median(clThr), Unit: "/s", Goal: "–", Met: true,
			Note: fmt.Sprintf("6,000 msg/s offered to 5,000 killed phones, spread over the nodes; %d interleaved rounds; %s",
				cfg.Rounds, errors("throughput cluster"))},
		{Name: "  single node (SQLite), the same load", Value: Median(oneThr), Unit: "/s", Goal: "–", Met: true,
			Note: "the baseline, in the same rounds; " + errors("throughput single")},
		{Name: "  cluster ÷ single node", Value: Median(thrRatio), Unit: "×", Goal: "–", Met: true, Note: "median of the rounds' ratios"},
		{Name: name + ": kill→push p99 at 1,000 msg/s", Value: Median(clP99), Unit: "ms", Goal: "–", Met: errs["latency cluster"] == 0,
			Note: "2,000 phones, a tenth killed; send to arrival on the FCM channel; " + errors("latency cluster")},
		{Name: "  single node (SQLite), the same load", Value: Median(oneP99), Unit: "ms", Goal: "–", Met: errs["latency single"] == 0,
			Note: "the baseline, in the same rounds; " + errors("latency single")},
		{Name: "  cluster ÷ single node", Value: Median(p99Ratio), Unit: "×", Goal: "–", Met: true, Note: "median of the rounds' ratios"},
	}, nil
}
