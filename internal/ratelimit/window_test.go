package ratelimit

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestWindowAdmitsLimitThenRefuses(t *testing.T) {
	w := MustWindow(3, time.Minute, 60)
	for i := range 3 {
		require.True(t, w.Take(epoch.Add(time.Duration(i)*time.Second)), "event %d", i)
	}
	require.False(t, w.Take(epoch.Add(10*time.Second)))
	// The first event's slot leaves the window one span after it.
	next := w.Next(epoch.Add(10 * time.Second))
	require.Equal(t, epoch.Add(time.Minute+time.Second), next)
	require.False(t, w.Allow(next.Add(-time.Nanosecond)))
	require.True(t, w.Take(next))
}

// TestNewWindowRefusesBadArguments: a limit below one, a span the slots do not divide, or more
// slots than a window holds are refused, each naming what is wrong; MaxSlots itself is taken.
func TestNewWindowRefusesBadArguments(t *testing.T) {
	_, err := NewWindow(0, time.Minute, 60)
	require.ErrorContains(t, err, "at least 1")
	_, err = NewWindow(5, 7*time.Nanosecond, 60)
	require.ErrorContains(t, err, "divisible")
	_, err = NewWindow(5, time.Minute, MaxSlots+1)
	require.ErrorContains(t, err, "window of 61 slots: at most 60")
	w, err := NewWindow(5, time.Minute, MaxSlots)
	require.NoError(t, err)
	require.Equal(t, time.Minute, w.Span())
}

// TestWindowInitInPlace: Init on a window in use refuses bad arguments and leaves the window as
// it was, and takes good ones by emptying it.
func TestWindowInitInPlace(t *testing.T) {
	w := MustWindow(5, time.Minute, MaxSlots)
	require.True(t, w.Take(epoch))
	require.ErrorContains(t, w.Init(0, time.Hour, 60), "at least 1")
	require.Equal(t, time.Minute, w.Span())
	require.Equal(t, 1, w.Count(epoch))
	require.NoError(t, w.Init(2, time.Hour, 6))
	require.Equal(t, time.Hour, w.Span())
	require.Equal(t, 2, w.Limit())
	require.Zero(t, w.Count(epoch))
}

// TestMustInitPanicsOnlyOnAnError: a limiter built from validated settings that fails anyway is
// a bug, said with what failed; one that does not fail goes on.
func TestMustInitPanicsOnlyOnAnError(t *testing.T) {
	var w Window
	require.NotPanics(t, func() { MustInit(w.Init(1, time.Minute, 60)) })
	require.PanicsWithValue(t, "limiter from validated settings: window limit 0: must be at least 1",
		func() { MustInit(w.Init(0, time.Minute, 60)) })
}

// TestPropertyWindowBound checks the contract against a brute-force count: whatever the event
// times, no interval of length Span holds more than Limit admitted events, and Next names the
// first instant at which an event is admitted again.
func TestPropertyWindowBound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		limit := rapid.IntRange(1, 8).Draw(t, "limit")
		slots := rapid.IntRange(1, MaxSlots).Draw(t, "slots")
		span := time.Duration(slots) * time.Second
		w := MustWindow(limit, span, slots)
		now := epoch
		var admitted []time.Time
		for range rapid.IntRange(1, 60).Draw(t, "events") {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(span)).Draw(t, "gap")))
			if next := w.Next(now); next.After(now) {
				if w.Allow(now) {
					t.Fatalf("Next(%v) = %v but Allow is already true", now, next)
				}
				if probe := clone(w); !probe.Allow(next) {
					t.Fatalf("Allow(Next) false at %v", next)
				}
			}
			if w.Take(now) {
				admitted = append(admitted, now)
			}
			for i, end := range admitted {
				n := 0
				for _, e := range admitted[:i+1] {
					if end.Sub(e) < span {
						n++
					}
				}
				if n > limit {
					t.Fatalf("%d events within %v ending %v, limit %d", n, span, end, limit)
				}
			}
		}
	})
}

// clone copies w so that a test can look ahead in time without moving w forward (a Window holds
// its counts in itself, so a copy shares nothing with it).
func clone(w *Window) *Window {
	c := *w
	return &c
}

func TestWindowWorksBefore1970(t *testing.T) {
	w := MustWindow(2, time.Minute, 60)
	for _, at := range []time.Time{time.Unix(-1000, 0), time.Unix(-999, 0)} {
		require.True(t, w.Take(at))
	}
	require.False(t, w.Take(time.Unix(-998, 0)))
	require.True(t, w.Take(time.Unix(-900, 0)))
}

// A window restored from its State answers as the original would, at any later time.
func TestPropertyWindowStateRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		limit := rapid.IntRange(1, 8).Draw(t, "limit")
		w := MustWindow(limit, time.Minute, 60)
		now := epoch
		for range rapid.IntRange(0, 30).Draw(t, "events") {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(20*time.Second)).Draw(t, "gap")))
			w.Take(now)
		}
		r := MustWindow(limit, time.Minute, 60)
		r.Restore(w.State())
		for range 5 {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(40*time.Second)).Draw(t, "later")))
			if w.Next(now) != r.Next(now) || w.Count(now) != r.Count(now) {
				t.Fatalf("at %v: original next %v count %d, restored next %v count %d", now, w.Next(now), w.Count(now), r.Next(now), r.Count(now))
			}
			if w.Take(now) != r.Take(now) {
				t.Fatalf("at %v the two windows disagree on admitting", now)
			}
		}
	})
}

func TestBucketStateRoundTrips(t *testing.T) {
	b := MustBucket(2, time.Minute)
	require.True(t, b.Take(epoch))
	require.True(t, b.Take(epoch))
	r := MustBucket(2, time.Minute)
	r.Restore(b.State())
	require.Equal(t, b.Next(epoch), r.Next(epoch))
	require.False(t, r.Allow(epoch.Add(59*time.Second)))
	require.True(t, r.Allow(epoch.Add(time.Minute)))
}

// CountAt answers what Count would at any later time, and leaves the window as it was.
func TestPropertyWindowCountAtDoesNotMove(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		limit := rapid.IntRange(1, 8).Draw(t, "limit")
		w := MustWindow(limit, time.Minute, 60)
		now := epoch
		for range rapid.IntRange(0, 30).Draw(t, "events") {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(20*time.Second)).Draw(t, "gap")))
			w.Take(now)
		}
		before := w.State()
		at := now.Add(time.Duration(rapid.Int64Range(-int64(10*time.Second), int64(90*time.Second)).Draw(t, "at")))
		got := w.CountAt(at)
		if diff := cmp.Diff(before, w.State()); diff != "" {
			t.Fatalf("CountAt moved the window (-before +after):\n%s", diff)
		}
		if want := w.Count(at); got != want {
			t.Fatalf("at %v: CountAt %d, Count %d", at, got, want)
		}
	})
}
