package reports

import (
	"math"
	"slices"
	"sort"
	"time"
)

// linearUpToMs is the longest stretch of a scenario's time between two moments where something
// happens that a timeline draws to scale; longer gaps are compressed logarithmically.
const linearUpToMs = 100

// idleMs is the shortest gap a timeline shades as idle time drawn compressed.
const idleMs = 1000

// gapWeight is how much room a stretch of ms milliseconds with nothing in it gets on a timeline,
// in milliseconds of linear time: all of it up to linearUpToMs, then one more linearUpToMs per
// doubling. A 5-second wait takes the room of 0.66 s, a minute 1 s, two hours 1.7 s: the
// exchanges of frames a few tens of milliseconds apart stay readable next to hours of waiting.
func gapWeight(ms int64) float64 {
	if ms <= linearUpToMs {
		return float64(ms)
	}
	return linearUpToMs * (1 + math.Log2(float64(ms)/linearUpToMs))
}

// timeScale maps a scenario's time to x on a timeline: linear between the moments where
// something happens when they are close, idle gaps compressed (gapWeight).
type timeScale struct {
	ts []int64   // moments, ascending and distinct, the first 0
	xs []float64 // their x
}

// compressedGap is an idle stretch a timeScale drew shorter than to scale.
type compressedGap struct {
	From, To int64
	X1, X2   float64
}

// newTimeScale lays out the moments (milliseconds; order and repeats do not matter) between x0
// and x1.
func newTimeScale(moments []int64, x0, x1 float64) timeScale {
	ts := append([]int64{0}, moments...)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	for len(ts) > 0 && ts[0] < 0 {
		ts = ts[1:]
	}
	if len(ts) == 0 || ts[0] != 0 {
		ts = append([]int64{0}, ts...)
	}
	weights := make([]float64, len(ts))
	total := 0.0
	for i := 1; i < len(ts); i++ {
		total += gapWeight(ts[i] - ts[i-1])
		weights[i] = total
	}
	xs := make([]float64, len(ts))
	for i, w := range weights {
		if total == 0 {
			xs[i] = x0
			continue
		}
		xs[i] = x0 + (x1-x0)*w/total
	}
	return timeScale{ts: ts, xs: xs}
}

// x is the position of time ms: interpolated between the two moments around it, clamped to the
// ends.
func (s timeScale) x(ms int64) float64 {
	n := len(s.ts)
	i := sort.Search(n, func(i int) bool { return s.ts[i] >= ms })
	switch {
	case i == n:
		return s.xs[n-1]
	case s.ts[i] == ms || i == 0:
		return s.xs[i]
	}
	t0, t1 := s.ts[i-1], s.ts[i]
	return s.xs[i-1] + (s.xs[i]-s.xs[i-1])*gapWeight(ms-t0)/gapWeight(t1-t0)
}

// end is the last moment.
func (s timeScale) end() int64 { return s.ts[len(s.ts)-1] }

// gaps are the idle stretches: idleMs or longer with nothing happening, drawn compressed.
func (s timeScale) gaps() []compressedGap {
	var out []compressedGap
	for i := 1; i < len(s.ts); i++ {
		if s.ts[i]-s.ts[i-1] >= idleMs {
			out = append(out, compressedGap{From: s.ts[i-1], To: s.ts[i], X1: s.xs[i-1], X2: s.xs[i]})
		}
	}
	return out
}

// ticks picks moments to label, at least minGap apart, the first moment always among them.
func (s timeScale) ticks(minGap float64) []int64 {
	var out []int64
	last := math.Inf(-1)
	for i, t := range s.ts {
		if s.xs[i]-last >= minGap {
			out = append(out, t)
			last = s.xs[i]
		}
	}
	return out
}

// clock formats a scenario time (ms from its start) the way Go prints durations: 340ms, 30.745s,
// 2m3.5s, 6h0m0s.
func clock(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }
