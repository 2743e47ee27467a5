package perf

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/cmd/pushsim/internal/load"
)

// step is a sweep step that delivered pushes per second with this p99.
func step(offered, pushes, p99 float64) SweepStep {
	return SweepStep{Offered: offered, Pushes: pushes, P99Ms: p99}
}

// A step sustains its rate when pushes reach 0.98× the offered rate and the p99 is at most
// 250 ms, both at once.
func TestAStepSustainsItsRateAtBothBars(t *testing.T) {
	for _, tc := range []struct {
		s    SweepStep
		want bool
	}{
		{step(4000, 4000, 10), true},
		{step(4000, 3920, 250), true},  // both exactly at the bar
		{step(4000, 3919, 10), false},  // too few pushes
		{step(4000, 4000, 251), false}, // too slow
		{step(4000, 6000, 251), false}, // a backlog from earlier does not make up for latency
		{step(0, 0, 0), false},         // nothing offered, nothing shown
	} {
		require.Equal(t, tc.want, tc.s.Sustains(), "%+v", tc.s)
	}
}

// The sweep steps up from the plan's first rate while each step sustains, then halves the gap
// between the highest rate sustained and the lowest failure until it is an eighth of a step, or
// ends when the next would pass the maximum; the sustained rate is the highest step below the
// lowest failure, and the overload runs offer 1.5× and 2× it (or the first
// step's rate when none sustained).
func TestSweepStepsUntilTheFirstFailure(t *testing.T) {
	plan := SweepPlan{From: 2000, Step: 2000, Max: 10_000}
	for _, tc := range []struct {
		name      string
		steps     []SweepStep
		next      float64
		more      bool
		sustained float64
		base      float64
	}{
		{"nothing run yet", nil, 2000, true, 0, 2000},
		{"first step passed", []SweepStep{step(2000, 2000, 5)}, 4000, true, 2000, 2000},
		{"passing, going on", []SweepStep{step(2000, 2000, 5), step(4000, 3990, 40)}, 6000, true, 4000, 4000},
		{"halves the step after the first failure", []SweepStep{step(2000, 2000, 5), step(4000, 3990, 40), step(6000, 5000, 900)}, 5000, true, 4000, 4000},
		{"the half step sustains: a quarter step above it", []SweepStep{step(2000, 2000, 5), step(4000, 3990, 40), step(6000, 5000, 900), step(5000, 5000, 60)}, 5500, true, 5000, 5000},
		{"the half step fails too: a quarter step below it", []SweepStep{step(2000, 2000, 5), step(4000, 3990, 40), step(6000, 5000, 900), step(5000, 4000, 600)}, 4500, true, 4000, 4000},
		{"an eighth of a step", []SweepStep{step(2000, 2000, 5), step(4000, 3990, 40), step(6000, 5000, 900), step(5000, 5000, 60), step(5500, 5000, 600)}, 5250, true, 5000, 5000},
		{"narrowed to an eighth of a step: over", []SweepStep{step(2000, 2000, 5), step(4000, 3990, 40), step(6000, 5000, 900), step(5000, 5000, 60), step(5500, 5000, 600), step(5250, 5250, 90)},
			0, false, 5250, 5250},
		{"fails on latency alone", []SweepStep{step(2000, 2000, 5), step(4000, 4000, 300)}, 3000, true, 2000, 2000},
		{"the first step fails", []SweepStep{step(2000, 1500, 3000)}, 0, false, 0, 2000},
		{"bounded by the maximum", []SweepStep{step(2000, 2000, 5), step(4000, 4000, 5), step(6000, 6000, 5), step(8000, 8000, 5), step(10_000, 10_000, 9)},
			0, false, 10_000, 10_000},
		// A step above a failed rate (a sweep run by hand) does not raise the sustained rate.
		{"nothing counts above a failure", []SweepStep{step(2000, 2000, 5), step(4000, 100, 5000), step(6000, 6000, 5)}, 3000, true, 2000, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, more := plan.Next(tc.steps)
			require.Equal(t, tc.more, more)
			if more {
				require.Equal(t, tc.next, next)
			}
			sustained, ok := Sustained(tc.steps)
			require.Equal(t, tc.sustained, sustained)
			require.Equal(t, tc.sustained > 0, ok)
			require.Equal(t, tc.base, plan.OverloadBase(tc.steps))
		})
	}
	_, more := SweepPlan{From: 2000, Step: 2000, Max: 1000}.Next(nil)
	require.False(t, more, "a first step past the maximum is not run")
}

