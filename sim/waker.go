package sim

import "time"

// waker ticks a core at its next wake-up: it keeps one engine event pending for the earliest
// wake-up asked for, and an event it has since superseded (or that reset forgot) does nothing.
//
// Its events are timers of its own, reused once they have run: a core is woken after most of
// its inputs, and a closure per wake-up was an allocation per message.
type waker struct {
	at   time.Time // the pending wake-up; zero if none
	cur  *vtimer   // the pending wake-up's event; nil if none
	free []*vtimer // events that have run, for the next wake-ups
}

// arm makes sure fire runs at at, unless an earlier wake-up is already pending.
func (k *waker) arm(eng *Engine, at time.Time, fire func()) {
	if !k.at.IsZero() && !at.Before(k.at) {
		return
	}
	if k.cur != nil {
		k.cur.cancelled = true // superseded: it stays queued, and does nothing when it runs
	}
	var t *vtimer
	if n := len(k.free); n > 0 {
		t, k.free = k.free[n-1], k.free[:n-1]
	} else {
		t = &vtimer{waker: k}
	}
	t.fn, t.cancelled = fire, false
	k.at, k.cur = at, t
	eng.push(at, t)
}

// fired runs one of the waker's events: the pending wake-up's, or one superseded.
func (k *waker) fired(t *vtimer) {
	k.free = append(k.free, t)
	if t.cancelled {
		return
	}
	k.at, k.cur = time.Time{}, nil
	t.fn()
}

// reset forgets the pending wake-up (the core it was for is gone).
func (k *waker) reset() {
	k.at = time.Time{}
	if k.cur != nil {
		k.cur.cancelled = true
		k.cur = nil
	}
}
