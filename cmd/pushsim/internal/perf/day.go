package perf

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/pushlab/pushlab/internal/hugeheap"
	"github.com/pushlab/pushlab/internal/proccpu"
	"github.com/pushlab/pushlab/internal/procmem"
	"github.com/pushlab/pushlab/sim"
)

// DayMemoryLimit is the soft memory limit of the day runs: with GOGC 400 alone, the heap of a
// day of 100,000 phones would grow to five times what it keeps live.
const DayMemoryLimit = 8 << 30

// DayInTheLifeFigures runs the simulator's day in the life over 24 virtual hours for 10,000,
// 30,000 and 100,000 phones and reports its wall time (goals: 10,000 phones ≤ 8 s, 100,000
// ≤ 90 s), the wall time per phone, the live heap the day leaves, the process's peak RSS during
// the run and what the heap got of transparent huge pages. The collector runs less often during
// the runs (GOGC 400: a simulation is a batch job), up to a soft memory limit (DayMemoryLimit)
// that only the biggest day reaches. The big days are bound by memory latency, so before the
// runs the heap is marked for huge pages up to that limit where the machine leaves them to the
// program (hugeheap.Reserve; GODEBUG=disablethp=1 opts out), and the mark is taken off after
// them, so that the benches run after the day in the same process fault their memory in as
// before; a mark that could not be taken off is a figure of its own, not met, beside the day's.
func DayInTheLifeFigures() (figs []Figure, err error) {
	// Before the soft limit: the stretch is one live allocation for a moment.
	heap := hugeheap.Reserve(DayMemoryLimit)
	defer func() {
		if rerr := heap.Release(); rerr != nil && err == nil {
			figs = append(figs, Figure{Name: "  heap's huge-page mark taken off after the day", Value: 0, Unit: "", Goal: "taken off", Met: false,
				Note: rerr.Error() + "; what the bench runs next in this process may fault its memory in on huge pages"})
		}
	}()
	old := debug.SetGCPercent(400)
	defer debug.SetGCPercent(old)
	oldLimit := debug.SetMemoryLimit(DayMemoryLimit)
	defer debug.SetMemoryLimit(oldLimit)
	// The 10,000 phones (three runs, the median reported) and two larger days, so that
	// a reader sees whether the cost per phone stays flat as the day grows.
	sizes := []struct{ Devices, Runs int }{{10_000, 3}, {30_000, 1}, {100_000, 1}}
	for _, size := range sizes {
		var walls []float64
		var res sim.DayResult
		var peak uint64
		var used proccpu.Usage // the last run's
		for range size.Runs {
			resetPeakRSS()
			before, beforeErr := proccpu.SelfUsage()
			r, err := sim.RunDay(sim.DayConfig{Seed: 1, Devices: size.Devices, MeasureHeap: true}, time.Now)
			if err != nil {
				return nil, fmt.Errorf("%d phones: %w", size.Devices, err)
			}
			used = proccpu.Usage{} // unknown unless read on both sides: the note then leaves it out
			if after, err := proccpu.SelfUsage(); err == nil && beforeErr == nil {
				used = after.Sub(before)
			}
			peak = max(peak, peakRSS())
			walls = append(walls, r.Wall.Seconds())
			res = r
		}
		wall := Median(walls)
		perPhone := wall / float64(size.Devices) * 1e6
		runs := "one run"
		if size.Runs > 1 {
			runs = fmt.Sprintf("median of %d runs (%s s)", size.Runs, joinFloats(walls))
		}
		name := fmt.Sprintf("virtual day in the life, %s phones × 24 h", thousands(size.Devices))
		goal, met := "–", true
		switch size.Devices {
		case 10_000:
			goal, met = "≤ 8", wall <= 8
		case 100_000:
			goal, met = "≤ 90", wall <= 90
		}
		mem := fmt.Sprintf("live heap after %d MB", res.LiveHeap>>20)
		if peak > 0 {
			mem += fmt.Sprintf(", peak RSS %d MB", peak>>20)
		}
		if note := hugePageNote(heap, hugeheap.Backed); note != "" {
			mem += ", " + note
		}
		if note := usageNote(used); note != "" {
			mem += "; " + note
		}
		figs = append(figs,
			Figure{Name: name, Value: wall, Unit: "s wall", Goal: goal, Met: met,
				Note: fmt.Sprintf("%d events, %d messages, %d pushes; %s; %s", res.Events, res.Sent, res.Pushes, runs, mem)},
			Figure{Name: "  wall time per phone", Value: perPhone, Unit: "µs", Goal: "flat", Met: true},
		)
		if size.Devices == 10_000 {
			figs = append(figs,
				Figure{Name: "  simulator events per second", Value: float64(res.Events) / wall, Unit: "/s", Goal: "–", Met: true},
				Figure{Name: "  virtual time ÷ wall time", Value: res.Virtual.Seconds() / wall, Unit: "×", Goal: "–", Met: true})
		}
	}
	return figs, nil
}

func joinFloats(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strings.Join(parts, ", ")
}

// thousands writes n with comma separators (100000 → "100,000").
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// usageNote says what a run used, beside its wall time: the kernel's share is mostly the page
// faults of the heap the day grows, which the machine's huge-page mode and its other tenants
// move. Empty when nothing was measured.
func usageNote(u proccpu.Usage) string {
	if u == (proccpu.Usage{}) {
		return ""
	}
	return fmt.Sprintf("last run's CPU %.1f s user + %.1f s system (the collector's, on other cores, included), %s page faults",
		u.User.Seconds(), u.System.Seconds(), thousands(int(u.MinorFaults)))
}

// resetPeakRSS resets the process's peak RSS (Linux; elsewhere, or if refused, nothing).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is the process's peak RSS since the last reset (Linux's VmHWM), or 0 if unknown.
func peakRSS() uint64 {
	n, err := procmem.Status(0, "VmHWM")
	if err != nil {
		return 0
	}
	return uint64(n)
}

// hugePageNote says what the heap got of transparent huge pages: the machine's mode, what
// hugeheap.Reserve did, and how much memory sat on huge pages after the run (backed, read
// then). Empty where the machine says nothing of them.
func hugePageNote(heap hugeheap.Result, backed func() (uint64, error)) string {
	if heap.Mode == "" {
		return ""
	}
	note := fmt.Sprintf("transparent huge pages %s (%s", heap.Mode, heap)
	if b, err := backed(); err == nil {
		note += fmt.Sprintf("; %s MB on them after the run", thousands(int(b>>20)))
	}
	return note + ")"
}