// The sweep's figures hold each goal: the memory store's sustained rate ≥ 8,000, SQLite's and the
// journal store's each ≥ 0.9× it, 2× delivering ≥ 0.9× the sustained rate (the median of its
// runs), and no acknowledged message lost (with some looked for) over all the runs.
func TestSweepFiguresAgainstTheirGoals(t *testing.T) {
	// Three rounds, as RunSweeps makes them: the 2× runs deliver 0.5×, 1× and 1.2× delivered2x,
	// so that only their median gives delivered2x; one lost message in the last round's 2× run.
	overload := func(base, delivered2x float64, checked, lost int) []OverloadRun {
		var runs []OverloadRun
		for i, share := range []float64{0.5, 1, 1.2} {
			// The middle round has the largest peak and growth: the figures are the worst run's.
			peak, end := []int64{110, 130, 120}[i], []int64{100, 110, 105}[i]
			two := OverloadRun{Factor: 2, Step: step(2*base, share*delivered2x, 900), AckedChecked: checked,
				PeakRSS: peak << 20, RSSMid: 100 << 20, RSSEnd: end << 20}
			if i == 2 {
				two.AckedLost, two.FirstLost = lost, `"L1.2@3" to load-u4`
			}
			runs = append(runs,
				OverloadRun{Factor: 1.5, Step: step(1.5*base, base, 900), AckedChecked: checked, PeakRSS: 100 << 20, RSSMid: 90 << 20, RSSEnd: 95 << 20},
				two)
		}
		return runs
	}
	sweeps := []Sweep{
		{Store: "memory store", Steps: []SweepStep{step(8000, 8000, 20), step(10_000, 9000, 800)}, Sustained: 8000, Base: 8000,
			Overload: overload(8000, 7600, 100, 0)},
		{Store: "SQLite", Steps: []SweepStep{step(6000, 6000, 20), step(8000, 7000, 800)}, Sustained: 6000, Base: 6000,
			Overload: overload(6000, 4000, 100, 2)},
		{Store: "journal store", Steps: []SweepStep{step(7400, 7400, 20), step(8400, 7000, 800)}, Sustained: 7400, Base: 7400,
			Overload: overload(7400, 7000, 100, 0)},
	}
	figs := map[string]Figure{}
	for _, f := range SweepFigures(sweeps, SweepConfig{}) {
		figs[f.Name] = f
	}
	met := func(name string, value float64, want bool) {
		t.Helper()
		f, ok := figs[name]
		require.True(t, ok, "no figure %q among %v", name, figs)
		require.InDelta(t, value, f.Value, 1e-9, name)
		require.Equal(t, want, f.Met, name)
	}
	met("sustained push rate, memory store", 8000, true)
	met("sustained push rate, SQLite ÷ memory store", 0.75, false)
	met("sustained push rate, journal store", 7400, true)
	met("sustained push rate, journal ÷ memory store", 7400.0/8000, true)
	require.Equal(t, "≥ 0.9", figs["sustained push rate, SQLite ÷ memory store"].Goal)
	require.Equal(t, "≥ 0.9", figs["sustained push rate, journal ÷ memory store"].Goal)
	met("  journal store: delivered at 2× ÷ sustained", 7000.0/7400, true)
	met("  journal store: acknowledged messages lost in overload", 0, true)
	met("  journal store: delivered at 2× sustained", 7000, true)
	met("  journal store: relay peak RSS in overload", 130, true)
	met("  memory store: delivered at 2× ÷ sustained", 0.95, true)
	met("  SQLite: delivered at 2× ÷ sustained", 4000.0/6000, false)
	met("  memory store: acknowledged messages lost in overload", 0, true)
	met("  SQLite: acknowledged messages lost in overload", 2, false)
	met("  memory store: delivered at 2× sustained", 7600, true)
	met("  memory store: relay peak RSS in overload", 130, true)
	met("  memory store: relay RSS at the end ÷ halfway, 2× runs", 1.1, true)
	require.Contains(t, figs["  memory store: delivered at 2× sustained"].Note,
		"the median of 3 runs, 10s of sending each, at 2× sustained: 16000 msg/s offered → 3800 pushes/s, p50 0 ms, p99 900 ms")
	require.Contains(t, figs["  memory store: acknowledged messages lost in overload"].Note, "600 sends acknowledged")
	require.Contains(t, figs["  SQLite: acknowledged messages lost in overload"].Note, `"L1.2@3" to load-u4`)
	require.Contains(t, figs["sustained push rate, memory store"].Note, "8000 ✓ (8000/s, p99 20 ms) · 10000 ✗ (9000/s, p99 800 ms)")
	require.Contains(t, figs["sustained push rate, journal store"].Note, "7400 ✓ (7400/s, p99 20 ms) · 8400 ✗ (7000/s, p99 800 ms)")
	require.Contains(t, figs["  journal store: acknowledged messages lost in overload"].Note, "600 sends acknowledged")
	_, ok := figs["sustained push rate, journal store ÷ memory store"]
	require.False(t, ok, "the journal store's ratio is named for it in short, as SQLite's is")

	// Nothing looked for is no proof of nothing lost; nothing sustained is no overload passed.
	none := []Sweep{{Store: "memory store", Steps: []SweepStep{step(2000, 100, 5000)}, Base: 2000, Overload: overload(2000, 2000, 0, 0)}}
	for _, f := range SweepFigures(none, SweepConfig{}) {
		switch f.Name {
		case "sustained push rate, memory store", "  memory store: delivered at 2× ÷ sustained", "  memory store: acknowledged messages lost in overload":
			require.False(t, f.Met, f.Name)
		}
		if f.Name == "  memory store: delivered at 2× ÷ sustained" {
			require.Contains(t, f.Note, "none sustained", "the ratio's note does not claim a sustained rate")
			require.Contains(t, f.Note, "the first step's 2000 msg/s")
		}
	}
	require.Contains(t, figs["  memory store: delivered at 2× ÷ sustained"].Note, "over the rate sustained")
}

