// Package ratelimit holds the deterministic sliding-window limiter that fakefcm's throttles and
// the relay's frequency caps are built from. Nothing here reads a clock: every call takes the
// time, so the same inputs give the same answers in virtual and in real time.
package ratelimit

import (
	"fmt"
	"time"
)

// DefaultSlots is the number of sub-intervals a Window counts in when the caller has no reason
// to choose another number. It equals MaxSlots today; a default must not exceed it.
const DefaultSlots = 60

// MaxSlots is the most sub-intervals a Window counts in: it keeps their counts in itself, so
// that a window and its counts lie together in memory (the relay checks a device's windows at
// every push, and at 100,000 devices each object apart is a cache miss).
const MaxSlots = 60

// Window admits at most Limit events in any interval of length Span.
//
// It counts events in slots of Span/slots each and judges conservatively: an event at time t is
// admitted only if fewer than Limit events fall in the slots that overlap [t-Span, t]. So the
// bound holds exactly for every interval of length Span, at the price of refilling up to one
// slot later than an exact sliding log would. It keeps an int32 per slot in itself (room for
// MaxSlots, whatever slots and Limit are).
//
// Times passed to a Window must not go backwards; an earlier time is treated as the latest one
// seen. The zero Window is not usable: build one with NewWindow, or Init one in place.
type Window struct {
	limit int
	span  time.Duration
	slot  time.Duration
	ring  [MaxSlots + 1]int32 // ring[:slots+1] over slot indices [head-slots, head]
	n     int                 // the ring's length: slots+1 (the slot of t-span overlaps the window too)
	head  int64               // index of the newest slot held (time / slot)
	sum   int                 // sum of counts
}

// NewWindow returns a Window that admits at most limit events in any span. slots is the number
// of sub-intervals span is cut into (DefaultSlots when zero or negative, at most MaxSlots); span
// must be a whole multiple of slots nanoseconds.
func NewWindow(limit int, span time.Duration, slots int) (*Window, error) {
	w := new(Window)
	if err := w.Init(limit, span, slots); err != nil {
		return nil, err
	}
	return w, nil
}

// Init makes w an empty window as NewWindow describes, in place: for a window kept inside the
// struct it belongs with rather than in an object of its own. On an error w is left unchanged.
func (w *Window) Init(limit int, span time.Duration, slots int) error {
	if slots <= 0 {
		slots = DefaultSlots
	}
	if limit <= 0 {
		return fmt.Errorf("window limit %d: must be at least 1", limit)
	}
	if slots > MaxSlots {
		return fmt.Errorf("window of %d slots: at most %d", slots, MaxSlots)
	}
	if span <= 0 || span%time.Duration(slots) != 0 {
		return fmt.Errorf("window span %v: must be positive and divisible into %d slots", span, slots)
	}
	*w = Window{limit: limit, span: span, slot: span / time.Duration(slots), n: slots + 1, head: -1 << 62}
	return nil
}

// MustWindow is NewWindow for limits fixed in code; it panics on arguments NewWindow refuses.
func MustWindow(limit int, span time.Duration, slots int) *Window {
	w, err := NewWindow(limit, span, slots)
	if err != nil {
		panic(err)
	}
	return w
}

// MustInit panics on err, an error of Window.Init or Bucket.Init (or several, joined) on settings
// that were validated when they were set: such an error is a bug, not bad input.
func MustInit(err error) {
	if err != nil {
		panic(fmt.Sprintf("limiter from validated settings: %v", err))
	}
}

// Limit reports the most events the window admits in any Span.
func (w *Window) Limit() int { return w.limit }

// Span reports the length of the window.
func (w *Window) Span() time.Duration { return w.span }

// advance moves the ring forward so that its newest slot is the slot of t, forgetting slots
// that no longer overlap the window.
func (w *Window) advance(t time.Time) {
	idx := floorDiv(t.UnixNano(), int64(w.slot))
	if idx <= w.head {
		return
	}
	n := int64(w.n)
	if idx-w.head >= n {
		clear(w.ring[:w.n])
		w.sum = 0
	} else {
		for i := w.head + 1; i <= idx; i++ {
			c := &w.ring[mod(i, n)]
			w.sum -= int(*c)
			*c = 0
		}
	}
	w.head = idx
}

// Count reports how many events the window holds at time t (the conservative count that
// Allow compares with the limit).
func (w *Window) Count(t time.Time) int {
	w.advance(t)
	return w.sum
}

// CountAt is Count without moving the window: what Count would answer at t, for observers that
// must not change the limiter (a t before the newest slot is taken as that slot).
func (w *Window) CountAt(t time.Time) int {
	idx := floorDiv(t.UnixNano(), int64(w.slot))
	if idx <= w.head {
		return w.sum
	}
	n := int64(w.n)
	if idx-w.head >= n {
		return 0
	}
	sum := w.sum
	for i := w.head + 1; i <= idx; i++ {
		sum -= int(w.ring[mod(i, n)])
	}
	return sum
}

// Allow reports whether an event at time t would be admitted, without recording it.
func (w *Window) Allow(t time.Time) bool {
	return w.Count(t) < w.limit
}

// Take records an event at time t if the window admits it and reports whether it did.
func (w *Window) Take(t time.Time) bool {
	if !w.Allow(t) {
		return false
	}
	w.ring[mod(w.head, int64(w.n))]++
	w.sum++
	return true
}

// Next returns the earliest time at or after t at which Allow would be true.
func (w *Window) Next(t time.Time) time.Time {
	w.advance(t)
	if w.sum < w.limit {
		return t
	}
	// Drop the oldest slots one by one until the count falls under the limit.
	n := int64(w.n)
	sum := w.sum
	for i := w.head - n + 1; i <= w.head; i++ {
		sum -= int(w.ring[mod(i, n)])
		if sum < w.limit {
			// Slot i leaves the window once the newest slot is i+n.
			return time.Unix(0, (i+n)*int64(w.slot)).UTC()
		}
	}
	return time.Unix(0, (w.head+n)*int64(w.slot)).UTC()
}

// mod is the modulo that is never negative, for slot indices of times before 1970.
func mod(i, n int64) int64 { return ((i % n) + n) % n }

// floorDiv divides rounding towards minus infinity, so that slots keep their length before 1970.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// WindowState is what a Window has counted, for persisting it: the newest slot and the slots
// that hold events (by absolute index, time / slot length).
type WindowState struct {
	Head  int64       `json:"head"`
	Slots []SlotCount `json:"slots,omitempty"`
}

// SlotCount is the number of events in one slot.
type SlotCount struct {
	Index int64 `json:"i"`
	Count int32 `json:"n"`
}

// State returns what the window has counted.
func (w *Window) State() WindowState {
	s := WindowState{Head: w.head}
	n := int64(w.n)
	for i := w.head - n + 1; i <= w.head; i++ {
		if c := w.ring[mod(i, n)]; c > 0 {
			s.Slots = append(s.Slots, SlotCount{Index: i, Count: c})
		}
	}
	return s
}

// Restore replaces the window's counts with a State (of a window with the same span and
// slots); slots outside its reach are ignored.
func (w *Window) Restore(s WindowState) {
	clear(w.ring[:w.n])
	w.sum, w.head = 0, s.Head
	n := int64(w.n)
	for _, sc := range s.Slots {
		if sc.Index > s.Head-n && sc.Index <= s.Head && sc.Count > 0 {
			w.ring[mod(sc.Index, n)] += sc.Count
			w.sum += int(sc.Count)
		}
	}
}
