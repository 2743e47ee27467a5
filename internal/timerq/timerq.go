// Package timerq is the deterministic timer queue the cores and the simulator schedule with:
// items come out in time order, and items due at the same time in the order they were pushed.
// It reads no clock; callers pass the time. Cancelling is the caller's business (a generation
// number in the item, checked when it comes out), which keeps the queue a plain heap.
//
// The heap is written out for its element type rather than through container/heap: the simulator
// runs millions of events through it, and interface calls and whole-element swaps were a third of
// its time. Times are kept as Unix nanoseconds, which also keeps the elements small.
package timerq

import (
	"math"
	"time"
)

// Queue holds items due at given times. The zero value is ready to use.
type Queue[T any] struct {
	h   []entry[T]
	seq uint64
}

type entry[T any] struct {
	at  int64 // Unix nanoseconds
	seq uint64
	v   T
}

func (e *entry[T]) before(o *entry[T]) bool {
	return e.at < o.at || (e.at == o.at && e.seq < o.seq)
}

// Push schedules v at time at. Times outside the years 1678 to 2262 (such as the zero time,
// meaning "as soon as possible") are clamped to the nearest end of that range.
func (q *Queue[T]) Push(at time.Time, v T) {
	q.seq++
	q.pushEntry(entry[T]{at: Nanos(at), seq: q.seq, v: v})
}

// pushEntry adds e to the heap.
func (q *Queue[T]) pushEntry(e entry[T]) {
	q.h = append(q.h, e)
	q.up(len(q.h) - 1)
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// Nanos is t in Unix nanoseconds, clamped to what an int64 holds.
func Nanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// Len reports how many items are queued.
func (q *Queue[T]) Len() int { return len(q.h) }

// Peek returns the earliest item and its time without removing it.
func (q *Queue[T]) Peek() (time.Time, T, bool) {
	if len(q.h) == 0 {
		var zero T
		return time.Time{}, zero, false
	}
	return time.Unix(0, q.h[0].at).UTC(), q.h[0].v, true
}

// Pop removes and returns the earliest item.
func (q *Queue[T]) Pop() (time.Time, T, bool) {
	if len(q.h) == 0 {
		var zero T
		return time.Time{}, zero, false
	}
	top := q.popEntry()
	return time.Unix(0, top.at).UTC(), top.v, true
}

// popEntry removes and returns the heap's first entry; the heap is not empty.
func (q *Queue[T]) popEntry() entry[T] {
	top := q.h[0]
	n := len(q.h) - 1
	last := q.h[n]
	q.h[n] = entry[T]{}
	q.h = q.h[:n]
	if n > 0 {
		q.down(last)
	}
	return top
}

// PopDue removes and returns the earliest item if it is due at or before now.
func (q *Queue[T]) PopDue(now time.Time) (time.Time, T, bool) {
	if len(q.h) == 0 || q.h[0].at > Nanos(now) {
		var zero T
		return time.Time{}, zero, false
	}
	return q.Pop()
}

// Filter keeps only the items for which keep is true, for sweeping out cancelled items.
func (q *Queue[T]) Filter(keep func(T) bool) {
	kept := q.h[:0]
	for _, e := range q.h {
		if keep(e.v) {
			kept = append(kept, e)
		}
	}
	clear(q.h[len(kept):])
	q.h = kept
	for i := len(q.h)/2 - 1; i >= 0; i-- {
		e := q.h[i]
		q.siftDown(i, e)
	}
}

// up moves the element at i towards the root, shifting parents down into the hole.
func (q *Queue[T]) up(i int) {
	e := q.h[i]
	for i > 0 {
		p := (i - 1) / 2
		if !e.before(&q.h[p]) {
			break
		}
		q.h[i] = q.h[p]
		i = p
	}
	q.h[i] = e
}

// down places e, taken from the end, into the hole at the root.
func (q *Queue[T]) down(e entry[T]) { q.siftDown(0, e) }

func (q *Queue[T]) siftDown(i int, e entry[T]) {
	n := len(q.h)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && q.h[r].before(&q.h[c]) {
			c = r
		}
		if !q.h[c].before(&e) {
			break
		}
		q.h[i] = q.h[c]
		i = c
	}
	q.h[i] = e
}