// Each durable store's ratio to the memory store's sustained rate meets its goal at 0.9× and
// above, not below it, and not when the memory store sustained nothing to divide by.
func TestDurableStoreRatiosAgainstTheirGoal(t *testing.T) {
	for _, tc := range []struct {
		memory, durable float64
		ratio           float64
		met             bool
	}{
		{8000, 7200, 0.9, true},
		{8000, 8800, 1.1, true},
		{8000, 7199, 7199.0 / 8000, false},
		{8000, 0, 0, false},
		{0, 7200, 0, false},
	} {
		sweeps := []Sweep{
			{Store: "memory store", Sustained: tc.memory, Base: max(tc.memory, 2000)},
			{Store: "SQLite", Sustained: tc.durable, Base: max(tc.durable, 2000)},
			{Store: "journal store", Sustained: tc.durable, Base: max(tc.durable, 2000)},
		}
		figs := map[string]Figure{}
		for _, f := range SweepFigures(sweeps, SweepConfig{}) {
			figs[f.Name] = f
		}
		for _, name := range []string{"sustained push rate, SQLite ÷ memory store", "sustained push rate, journal ÷ memory store"} {
			f, ok := figs[name]
			require.True(t, ok, "no figure %q", name)
			require.InDelta(t, tc.ratio, f.Value, 1e-9, "%s, %v ÷ %v", name, tc.durable, tc.memory)
			require.Equal(t, tc.met, f.Met, "%s, %v ÷ %v", name, tc.durable, tc.memory)
		}
	}
}

// Each swept store starts the relay on its own store: the memory store on memory, SQLite on a
// file (neither other flag), the journal store on a journal; each run's load is one RunLive
// takes.
func TestEachSweptStoreStartsItsOwnStore(t *testing.T) {
	want := map[string][2]bool{"memory store": {true, false}, "SQLite": {false, false}, "journal store": {false, true}}
	got := map[string][2]bool{}
	for _, st := range sweepStores {
		c := st.loadConfig(SweepConfig{Devices: 5000, Senders: 300, RelayBin: "bin/relay"}, 4000, 5*time.Second, true)
		require.NoError(t, c.Validate(), st.name)
		require.Equal(t, load.Config{Devices: 5000, Senders: 300, Rate: 4000, Duration: 5 * time.Second, KillRatio: 1, RelayBin: "bin/relay",
			MemoryStore: c.MemoryStore, JournalStore: c.JournalStore, CheckAcked: true, Seed: 1}, c, st.name)
		got[st.name] = [2]bool{c.MemoryStore, c.JournalStore}
		found, ok := storeNamed(st.name)
		require.True(t, ok)
		require.Equal(t, st, found)
	}
	require.Equal(t, want, got)
	require.Equal(t, "memory store", sweepStores[0].name, "the store the others' ratios divide by runs first")
}

