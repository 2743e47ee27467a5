package sim

import "time"

// waker ticks a core at its next wake-up: it keeps one engine event pending for the earliest
// wake-up asked for, and an event it has since superseded (or that reset forgot) does nothing.
type waker struct {
	at  time.Time // the pending wake-up; zero if none
	gen uint64
}

// arm makes sure fire runs at at, unless an earlier wake-up is already pending.
func (k *waker) arm(eng *Engine, at time.Time, fire func()) {
	if !k.at.IsZero() && !at.Before(k.at) {
		return
	}
	k.at = at
	k.gen++
	gen := k.gen
	eng.At(at, func() {
		if gen != k.gen {
			return
		}
		k.at = time.Time{}
		fire()
	})
}

// reset forgets the pending wake-up (the core it was for is gone).
func (k *waker) reset() {
	k.at = time.Time{}
	k.gen++
}

// lane is one direction of an app connection: the frames on their way, oldest first. A
// connection is a TCP stream, so a frame never arrives before the one sent ahead of it, whatever
// the jitter. The event that delivers a frame carries no copy of it (a day in the life sends
// millions): it takes the oldest from the queue.
type lane[T any] struct {
	q       []T
	last    time.Time // the latest arrival scheduled
	deliver func()    // takes the oldest frame and hands it on (built once per lane)
}

// after schedules fn one crossing (delay) from now, never before the lane's latest arrival.
func (l *lane[T]) after(eng *Engine, delay time.Duration, fn func()) {
	at := eng.Now().Add(delay)
	if at.Before(l.last) {
		at = l.last
	}
	l.last = at
	eng.At(at, fn)
}

// send queues f and schedules its arrival, where to receives it.
func (l *lane[T]) send(eng *Engine, delay time.Duration, f T, to func(T)) {
	l.q = append(l.q, f)
	if l.deliver == nil {
		l.deliver = func() {
			var zero T
			f := l.q[0]
			l.q[0] = zero
			l.q = l.q[1:]
			to(f)
		}
	}
	l.after(eng, delay, l.deliver)
}
