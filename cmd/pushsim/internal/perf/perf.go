// Package perf measures pushlab against its performance goals. Each measurement runs its subject
// and, where the goal is relative, a baseline in the same process, interleaved over several
// rounds; figures are reported as medians, and ratios as the median of per-round ratios, because
// the machines this runs on are shared and noisy.
package perf

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Figure is one measured figure and its goal.
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Goal describes the target ("≥ 10000"); Met says whether Value reaches it.
	Goal string `json:"goal"`
	Met  bool   `json:"met"`
	// Note says how it was measured or what limits it.
	Note string `json:"note,omitempty"`
}

// Median returns the median of xs (the mean of the middle two for an even count).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Throughput runs op from workers goroutines for d and returns completed operations per second
// and the number of operations that failed (failures are not counted as throughput).
func Throughput(ctx context.Context, workers int, d time.Duration, op func(ctx context.Context) error) (perSecond float64, failed int64, firstErr error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done, bad atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := op(ctx); err != nil {
					if ctx.Err() != nil {
						return // the round ended mid-request
					}
					bad.Add(1)
					once.Do(func() { firstErr = err })
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds(), bad.Load(), firstErr
}

// WriteTable prints figures as an aligned table.
func WriteTable(w io.Writer, figs []Figure) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tMEDIAN\tGOAL\tMET\tHOW")
	for _, f := range figs {
		met := "yes"
		if !f.Met {
			met = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\n", f.Name, formatValue(f.Value), f.Unit, f.Goal, met, f.Note)
	}
	return tw.Flush()
}

func formatValue(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