// A step's CPU figures: the relay's CPU over the pushes in µs, the cores each process used, and
// the one-core capacity that cost implies.
func TestAStepsCPUFigures(t *testing.T) {
	s := stepCPU(step(4000, 4000, 10), load.CPUUse{Wall: 5 * time.Second, Relay: 2 * time.Second, Bench: 7 * time.Second}, 20_000)
	require.InDelta(t, 100, s.RelayCPUPerPushUs, 1e-9)
	require.InDelta(t, 0.4, s.RelayCores, 1e-9)
	require.InDelta(t, 1.4, s.BenchCores, 1e-9)
	require.InDelta(t, 10_000, s.OneCoreCapacity(), 1e-6)
	require.Zero(t, stepCPU(step(4000, 0, 0), load.CPUUse{}, 0).OneCoreCapacity(), "not measured")

	// The figure is the cost at the sustained rate.
	sw := Sweep{Store: "memory store", Base: 4000, Steps: []SweepStep{{Offered: 2000, RelayCPUPerPushUs: 120}, {Offered: 4000, RelayCPUPerPushUs: 90}}}
	f := cpuFigure(sw)
	require.InDelta(t, 90, f.Value, 1e-9)
	require.Contains(t, f.Note, "11111 pushes/s")
}

// RunSweeps steps every store's rate, then makes its rounds: every store at 1.5× its base rate
// (acknowledged sends looked for), every store at the base rate itself (the round's baseline,
// nothing looked for), every store at 2×. Each store's baseline runs are kept in round order.
func TestSweepRoundsRunABaselineBeforeTwiceTheRate(t *testing.T) {
	capacity := map[string]float64{"memory store": 4000, "SQLite": 2000, "journal store": 4000}
	type call struct {
		store  string
		rate   float64
		window time.Duration
		check  bool
	}
	var calls []call
	fake := func(_ context.Context, c load.Config) (load.Result, error) {
		st := "SQLite"
		if c.MemoryStore {
			st = "memory store"
		} else if c.JournalStore {
			st = "journal store"
		}
		calls = append(calls, call{st, c.Rate, c.Duration, c.CheckAcked})
		res := load.Result{}
		res.PushesPerSecond, res.PushLatencyMs.P99 = c.Rate, 10
		if c.Rate > capacity[st] {
			res.PushesPerSecond, res.PushLatencyMs.P99 = capacity[st], 900
		}
		if c.Duration == 2*time.Second {
			// Each run of the rounds delivers a rate of its own, so that a run's result can be
			// told from every other's.
			res.PushesPerSecond -= float64(len(calls))
		}
		return res, nil
	}
	cfg := SweepConfig{Plan: SweepPlan{From: 2000, Step: 2000, Max: 6000}, Window: time.Second, OverloadRuns: 2, runLoad: fake}
	sweeps, err := RunSweeps(context.Background(), cfg)
	require.NoError(t, err)

	var rounds []call
	for _, c := range calls {
		if c.window == 2*time.Second {
			rounds = append(rounds, c)
		}
	}
	var want []call
	for range 2 {
		for _, f := range []float64{1.5, 1, 2} {
			for _, st := range []string{"memory store", "SQLite", "journal store"} {
				want = append(want, call{st, f * capacity[st], 2 * time.Second, f != 1})
			}
		}
	}
	require.Empty(t, cmp.Diff(want, rounds, cmp.AllowUnexported(call{})), "the rounds' runs, in order")
	// The run made for store k in round r at factor f: its place among all the calls.
	callOf := func(k, r, f int) int { return len(calls) - len(rounds) + r*9 + f*3 + k + 1 }
	for k, s := range sweeps {
		require.Len(t, s.Baseline, 2, s.Store)
		for r, b := range s.Baseline {
			require.Equal(t, capacity[s.Store], b.Offered, s.Store)
			require.Equal(t, capacity[s.Store]-float64(callOf(k, r, 1)), b.Pushes, "%s: round %d's baseline keeps what its run measured", s.Store, r+1)
		}
		require.Len(t, s.Overload, 4, "the baseline runs are not overload runs: %s", s.Store)
		require.Equal(t, capacity[s.Store]-float64(callOf(k, 1, 2)), s.Overload[3].Step.Pushes, "%s: the last 2× run", s.Store)
	}
}

