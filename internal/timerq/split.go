package timerq

import "time"

// Split is a queue kept in two heaps, for a run whose items are mostly due within moments while
// many others wait far ahead: the simulator's, where frames cross the network and pushes go to FCM
// within moments, and the phones' timers (a heartbeat, a reconnect's backoff) and a scenario's
// next steps wait seconds to hours away. In one heap every near item sifts through the levels the
// far ones fill, whose entries lie far apart in memory once the run holds many phones. Split keeps
// items due within its horizon of the present in a small heap of its own that stays in the cache,
// and the others in the far heap; it pops the earlier of the two heaps' first, and numbers the
// items across both, so the order is exactly one Queue's: time order, and items due at the same
// time in the order they were pushed.
//
// Its times are Unix nanoseconds (Nanos), as the simulator's engine keeps them.
type Split[T any] struct {
	near, far Queue[T] // their own counters unused: seq numbers the items across both
	seq       uint64
	horizon   int64
}

// NewSplit returns an empty queue that keeps items due within horizon of the present apart.
func NewSplit[T any](horizon time.Duration) Split[T] {
	return Split[T]{horizon: int64(horizon)}
}

// Push schedules v at Unix nanoseconds at; now, the present, decides the heap it waits in.
func (q *Split[T]) Push(now, at int64, v T) {
	q.seq++
	e := entry[T]{at: at, seq: q.seq, v: v}
	if at-now < q.horizon {
		q.near.pushEntry(e)
	} else {
		q.far.pushEntry(e)
	}
}

// PopDue removes and returns the earliest item, and its time, if it is due at or before
// deadline (Unix nanoseconds).
func (q *Split[T]) PopDue(deadline int64) (int64, T, bool) {
	h := &q.near
	switch {
	case len(q.near.h) == 0:
		h = &q.far
	case len(q.far.h) > 0 && q.far.h[0].before(&q.near.h[0]):
		h = &q.far
	}
	if len(h.h) == 0 || h.h[0].at > deadline {
		var zero T
		return 0, zero, false
	}
	e := h.popEntry()
	return e.at, e.v, true
}

// Len reports how many items are queued.
func (q *Split[T]) Len() int { return q.near.Len() + q.far.Len() }
