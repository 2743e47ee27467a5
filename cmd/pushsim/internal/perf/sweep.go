package perf

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pushlab/pushlab/cmd/pushsim/internal/load"
)

// The sustained rate's bar: a step sustains its offered rate when the pushes delivered per
// second reach this share of it and the kill→push p99 stays under this latency.
const (
	sustainShare = 0.98
	sustainP99Ms = 250
)

// SweepPlan is how the offered rate is stepped: From, then From+Step, and so on up to Max.
type SweepPlan struct {
	From, Step, Max float64
}

// SweepStep is what one run at an offered rate measured.
type SweepStep struct {
	Offered float64 `json:"offered"` // messages per second offered
	Pushes  float64 `json:"pushes"`  // pushes delivered per second
	P50Ms   float64 `json:"p50Ms"`
	P99Ms   float64 `json:"p99Ms"`
	Busy    int     `json:"busy"`
	Unsent  int     `json:"unsent"` // messages the senders still held at the end (load.Result.Unsent)
	Errors  int     `json:"errors"`
	// RelayCPUPerPushUs is the relay process's CPU time (user + system) from the start of the
	// sending to the end of the drain, in microseconds, over the pushes delivered; RelayCores
	// and BenchCores are the cores' worth of CPU the relay and the bench process (load generator,
	// fakefcm and its device channels) used over that stretch. Zero where not measured.
	RelayCPUPerPushUs      float64 `json:"relayCpuPerPushUs"`
	RelayCores, BenchCores float64 `json:"-"`
}

// stepCPU fills in a step's CPU figures from what its run measured.
func stepCPU(s SweepStep, cpu load.CPUUse, pushes int) SweepStep {
	s.RelayCPUPerPushUs = cpu.RelayPerPushUs(pushes)
	s.RelayCores, s.BenchCores = cpu.Cores(cpu.Relay), cpu.Cores(cpu.Bench)
	return s
}

// OneCoreCapacity is the pushes per second one core of the relay's would deliver at the step's
// CPU cost per push, nothing else on it; 0 when not measured.
func (s SweepStep) OneCoreCapacity() float64 {
	return load.OneCoreCapacity(time.Duration(s.RelayCPUPerPushUs * float64(time.Microsecond)))
}

// Sustains reports whether the step kept up with its offered rate: pushes per second at least
// 0.98× the offered rate and a kill→push p99 of at most 250 ms.
func (s SweepStep) Sustains() bool {
	return s.Offered > 0 && s.Pushes >= sustainShare*s.Offered && s.P99Ms <= sustainP99Ms
}

// Next is the offered rate of the step after steps, or false when the sweep is over. The rate
// steps up by Step while each step sustains its rate, up to Max; after the first step that does
// not, steps halfway between the highest rate sustained and the lowest not sustained narrow the
// answer until they are at most an eighth of a step apart (250 msg/s for steps of 2,000), and the
// sweep ends. (One half step, as before, left a sustained rate of 7,000 or 8,000 against a memory
// store's 8,000: 0.875 or 1, never the 0.9 a goal asks about.)
func (p SweepPlan) Next(steps []SweepStep) (float64, bool) {
	if len(steps) == 0 {
		return p.From, p.From > 0 && p.From <= p.Max
	}
	ceiling := math.Inf(1)
	for _, s := range steps {
		if !s.Sustains() {
			ceiling = min(ceiling, s.Offered)
		}
	}
	if math.IsInf(ceiling, 1) {
		next := steps[len(steps)-1].Offered + p.Step
		return next, p.Step > 0 && next <= p.Max
	}
	floor, ok := Sustained(steps)
	if !ok || ceiling-floor <= p.Step/8 {
		return 0, false
	}
	return (floor + ceiling) / 2, true
}

// Sustained is the highest offered rate a step sustained below the lowest rate a step did not
// sustain; false when none did.
func Sustained(steps []SweepStep) (float64, bool) {
	ceiling := math.Inf(1)
	for _, s := range steps {
		if !s.Sustains() {
			ceiling = min(ceiling, s.Offered)
		}
	}
	best, ok := 0.0, false
	for _, s := range steps {
		if s.Sustains() && s.Offered < ceiling && s.Offered > best {
			best, ok = s.Offered, true
		}
	}
	return best, ok
}

