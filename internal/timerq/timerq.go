// Package timerq is the deterministic timer queue the cores and the simulator schedule with:
// items come out in time order, and items due at the same time in the order they were pushed.
// It reads no clock; callers pass the time. Cancelling is the caller's business (a generation
// number in the item, checked when it comes out), which keeps the queue a plain heap.
package timerq

import (
	"container/heap"
	"time"
)

// Queue holds items due at given times. The zero value is ready to use.
type Queue[T any] struct {
	h   entries[T]
	seq uint64
}

type entry[T any] struct {
	at  time.Time
	seq uint64
	v   T
}

type entries[T any] []entry[T]

func (h entries[T]) Len() int { return len(h) }
func (h entries[T]) Less(i, j int) bool {
	if c := h[i].at.Compare(h[j].at); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h entries[T]) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *entries[T]) Push(x any)   { *h = append(*h, x.(entry[T])) }
func (h *entries[T]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = entry[T]{}
	*h = old[:len(old)-1]
	return e
}

// Push schedules v at time at.
func (q *Queue[T]) Push(at time.Time, v T) {
	q.seq++
	heap.Push(&q.h, entry[T]{at: at, seq: q.seq, v: v})
}

// Len reports how many items are queued.
func (q *Queue[T]) Len() int { return len(q.h) }

// Peek returns the earliest item and its time without removing it.
func (q *Queue[T]) Peek() (time.Time, T, bool) {
	if len(q.h) == 0 {
		var zero T
		return time.Time{}, zero, false
	}
	return q.h[0].at, q.h[0].v, true
}

// Pop removes and returns the earliest item.
func (q *Queue[T]) Pop() (time.Time, T, bool) {
	if len(q.h) == 0 {
		var zero T
		return time.Time{}, zero, false
	}
	e := heap.Pop(&q.h).(entry[T])
	return e.at, e.v, true
}

// PopDue removes and returns the earliest item if it is due at or before now.
func (q *Queue[T]) PopDue(now time.Time) (time.Time, T, bool) {
	if len(q.h) == 0 || q.h[0].at.After(now) {
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
	heap.Init(&q.h)
}
