package reports

import (
	"fmt"
	"io"

	"github.com/jedib0t/go-pretty/v6/table"
)

// WriteSummary writes the run's figures as a table for the terminal: scenarios passed and
// failed, expectations held, pushes and their delivery, push latency percentiles, and the
// topN push-trace reasons (the rest summed up on one row).
func WriteSummary(w io.Writer, r *Report, topN int) error {
	t := r.Totals
	tw := table.NewWriter()
	tw.SetStyle(table.StyleLight)
	tw.SetTitle("pushsim run: seed %d, %s mode", r.Run.Seed, r.Run.Mode)
	outcome := fmt.Sprintf("%d passed, %d failed", t.Passed, t.Failed)
	if t.NotRun > 0 {
		outcome += fmt.Sprintf(", %d not run", t.NotRun)
	}
	tw.AppendRow(table.Row{"scenarios", outcome})
	tw.AppendRow(table.Row{"expectations held", fmt.Sprintf("%d of %d", t.Held, t.Expectations)})
	if ran, of := oracleRuns(r); of > 0 {
		tw.AppendRow(table.Row{"invariants broken", fmt.Sprintf("%d (the oracle watched %d of %d scenarios)", t.Violations, ran, of)})
	}
	tw.AppendRow(table.Row{"pushes FCM accepted", fmt.Sprintf("%d, %d delivered (%.1f%%), %d duplicate(s)",
		t.PushesSent, t.PushesDelivered, 100*t.DeliveryRatio, t.Duplicates)})
	latency := "no push arrived"
	if unobservable(r) {
		latency = "not observable: pushes were judged by FCM's acceptance in the relay's trace"
	}
	if p := t.PushLatencyMs; p.Count > 0 {
		latency = fmt.Sprintf("%s / %s / %s (%d arrivals)", clock(int64(p.P50)), clock(int64(p.P90)), clock(int64(p.P99)), p.Count)
	}
	tw.AppendRow(table.Row{"push latency p50 / p90 / p99", latency})
	reasons := countsOf(t.Reasons)
	total := 0
	for _, c := range reasons {
		total += c.Count
	}
	if len(reasons) > 0 {
		tw.AppendSeparator()
		tw.AppendRow(table.Row{"push decisions by reason", fmt.Sprintf("%d trace entries", total)})
		for i, c := range reasons {
			if i == topN && len(reasons) > topN+1 {
				rest := 0
				for _, c := range reasons[i:] {
					rest += c.Count
				}
				tw.AppendRow(table.Row{fmt.Sprintf("  %d other reasons", len(reasons)-i), share(rest, total)})
				break
			}
			tw.AppendRow(table.Row{"  " + c.Name, share(c.Count, total)})
		}
	}
	if _, err := io.WriteString(w, tw.Render()+"\n"); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

func share(n, total int) string {
	return fmt.Sprintf("%d (%.1f%%)", n, 100*float64(n)/float64(max(total, 1)))
}

// oracleRuns counts the scenarios the invariant oracle watched, of those that have its outcome.
func oracleRuns(r *Report) (ran, of int) {
	for _, s := range r.Scenarios {
		if s.Oracle != nil {
			of++
			if s.Oracle.Ran {
				ran++
			}
		}
	}
	return ran, of
}

// unobservable says some push expectation of the run was judged from the relay's trace, the
// phones' FCM not being watched: arrivals, and so latencies, are not known.
func unobservable(r *Report) bool {
	for _, s := range r.Scenarios {
		for _, e := range s.Expectations {
			if e.DeliveryNotObservable {
				return true
			}
		}
	}
	return false
}
