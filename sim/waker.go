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
