package sim

import (
	"math"
	"time"
)

// eventQueue is the engine's event queue: events come out in time order, and events due at the
// same time in the order they were pushed (the same order as internal/timerq's Queue).
//
// It keeps two heaps. Most of a long run's events are due within moments (frames crossing the
// network, pushes on their way to FCM, wake-ups), while each phone's next planned action waits
// minutes or hours away: one heap entry per phone all day long. In one heap, every near event
// sifted through the levels that the far ones fill, whose entries lie far apart in memory once
// the world holds many phones. Events due within nearHorizon of the present go to a small heap
// of their own that stays in the cache; the others to the far heap. An event popped is the
// earlier of the two heaps' first, so the order is the one heap's exactly.
type eventQueue struct {
	near, far []queued
	seq       uint64
}

// nearHorizon splits near events from far ones: longer than any network crossing, shorter than
// a phone's gap between planned actions.
const nearHorizon = int64(time.Second)

// queued is an event in the queue.
type queued struct {
	at  int64 // Unix nanoseconds
	seq uint64
	ev  event
}

func (e *queued) before(o *queued) bool {
	return e.at < o.at || (e.at == o.at && e.seq < o.seq)
}

// push queues ev at time at; now is the present, which decides the heap it goes to.
func (q *eventQueue) push(now, at int64, ev event) {
	q.seq++
	e := queued{at: at, seq: q.seq, ev: ev}
	if at-now < nearHorizon {
		q.near = heapPush(q.near, e)
	} else {
		q.far = heapPush(q.far, e)
	}
}

// popDue removes and returns the earliest event if it is due at or before deadline.
func (q *eventQueue) popDue(deadline int64) (int64, event, bool) {
	h := &q.near
	switch {
	case len(q.near) == 0:
		h = &q.far
	case len(q.far) > 0 && q.far[0].before(&q.near[0]):
		h = &q.far
	}
	if len(*h) == 0 || (*h)[0].at > deadline {
		return 0, event{}, false
	}
	var e queued
	*h, e = heapPop(*h)
	return e.at, e.ev, true
}

// len counts the events queued.
func (q *eventQueue) len() int { return len(q.near) + len(q.far) }

// heapPush adds e to the binary heap h.
func heapPush(h []queued, e queued) []queued {
	h = append(h, e)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !e.before(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
	return h
}

// heapPop removes the binary heap h's first entry and returns it.
func heapPop(h []queued) ([]queued, queued) {
	top := h[0]
	n := len(h) - 1
	last := h[n]
	h[n] = queued{}
	h = h[:n]
	if n == 0 {
		return h, top
	}
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h[r].before(&h[c]) {
			c = r
		}
		if !h[c].before(&last) {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = last
	return h, top
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// unixNanos is t in Unix nanoseconds, clamped to what an int64 holds.
func unixNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}