// overloadFactors are the multiples of the sustained rate the overload runs offer.
var overloadFactors = [...]float64{1.5, 2}

// roundFactors are the multiples of the base rate each overload round offers every store, in
// order: 1.5×, then the base rate itself (the baseline, Sweep.Baseline), then 2×.
var roundFactors = [...]float64{overloadFactors[0], 1, overloadFactors[1]}

// OverloadBase is the rate the overload rounds are multiples of (roundFactors): the sustained
// rate, or the plan's first step when no step sustained its rate (the relay is past its capacity
// from the start; the overload is measured against that step).
func (p SweepPlan) OverloadBase(steps []SweepStep) float64 {
	if base, ok := Sustained(steps); ok {
		return base
	}
	return p.From
}

// SweepConfig sizes the offered-rate sweeps.
type SweepConfig struct {
	RelayBin string
	// Plan is the steps' offered rates (default 2,000 msg/s, then 4,000, … up to 20,000).
	Plan SweepPlan
	// Window is how long each step sends (default 5 s); the overload runs send twice as long,
	// so that their memory is read halfway and at the end of a longer stretch.
	Window time.Duration
	// Devices are the killed phones (default 5,000); Senders the connections sending (default 300).
	Devices, Senders int
	// OverloadRuns is how many times each store is offered each multiple of its sustained rate
	// (default 3, the rounds interleaved): a run's delivered rate moves with the machine's state
	// from one minute to the next (6,462 to 7,733 /s in one bench's three runs at 16,000
	// offered), so the figures are the runs' medians.
	OverloadRuns int
	// Progress, if set, is told of each run as it ends, in a line.
	Progress func(string)
	// runLoad makes one run (load.RunLive unless a test sets it).
	runLoad func(context.Context, load.Config) (load.Result, error)
}

func (c *SweepConfig) defaults() {
	if c.Plan == (SweepPlan{}) {
		c.Plan = SweepPlan{From: 2000, Step: 2000, Max: 20_000}
	}
	if c.Window == 0 {
		c.Window = 5 * time.Second
	}
	if c.Devices == 0 {
		c.Devices = 5000
	}
	if c.Senders == 0 {
		c.Senders = 300
	}
	if c.OverloadRuns == 0 {
		c.OverloadRuns = 3
	}
	if c.runLoad == nil {
		c.runLoad = load.RunLive
	}
}

// OverloadRun is one run past the sustained rate.
type OverloadRun struct {
	Factor float64 // of the base rate
	Step   SweepStep
	// Acknowledged sends looked for afterwards among their recipients' stored messages, and how
	// many of them were missing (FirstLost names the first).
	AckedChecked, AckedLost int
	FirstLost               string
	// The relay's peak resident memory over the run, and its resident memory halfway through
	// the sending and at its end, in bytes.
	PeakRSS, RSSMid, RSSEnd int64
}

// Sweep is one store's sweep: its steps, the sustained rate, and the runs past it (each factor's
// runs in the order they ran).
type Sweep struct {
	Store     string // a sweepStore's name: "memory store", "SQLite" or "journal store"
	Steps     []SweepStep
	Sustained float64
	// Base is the rate the overload runs multiply: Sustained, or the first step's rate when no
	// step sustained its rate.
	Base     float64
	Overload []OverloadRun
	// Baseline holds the runs at Base itself, one a round, made between the round's 1.5× and 2×
	// runs: what the relay delivers at the rate it sustained, on the machine as it is minutes
	// after the sweep, so that each 2× run has a run of its own round to be compared with.
	Baseline []SweepStep
}

// sweepStore is a store of the relay's that the sweep measures.
type sweepStore struct {
	// name names the store in its figures ("sustained push rate, SQLite") and in Sweep.Store;
	// short names it in its ratio to the memory store's rate ("SQLite ÷ memory store").
	name, short string
	// memory and journal start the relay on its in-memory store or its journal store
	// (load.Config's MemoryStore and JournalStore); neither starts it on SQLite.
	memory, journal bool
}