// The same-round figure divides each round's 2× run by that round's baseline run and reports
// the median of those ratios, listing every round; without baseline runs it is not reported.
func TestTwiceTheRateAgainstTheSameRoundsBaseline(t *testing.T) {
	s := Sweep{Store: "memory store", Steps: []SweepStep{step(6000, 6000, 20), step(8000, 5000, 900)}, Sustained: 6000, Base: 6000,
		Overload: []OverloadRun{
			{Factor: 1.5, Step: step(9000, 5000, 900), AckedChecked: 1},
			{Factor: 2, Step: step(12000, 4400, 900), AckedChecked: 1},
			{Factor: 1.5, Step: step(9000, 5000, 900), AckedChecked: 1},
			{Factor: 2, Step: step(12000, 4150, 900), AckedChecked: 1},
			{Factor: 1.5, Step: step(9000, 5000, 900), AckedChecked: 1},
			{Factor: 2, Step: step(12000, 5000, 900), AckedChecked: 1},
		},
		Baseline: []SweepStep{step(6000, 4400, 300), step(6000, 5700, 200), step(6000, 5000, 100)},
	}
	figs := map[string]Figure{}
	for _, f := range SweepFigures([]Sweep{s}, SweepConfig{}) {
		figs[f.Name] = f
	}
	same, ok := figs["  memory store: delivered at 2× ÷ at 1×, same rounds"]
	require.True(t, ok)
	// Rounds: 4400/4400 = 1, 4150/5700 ≈ 0.728, 5000/5000 = 1: the median is 1, where the
	// median 2× run (4,400) over the sustained 6,000 is 0.73.
	require.InDelta(t, 1, same.Value, 1e-9)
	require.InDelta(t, 4400.0/6000, figs["  memory store: delivered at 2× ÷ sustained"].Value, 1e-9)
	require.Equal(t, "–", same.Goal)
	require.True(t, same.Met)
	require.Contains(t, same.Note, "round 1: 4400 ÷ 4400 = 1.00 · round 2: 4150 ÷ 5700 = 0.73 · round 3: 5000 ÷ 5000 = 1.00")
	require.Contains(t, same.Note, "1× sustained (6000 msg/s)")

	figure := func(s Sweep) (Figure, bool) {
		for _, f := range SweepFigures([]Sweep{s}, SweepConfig{}) {
			if f.Name == same.Name {
				return f, true
			}
		}
		return Figure{}, false
	}
	s.Baseline[0].Pushes = 0
	f, ok := figure(s)
	require.True(t, ok)
	require.Contains(t, f.Note, "round 1: 4400 ÷ none delivered at 1×, left out")
	require.InDelta(t, (4150.0/5700+1)/2, f.Value, 1e-9, "a round without a baseline delivery is left out of the median")

	s.Baseline = s.Baseline[1:]
	f, ok = figure(s)
	require.True(t, ok)
	require.Contains(t, f.Note, "2 of 3 rounds with both runs")

	s.Baseline = []SweepStep{step(6000, 0, 300)}
	_, ok = figure(s)
	require.False(t, ok, "no ratio, no figure: a 0 would read as a collapse")
	s.Baseline = nil
	_, ok = figure(s)
	require.False(t, ok, "no baseline runs, no same-round figure")

	none := Sweep{Store: "memory store", Steps: []SweepStep{step(2000, 100, 5000)}, Base: 2000,
		Overload: []OverloadRun{{Factor: 2, Step: step(4000, 900, 900)}}, Baseline: []SweepStep{step(2000, 1000, 900)}}
	f, ok = figure(none)
	require.True(t, ok)
	require.Contains(t, f.Note, "1× the first step (2000 msg/s)")
	require.Contains(t, f.Note, "not a sustained rate")
	require.NotContains(t, f.Note, "the machine slowed", "without a sustained rate the reading does not hold")
}
