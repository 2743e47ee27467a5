package fakefcm

import (
	"slices"
	"time"

	"github.com/pushlab/pushlab/internal/duration"
)

// Offline queue limits (FCM.md, "Throttles and delivery").
const (
	// MaxPendingNonCollapsible is how many messages without a collapse key FCM keeps for an
	// offline device; when one more arrives it discards them and tells the device. (A connected
	// device's backlog behind a throttle is not limited.)
	MaxPendingNonCollapsible = 100
	// MaxCollapseKeys is how many collapse keys FCM keeps per device; the oldest goes first.
	MaxCollapseKeys = 4
)

// entry is an accepted message on its way to one device.
type entry struct {
	record      int // index into Core.records
	msg         *RemoteMessage
	expires     time.Time // when the TTL runs out (for ttl=0, the acceptance time)
	ttlZero     bool      // delivered now or never
	collapsible bool      // subject to the collapsible burst throttle
	dispatched  bool      // handed to the device, awaiting its ack
	gen         uint64    // bumped whenever the entry moves, to cancel its timers
	throttledAt time.Time // when a throttle first held it back; zero if none
}

// enqueue adds an accepted message to the device's pending queue, applying FCM's queue rules, and
// flushes the queue.
func (c *Core) enqueue(d *device, e *entry, now time.Time) {
	if key := e.msg.CollapseKey; key != "" {
		// A newer message with the same collapse key replaces the pending one.
		if i := slices.IndexFunc(d.pending, func(p *entry) bool { return p.msg.CollapseKey == key }); i >= 0 {
			c.drop(d.pending[i], now, FateCollapsed)
			d.pending = slices.Delete(d.pending, i, i+1)
		} else if keys := pendingKeys(d.pending); len(keys) >= MaxCollapseKeys {
			// Only four collapse keys are kept; the oldest one's message goes.
			i := slices.IndexFunc(d.pending, func(p *entry) bool { return p.msg.CollapseKey == keys[0] })
			c.drop(d.pending[i], now, FateCollapseKeyLimit)
			d.pending = slices.Delete(d.pending, i, i+1)
		}
	} else if !d.reachable() && countNonCollapsible(d.pending) >= MaxPendingNonCollapsible {
		// Too many stored messages: FCM discards them all and the app hears of it on connection.
		d.pending = slices.DeleteFunc(d.pending, func(p *entry) bool {
			if p.msg.CollapseKey == "" {
				c.drop(p, now, FateTooManyPending)
				return true
			}
			return false
		})
		c.tellDeleted(d)
	}
	d.pending = append(d.pending, e)
	if !e.ttlZero {
		c.setTimer(e.expires, timerExpire, e, nil)
	}
	c.flush(d, now)
	if e.ttlZero {
		// Now or never: if it could not leave at once (a throttled message is ahead), never.
		if i := slices.Index(d.pending, e); i >= 0 {
			d.pending = slices.Delete(d.pending, i, i+1)
			c.drop(e, now, FateTTLExpired)
		}
	}
}

// tellDeleted lets the device know that messages were discarded: at once if it is reachable,
// otherwise when it next connects.
func (c *Core) tellDeleted(d *device) {
	if d.reachable() {
		c.outbox = append(c.outbox, Delivery{Token: d.token, Kind: DeliverDeleted})
		return
	}
	d.deleted = true
}

// reachable reports whether messages can flow to the device now (throttles aside).
func (d *device) reachable() bool { return d.connected && !d.forceStopped && d.registered }

// pendingKeys lists the collapse keys in the queue, oldest first.
func pendingKeys(q []*entry) []string {
	var keys []string
	for _, e := range q {
		if k := e.msg.CollapseKey; k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func countNonCollapsible(q []*entry) int {
	n := 0
	for _, e := range q {
		if e.msg.CollapseKey == "" {
			n++
		}
	}
	return n
}

// flush moves pending messages towards a connected device for as long as the throttles allow, and
// schedules itself for when a throttle reopens.
func (c *Core) flush(d *device, now time.Time) {
	if !d.reachable() {
		return
	}
	for len(d.pending) > 0 {
		e := d.pending[0]
		if e.expired(now) {
			c.drop(e, now, FateTTLExpired)
			d.pending = d.pending[1:]
			continue
		}
		if c.behaviour.Throttles.Mode == ThrottleDelay {
			if reason, until := c.deviceLimits(d).check(e, now); reason != "" {
				if e.ttlZero {
					// Now or never: a throttled ttl=0 message is never.
					c.drop(e, now, FateTTLExpired)
					d.pending = d.pending[1:]
					continue
				}
				// The queue is delivered in order, so everything behind the head waits too.
				for _, held := range d.pending {
					if held.throttledAt.IsZero() {
						held.throttledAt = now
						bump(&c.stats.Throttled, reason)
						c.records[held.record].Throttle = reason
					}
				}
				c.scheduleFlush(d, until)
				return
			}
			c.deviceLimits(d).take(e, now)
		}
		d.pending = d.pending[1:]
		c.startDispatch(d, e, now)
	}
}

func (c *Core) scheduleFlush(d *device, at time.Time) {
	if !d.flushAt.IsZero() && !d.flushAt.After(at) {
		return
	}
	c.cancelFlush(d)
	d.flushAt = at
	c.setTimer(at, timerFlush, nil, d)
}

// startDispatch schedules an entry to leave for the device after the delivery latency.
func (c *Core) startDispatch(d *device, e *entry, now time.Time) {
	r := &c.records[e.record]
	if !e.throttledAt.IsZero() {
		r.ThrottledFor += duration.Of(now.Sub(e.throttledAt))
		e.throttledAt = time.Time{}
	}
	e.gen++ // cancels the expiry timer: once dispatched, a message is no longer held
	delay := c.behaviour.Latency.D() + c.jitter(c.behaviour.Jitter.D())
	if e.msg.Priority != "high" {
		delay += c.behaviour.NormalPriorityDelay.D()
	}
	at := laterOf(now.Add(delay), d.lastDispatch)
	d.lastDispatch = at
	d.outgoing = append(d.outgoing, e)
	r.Fate = FateInFlight
	if at.After(now) {
		c.setTimer(at, timerDispatch, e, nil)
		return
	}
	c.dispatch(e, now)
}

// dispatch hands an entry to the device channel.
func (c *Core) dispatch(e *entry, now time.Time) {
	r := &c.records[e.record]
	d := c.devices[r.Token]
	e.dispatched = true
	e.gen++
	r.Attempts++
	r.DispatchedAt = now
	c.outbox = append(c.outbox, Delivery{Token: d.token, Kind: DeliverMessage, Message: e.msg})
}

// expire drops a pending entry whose TTL ran out.
func (c *Core) expire(e *entry, now time.Time) {
	d := c.devices[c.records[e.record].Token]
	i := slices.Index(d.pending, e)
	if i < 0 {
		return
	}
	d.pending = slices.Delete(d.pending, i, i+1)
	c.drop(e, now, FateTTLExpired)
}

func (e *entry) expired(now time.Time) bool {
	if e.ttlZero {
		return now.After(e.expires)
	}
	return !now.Before(e.expires)
}

// drop ends an entry's journey with the given fate.
func (c *Core) drop(e *entry, now time.Time, fate Fate) {
	e.gen++
	r := &c.records[e.record]
	r.Fate, r.FateAt = fate, now
	bump(&c.stats.Dropped, fate)
}