// sweepStores are the stores swept, in the order each round runs them. The first, the memory
// store, is the pipeline without a durable store's cost: each durable store's sustained rate is
// also reported as a share of the memory store's.
var sweepStores = [...]sweepStore{
	{name: "memory store", short: "memory store", memory: true},
	{name: "SQLite", short: "SQLite"},
	{name: "journal store", short: "journal", journal: true},
}

// loadConfig is one run's load on the store: rate messages per second for d to cfg.Devices
// killed phones, the acknowledged sends looked for afterwards when check.
func (st sweepStore) loadConfig(cfg SweepConfig, rate float64, d time.Duration, check bool) load.Config {
	return load.Config{Devices: cfg.Devices, Senders: cfg.Senders, Rate: rate, Duration: d, KillRatio: 1,
		RelayBin: cfg.RelayBin, MemoryStore: st.memory, JournalStore: st.journal, CheckAcked: check, Seed: 1}
}

// storeNamed is the swept store of that name; false when none is.
func storeNamed(name string) (sweepStore, bool) {
	for _, st := range sweepStores {
		if st.name == name {
			return st, true
		}
	}
	return sweepStore{}, false
}

// RunSweeps steps the offered rate on each of the relay's stores in sweepStores (the in-memory
// store, SQLite and the journal store), the relay in its own process and a fresh one each run,
// 5,000 killed phones (one message, one push): the stores' steps interleaved, so that all see
// the same machine, each sweep ending after its first step that does not sustain its rate. Then
// each store is offered 1.5× and 2× its sustained rate, and every send the relay acknowledged in
// those runs is looked for among its recipient's stored messages. The overload runs are made
// SweepConfig.OverloadRuns times, in rounds: each round offers every store 1.5×, then every
// store its base rate again (Sweep.Baseline), then every store 2×.
func RunSweeps(ctx context.Context, cfg SweepConfig) ([]Sweep, error) {
	if cfg.OverloadRuns < 0 {
		return nil, fmt.Errorf("overload runs %d: at least 1 (0 means 3)", cfg.OverloadRuns)
	}
	cfg.defaults()
	sweeps := make([]Sweep, len(sweepStores))
	for k, st := range sweepStores {
		sweeps[k].Store = st.name
	}
	run := func(k int, rate float64, d time.Duration, check bool) (load.Result, SweepStep, error) {
		res, err := cfg.runLoad(ctx, sweepStores[k].loadConfig(cfg, rate, d, check))
		if err != nil {
			return res, SweepStep{}, fmt.Errorf("%s at %.0f msg/s: %w", sweepStores[k].name, rate, err)
		}
		step := SweepStep{Offered: rate, Pushes: res.PushesPerSecond, P50Ms: res.PushLatencyMs.P50, P99Ms: res.PushLatencyMs.P99,
			Busy: res.Busy, Unsent: res.Unsent, Errors: res.Errors}
		return res, stepCPU(step, res.CPU, res.Pushes), nil
	}
	tell := func(format string, args ...any) {
		if cfg.Progress != nil {
			cfg.Progress(fmt.Sprintf(format, args...))
		}
	}
	for {
		ran := false
		for k := range sweeps {
			rate, more := cfg.Plan.Next(sweeps[k].Steps)
			if !more {
				continue
			}
			ran = true
			_, step, err := run(k, rate, cfg.Window, false)
			if err != nil {
				return nil, err
			}
			sweeps[k].Steps = append(sweeps[k].Steps, step)
			tell("sweep, %s: %s", sweeps[k].Store, describeStep(step))
		}
		if !ran {
			break
		}
	}
	for k := range sweeps {
		sweeps[k].Sustained, _ = Sustained(sweeps[k].Steps)
		sweeps[k].Base = cfg.Plan.OverloadBase(sweeps[k].Steps)
	}
	for round := range cfg.OverloadRuns {
		for _, f := range roundFactors {
			for k := range sweeps {
				baseline := f == 1 // nothing looked for afterwards: not an overload run
				res, step, err := run(k, f*sweeps[k].Base, 2*cfg.Window, !baseline)
				if err != nil {
					return nil, err
				}
				if baseline {
					sweeps[k].Baseline = append(sweeps[k].Baseline, step)
					tell("baseline 1×, %s, run %d of %d: %s", sweeps[k].Store, round+1, cfg.OverloadRuns, describeStep(step))
					continue
				}
				o := OverloadRun{Factor: f, Step: step, AckedChecked: res.AckedChecked, AckedLost: res.AckedLost, FirstLost: res.FirstLost,
					PeakRSS: res.RelayPeakRSS, RSSMid: res.RelayRSSMid, RSSEnd: res.RelayRSSEnd}
				sweeps[k].Overload = append(sweeps[k].Overload, o)
				tell("overload %.1f×, %s, run %d of %d: %s; %d acknowledged, %d lost; peak RSS %.0f MiB", f, sweeps[k].Store,
					round+1, cfg.OverloadRuns, describeStep(step), o.AckedChecked, o.AckedLost, mib(o.PeakRSS))
			}
		}
	}
	return sweeps, nil
}

