package reports

import (
	"math"
	"slices"
)

// latencyBuckets returns the upper bounds (ms) of the push-latency histogram.
func latencyBuckets() []float64 {
	return []float64{10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, math.Inf(1)}
}

// SummarizeScenario computes a scenario's totals from its content, linking its pushes first
// (LinkPushes, kept in s.Pushes) unless it has them. A push counts as delivered when FCM recorded
// it delivered or the device saw it arrive.
func SummarizeScenario(s *Scenario) Totals {
	t, _ := summarizeScenario(s)
	return t
}

// summarizeScenario is SummarizeScenario, also returning the push latencies the totals were
// computed from, for the run's.
func summarizeScenario(s *Scenario) (Totals, []float64) {
	if s.Pushes == nil {
		s.Pushes = LinkPushes(s)
	}
	t := Totals{Reasons: map[string]int{}, Fates: map[string]int{}}
	for _, e := range s.Expectations {
		t.Expectations++
		if e.Held {
			t.Held++
		}
	}
	if s.Oracle != nil {
		t.Violations = len(s.Oracle.Violations)
	}
	for _, e := range s.Trace {
		t.Reasons[e.Reason]++
	}
	for _, p := range s.Pushes {
		t.Fates[p.Fate]++
		if p.Fate != "rejected" && p.Fate != "validate-only" {
			t.PushesSent++
		}
		// Arrived counts too: a scenario may end before the device's acknowledgement reaches
		// FCM (in-flight), or the app may be uninstalled before it does (unregistered).
		if p.Fate == "delivered" || p.Arrivals > 0 {
			t.PushesDelivered++
		}
	}
	var lat []float64
	for _, d := range s.Devices {
		seen := map[string]int{}
		for _, e := range d.Events {
			if e.Kind != "push" {
				continue
			}
			seen[e.Detail]++
			if seen[e.Detail] == 2 {
				t.Duplicates++
			}
			if e.LatencyMs != nil {
				lat = append(lat, float64(*e.LatencyMs))
			}
		}
	}
	if t.PushesSent > 0 {
		t.DeliveryRatio = float64(t.PushesDelivered) / float64(t.PushesSent)
	}
	t.PushLatencyMs = percentiles(lat)
	t.LatencyHistogram = histogram(lat)
	return t, lat
}

// summarizeRun adds up scenario totals into the run's; lat are the push latencies of all its
// scenarios.
func summarizeRun(r *Report, lat []float64) {
	t := Totals{Reasons: map[string]int{}, Fates: map[string]int{}}
	for _, s := range r.Scenarios {
		t.Scenarios++
		switch {
		case s.NotRun:
			t.NotRun++
		case s.Passed:
			t.Passed++
		default:
			t.Failed++
		}
		t.Expectations += s.Totals.Expectations
		t.Held += s.Totals.Held
		t.Violations += s.Totals.Violations
		t.PushesSent += s.Totals.PushesSent
		t.PushesDelivered += s.Totals.PushesDelivered
		t.Duplicates += s.Totals.Duplicates
		for k, v := range s.Totals.Reasons {
			t.Reasons[k] += v
		}
		for k, v := range s.Totals.Fates {
			t.Fates[k] += v
		}
	}
	if t.PushesSent > 0 {
		t.DeliveryRatio = float64(t.PushesDelivered) / float64(t.PushesSent)
	}
	t.PushLatencyMs = percentiles(lat)
	t.LatencyHistogram = histogram(lat)
	r.Totals = t
}

// percentiles computes nearest-rank percentiles.
func percentiles(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Percentiles{Count: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1]}
}

// Percentile is exported for load figures: the nearest-rank percentiles of xs.
func Percentile(xs []float64) Percentiles { return percentiles(xs) }

func histogram(xs []float64) []Bucket {
	if len(xs) == 0 {
		return nil
	}
	bounds := latencyBuckets()
	out := make([]Bucket, len(bounds))
	for i, b := range bounds {
		out[i].UpToMs = b
	}
	for _, x := range xs {
		for i, b := range bounds {
			if x <= b {
				out[i].Count++
				break
			}
		}
	}
	// Drop the empty buckets at the end, and an infinite bound JSON cannot carry.
	for len(out) > 0 && out[len(out)-1].Count == 0 {
		out = out[:len(out)-1]
	}
	if n := len(out); n > 0 && math.IsInf(out[n-1].UpToMs, 1) {
		out[n-1].UpToMs = -1 // "and above"
	}
	return out
}
