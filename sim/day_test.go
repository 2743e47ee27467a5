package sim

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestDayInTheLifeSmall runs a small day and checks it did what a day does.
func TestDayInTheLifeSmall(t *testing.T) {
	res, err := RunDay(DayConfig{Seed: 1, Devices: 200, Duration: 4 * time.Hour, MeasureHeap: true}, time.Now)
	require.NoError(t, err)
	require.Equal(t, 200, res.Devices)
	require.Positive(t, res.LiveHeap, "the live heap is measured")
	require.Greater(t, res.Sent, 200*40, "most messages are sent (a few fall on a closed app)")
	require.Greater(t, res.Pushes, res.Sent/3, "recipients are mostly killed: most messages become pushes")
	require.Greater(t, res.Received, res.Pushes*9/10, "and most pushes arrive")
}

// TestDayStepIsSixteenBytes: the day's plan holds every phone's actions all day long, so a step
// stays small (a time.Time alone is 24 bytes), and gives back the phone and kind it packs.
func TestDayStepIsSixteenBytes(t *testing.T) {
	require.Equal(t, uintptr(16), unsafe.Sizeof(step{}))
	s := step{who: (maxDayPhones-1)<<2 | uint32(actKill)}
	require.Equal(t, uint32(maxDayPhones-1), s.phone())
	require.Equal(t, actKill, s.kind())
}

// TestDayRefusesAPhoneCountItCannotPlan: a count past what a step holds, or below zero, is an
// error naming the range, before anything is built.
func TestDayRefusesAPhoneCountItCannotPlan(t *testing.T) {
	for _, n := range []int{-1, maxDayPhones + 1} {
		_, err := RunDay(DayConfig{Devices: n}, time.Now)
		require.ErrorContains(t, err, fmt.Sprintf("a day of %d phones: give 1 to %d", n, maxDayPhones))
	}
}

// BenchmarkDayInTheLife is the figure: 10,000 phones over 24 virtual hours, with the live
// heap the day leaves (its garbage collection is outside the wall time).
func BenchmarkDayInTheLife(b *testing.B) {
	for b.Loop() {
		res, err := RunDay(DayConfig{Seed: 1, MeasureHeap: true}, time.Now)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.Wall.Seconds(), "wall-s")
		b.ReportMetric(res.EventsPerSecond(), "events/s")
		b.ReportMetric(res.Speedup(), "x-realtime")
		b.ReportMetric(float64(res.LiveHeap)/(1<<20), "live-MB")
	}
}

// TestDayIsTheSameWarmedOrNot: the plan's warming (dayPlan.warm, and the cores' hints it calls)
// changes nothing a day does: event for event, the same log.
func TestDayIsTheSameWarmedOrNot(t *testing.T) {
	day := func(cold bool) DayResult {
		res, err := RunDay(DayConfig{Seed: 3, Devices: 120, Duration: 6 * time.Hour, cold: cold, tune: func(c *VirtualConfig) { c.Log = true }}, time.Now)
		require.NoError(t, err)
		res.Wall = 0
		return res
	}
	warm, cold := day(false), day(true)
	require.NotZero(t, warm.logHash)
	require.Positive(t, warm.Pushes)
	require.Equal(t, cold, warm)
}