// describeStep says what a step measured, in a few words.
func describeStep(s SweepStep) string {
	verdict := "sustains"
	if !s.Sustains() {
		verdict = "does not sustain"
	}
	return fmt.Sprintf("%s; relay %.0f µs CPU a push, cores: relay %.2f, bench %.2f: %s",
		deliveries(s), s.RelayCPUPerPushUs, s.RelayCores, s.BenchCores, verdict)
}

// deliveries says what a step offered and delivered, and what it refused or never sent.
func deliveries(s SweepStep) string {
	return fmt.Sprintf("%.0f msg/s offered → %.0f pushes/s, p50 %.0f ms, p99 %.0f ms, %d busy, %d unsent, %d errors",
		s.Offered, s.Pushes, s.P50Ms, s.P99Ms, s.Busy, s.Unsent, s.Errors)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// SweepFigures reports each store's sustained rate against its goal (the memory store ≥ 8,000
// pushes/s; SQLite and the journal store each ≥ 0.9× the memory store), what the 1.5× and 2×
// runs delivered (at 2×, ≥ 0.9× the sustained rate), the acknowledged messages they lost (none),
// and the relay's memory in them.
func SweepFigures(sweeps []Sweep, cfg SweepConfig) []Figure {
	cfg.defaults()
	var figs []Figure
	sustained := map[string]float64{}
	for _, s := range sweeps {
		sustained[s.Store] = s.Sustained
		f := Figure{Name: "sustained push rate, " + s.Store, Value: s.Sustained, Unit: "/s", Goal: "–", Met: true,
			Note: fmt.Sprintf("highest offered rate with pushes ≥ %.2f× offered and kill→push p99 ≤ %d ms; %.0f killed phones, steps of %.0f msg/s, then halving the gap to the first failure down to an eighth of a step, %v each, relay in its own process: %s",
				sustainShare, sustainP99Ms, float64(cfg.Devices), cfg.Plan.Step, cfg.Window, stepsNote(s.Steps))}
		if s.Store == sweepStores[0].name {
			f.Goal, f.Met = "≥ 8000", s.Sustained >= 8000
		}
		figs = append(figs, f, cpuFigure(s))
		if s.Store != sweepStores[0].name {
			mem := sustained[sweepStores[0].name]
			ratio := 0.0
			if mem > 0 {
				ratio = s.Sustained / mem
			}
			short := s.Store
			if st, ok := storeNamed(s.Store); ok {
				short = st.short
			}
			figs = append(figs, Figure{Name: "sustained push rate, " + short + " ÷ " + sweepStores[0].short, Value: ratio, Unit: "×",
				Goal: "≥ 0.9", Met: ratio >= 0.9, Note: "the stores' sweeps interleaved, step by step"})
		}
		figs = append(figs, overloadFigures(s, cfg)...)
	}
	return figs
}

// cpuFigure reports the relay's CPU time per push at the store's sustained rate (the first step's
// when none sustained), a figure of the relay's own work that the share of the machine the load
// generator takes does not move, and the one-core capacity it implies.
func cpuFigure(s Sweep) Figure {
	var at SweepStep
	for _, st := range s.Steps {
		if st.Offered == s.Base {
			at = st
			break
		}
	}
	var per []string
	for _, st := range s.Steps {
		per = append(per, fmt.Sprintf("%.0f: %.0f µs, relay %.2f + bench %.2f cores", st.Offered, st.RelayCPUPerPushUs, st.RelayCores, st.BenchCores))
	}
	return Figure{Name: "  " + s.Store + ": relay CPU per push", Value: at.RelayCPUPerPushUs, Unit: "µs", Goal: "–", Met: true,
		Note: fmt.Sprintf("at %.0f msg/s: one core's capacity at this cost %.0f pushes/s; the relay process's user+system CPU (/proc/<pid>/stat) from the start of the sending to the end of the drain (a second with no push), over the pushes delivered; per step: %s",
			at.Offered, at.OneCoreCapacity(), strings.Join(per, " · "))}
}

// overloadFigures reports one store's runs past its sustained rate: for each multiple, the
// median of its runs' delivered rates (the note lists every run); the acknowledged messages
// looked for and lost over all the runs; and the relay's memory at its worst run.
func overloadFigures(s Sweep, cfg SweepConfig) []Figure {
	var figs []Figure
	base, baseName := "sustained", "sustained"
	if s.Sustained == 0 {
		baseName = "the first step"
		base = fmt.Sprintf("the first step (none sustained), %.0f msg/s", s.Base)
	}
	var checked, lost int
	var firstLost string
	var peak int64
	var delivered2x, growth float64
	for _, f := range overloadFactors {
		var delivered []float64
		var runs []string
		for _, o := range s.Overload {
			if o.Factor != f {
				continue
			}
			delivered = append(delivered, o.Step.Pushes)
			runs = append(runs, deliveries(o.Step))
			checked += o.AckedChecked
			lost += o.AckedLost
			if firstLost == "" {
				firstLost = o.FirstLost
			}
			peak = max(peak, o.PeakRSS)
			if f == overloadFactors[len(overloadFactors)-1] && o.RSSMid > 0 {
				growth = max(growth, float64(o.RSSEnd)/float64(o.RSSMid))
			}
		}
		if len(delivered) == 0 {
			continue
		}
		med := Median(delivered)
		if f == overloadFactors[len(overloadFactors)-1] {
			delivered2x = med
		}
		figs = append(figs, Figure{Name: fmt.Sprintf("  %s: delivered at %g× %s", s.Store, f, baseName), Value: med,
			Unit: "/s", Goal: "–", Met: true,
			Note: fmt.Sprintf("the median of %d runs, %v of sending each, at %g× %s: %s",
				len(delivered), 2*cfg.Window, f, base, strings.Join(runs, " · "))})
	}
	ratio := 0.0
	if s.Base > 0 {
		ratio = delivered2x / s.Base
	}
	ratioNote := "the median of the 2× runs' pushes/s delivered over the rate sustained"
	if s.Sustained == 0 {
		// The figure keeps its name (a --json reader keys on it), but not its claim.
		ratioNote = fmt.Sprintf("none sustained, so not met: the median of the 2× runs' pushes/s delivered over the first step's %.0f msg/s", s.Base)
	}
	lostNote := fmt.Sprintf("%d sends acknowledged in the %s runs, each looked for by a sync as its recipient afterwards", checked, overloadList())
	if lost > 0 {
		lostNote += "; first lost: " + firstLost
	}
	figs = append(figs,
		Figure{Name: fmt.Sprintf("  %s: delivered at 2× ÷ sustained", s.Store), Value: ratio, Unit: "×", Goal: "≥ 0.9",
			Met: s.Sustained > 0 && ratio >= 0.9, Note: ratioNote})
	if f, ok := sameRoundFigure(s, baseName); ok {
		figs = append(figs, f)
	}
	figs = append(figs,
		Figure{Name: fmt.Sprintf("  %s: acknowledged messages lost in overload", s.Store), Value: float64(lost), Unit: "", Goal: "= 0",
			Met: lost == 0 && checked > 0, Note: lostNote},
		Figure{Name: fmt.Sprintf("  %s: relay peak RSS in overload", s.Store), Value: mib(peak), Unit: "MiB", Goal: "–", Met: true,
			Note: "the relay process's high-water mark (VmHWM), the largest of the " + overloadList() + " runs"},
		Figure{Name: fmt.Sprintf("  %s: relay RSS at the end ÷ halfway, 2× runs", s.Store), Value: growth, Unit: "×", Goal: "–", Met: true,
			Note: "the largest of the 2× runs; close to 1 when memory is bounded: a backlog that grows with the overload shows as growth between the two readings"})
	return figs
}

// sameRoundFigure reports the median over the rounds of each round's 2× run's delivered rate
// over its baseline run's (Sweep.Baseline): overload against the base rate on the machine of the
// same few minutes, where "2× ÷ sustained" divides by a rate found minutes before, in shorter
// steps. It carries no goal of its own; read beside that one, it tells a relay that delivers less
// when offered more (low here too) from a machine that slowed since the sweep (low there only).
// The 2× runs in s.Overload and the baseline runs are both in round order, as RunSweeps makes
// them, and are paired by it. It reports false when no round has both runs and a baseline that
// delivered: there is then no ratio to report, and a 0 would read as a collapse.
func sameRoundFigure(s Sweep, baseName string) (Figure, bool) {
	var twos []SweepStep
	for _, o := range s.Overload {
		if o.Factor == overloadFactors[len(overloadFactors)-1] {
			twos = append(twos, o.Step)
		}
	}
	var ratios []float64
	var rounds []string
	paired := min(len(twos), len(s.Baseline))
	for r := range paired {
		two, one := twos[r].Pushes, s.Baseline[r].Pushes
		if one <= 0 {
			rounds = append(rounds, fmt.Sprintf("round %d: %.0f ÷ none delivered at 1×, left out", r+1, two))
			continue
		}
		ratios = append(ratios, two/one)
		rounds = append(rounds, fmt.Sprintf("round %d: %.0f ÷ %.0f = %.2f", r+1, two, one, two/one))
	}
	if len(ratios) == 0 {
		return Figure{}, false
	}
	if rest := max(len(twos), len(s.Baseline)); rest > paired {
		rounds = append(rounds, fmt.Sprintf("%d of %d rounds with both runs", paired, rest))
	}
	reading := "; low here too: the relay delivers less offered more; low only in 2× ÷ sustained: the machine slowed since the sweep"
	if s.Sustained == 0 {
		reading = "; no step sustained its rate, so 1× is the first step's, not a sustained rate"
	}
	return Figure{Name: fmt.Sprintf("  %s: delivered at 2× ÷ at 1×, same rounds", s.Store), Value: Median(ratios), Unit: "×", Goal: "–", Met: true,
		Note: fmt.Sprintf("the median over the rounds of each 2× run's pushes/s over those of a run at 1× %s (%.0f msg/s) made earlier in the same round (%s)%s",
			baseName, s.Base, strings.Join(rounds, " · "), reading)}, true
}

// overloadList names the overload runs ("1.5× and 2×").
func overloadList() string {
	var s []string
	for _, f := range overloadFactors {
		s = append(s, fmt.Sprintf("%g×", f))
	}
	return strings.Join(s, " and ")
}

// stepsNote lists the steps briefly: "2000 ✓ (1996/s, p99 9 ms) · 4000 ✗ (3100/s, p99 2400 ms)".
func stepsNote(steps []SweepStep) string {
	var parts []string
	for _, s := range steps {
		mark := "✓"
		if !s.Sustains() {
			mark = "✗"
		}
		parts = append(parts, fmt.Sprintf("%.0f %s (%.0f/s, p99 %.0f ms)", s.Offered, mark, s.Pushes, s.P99Ms))
	}
	return strings.Join(parts, " · ")
}
