package fakefcm

import (
	"cmp"
	"slices"
	"time"

	"github.com/pushlab/pushlab/internal/duration"
)

// Offline queue limits (FCM.md, "Throttles and delivery").
const (
	// MaxPendingNonCollapsible is how many messages without a collapse key FCM keeps for an
	// offline device; when one more arrives it discards the stored ones and tells the device.
	// (A connected device's backlog behind a throttle is not limited.)
	MaxPendingNonCollapsible = 100
	// MaxCollapseKeys is how many collapse keys FCM keeps per device; the oldest goes first.
	MaxCollapseKeys = 4
)

// entry is an accepted message on its way to one device. It carries what its delivery needs;
// rec, the record that follows its fate, is nil in a counting core (Config.CountsOnly).
type entry struct {
	rec         *Record
	seq         int64   // its record's Seq: acceptance order
	dev         *device // the device it goes to
	msg         *RemoteMessage
	expires     time.Time // when the TTL runs out (for ttl=0, the acceptance time)
	ttlZero     bool      // delivered now or never
	collapsible bool      // subject to the collapsible burst throttle
	counted     bool      // already counted against the device's throttles
	dispatched  bool      // handed to the device, awaiting its ack
	sent        bool      // dispatched at least once: an ack may come for it
	gen         uint64    // bumped whenever the entry moves, to cancel its timers
	throttledAt time.Time // when a throttle first held it back; zero if none
}

// enqueue takes an accepted message for a device: a ttl=0 message goes now or never, outside the
// queue; any other joins the pending queue under FCM's queue rules, and the queue is flushed.
func (c *Core) enqueue(d *device, e *entry, now time.Time) {
	if e.ttlZero {
		if d.reachable() && c.admit(d, e, now) {
			c.startDispatch(d, e, now)
		} else {
			c.drop(e, now, FateTTLExpired)
		}
		return
	}
	d.pending = append(d.pending, e)
	c.setTimer(e.expires, timerExpire, e, nil)
	c.applyQueueRules(d, now)
	c.flush(d, now)
}

// applyQueueRules enforces FCM's rules on a pending queue in acceptance order: the newest message
// of a collapse key replaces older ones; at most four collapse keys are kept, the oldest going
// first; and an offline device keeps at most 100 messages without a collapse key — past that the
// stored ones are discarded and the device is told when it connects.
func (c *Core) applyQueueRules(d *device, now time.Time) {
	var seen keySet
	for i := len(d.pending) - 1; i >= 0; i-- {
		e := d.pending[i]
		if k := e.msg.CollapseKey; k != "" {
			if seen.has(k) {
				c.drop(e, now, FateCollapsed)
				d.pending = slices.Delete(d.pending, i, i+1)
				continue
			}
			seen.add(k)
		}
	}
	for keys := seen.len(); keys > MaxCollapseKeys; keys-- {
		i := slices.IndexFunc(d.pending, func(e *entry) bool { return e.msg.CollapseKey != "" })
		c.drop(d.pending[i], now, FateCollapseKeyLimit)
		d.pending = slices.Delete(d.pending, i, i+1)
	}
	if d.reachable() {
		return
	}
	plain := 0
	for _, e := range d.pending {
		if e.msg.CollapseKey == "" {
			plain++
		}
	}
	if plain <= MaxPendingNonCollapsible {
		return
	}
	var last *entry // the newest one stays: it is not past the limit itself
	for _, e := range slices.Backward(d.pending) {
		if e.msg.CollapseKey == "" {
			last = e
			break
		}
	}
	d.pending = slices.DeleteFunc(d.pending, func(e *entry) bool {
		if e.msg.CollapseKey == "" && e != last {
			c.drop(e, now, FateTooManyPending)
			return true
		}
		return false
	})
	d.deleted = true
}

// keySet is a set of collapse keys. A queue holds a few (the rules keep four), so they are
// looked for in a short array, on the caller's stack, until there are more than it holds: a map
// for every message queued would cost more than the search.
type keySet struct {
	n    int
	few  [2 * MaxCollapseKeys]string
	many map[string]bool // all the keys, once few is full
}

func (s *keySet) has(k string) bool {
	if s.many != nil {
		return s.many[k]
	}
	return slices.Contains(s.few[:s.n], k)
}

func (s *keySet) add(k string) {
	switch {
	case s.many != nil:
		s.many[k] = true
	case s.n < len(s.few):
		s.few[s.n] = k
		s.n++
	default:
		s.many = make(map[string]bool, 2*s.n)
		for _, f := range s.few {
			s.many[f] = true
		}
		s.many[k] = true
	}
}

func (s *keySet) len() int {
	if s.many != nil {
		return len(s.many)
	}
	return s.n
}

// admit counts a message against the device's throttles in delay mode and reports whether it may
// leave now. (In reject mode Send counted it already.)
func (c *Core) admit(d *device, e *entry, now time.Time) bool {
	if e.counted || c.behaviour.Throttles.Mode != ThrottleDelay {
		return true
	}
	l := c.deviceLimits(d)
	if l.check(e, now).held() {
		return false
	}
	l.take(e, now)
	e.counted = true
	return true
}

// flush moves pending messages towards a connected device as far as the throttles allow, and
// schedules itself for when the first hold lets go. Order is kept within each kind of message: a
// message a per-device window holds keeps every message behind it until the window reopens; one
// the collapsible bucket holds keeps only the collapsible messages behind it until the bucket
// refills, so a data message does not wait behind a held notification. A message both hold waits
// for the later of the two, and each hold keeps its own scope behind it.
func (c *Core) flush(d *device, now time.Time) {
	if !d.reachable() {
		return
	}
	delay := c.behaviour.Throttles.Mode == ThrottleDelay
	// What stays, kept in the queue's own array for its next messages.
	rest := d.pending[:0]
	var behind holds // what the held messages so far keep back behind them
	for _, e := range d.pending {
		if e.expired(now) {
			c.drop(e, now, FateTTLExpired)
			continue
		}
		ahead := behind.on(e)
		if ahead.held() {
			if delay && !e.counted && e.throttledAt.IsZero() {
				// Its own limits may hold it longer than those ahead do: name the longest.
				ahead = ahead.and(c.deviceLimits(d).check(e, now))
			}
			c.markThrottled(e, ahead.binding().reason, now)
			rest = append(rest, e)
			continue
		}
		if delay && !e.counted {
			l := c.deviceLimits(d)
			if h := l.check(e, now); h.held() {
				behind = behind.and(h)
				c.markThrottled(e, h.binding().reason, now)
				rest = append(rest, e)
				continue
			}
			l.take(e, now)
			e.counted = true
		}
		c.startDispatch(d, e, now)
	}
	clear(d.pending[len(rest):])
	d.pending = rest
	if wake, ok := behind.next(); ok && len(rest) > 0 {
		c.scheduleFlush(d, wake)
	}
}

// markThrottled notes, once per message, that a throttle is holding it back.
func (c *Core) markThrottled(e *entry, reason string, now time.Time) {
	if !e.throttledAt.IsZero() || reason == "" {
		return
	}
	e.throttledAt = now
	if e.rec != nil {
		e.rec.Throttle = reason
	}
	bump(&c.stats.Throttled, reason)
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
	r := e.rec
	if !e.throttledAt.IsZero() {
		if r != nil {
			r.ThrottledFor += duration.Of(now.Sub(e.throttledAt))
		}
		e.throttledAt = time.Time{}
	}
	e.gen++ // cancels the expiry timer while it travels; dispatch checks the TTL again
	delay := c.behaviour.Latency.D() + c.jitter(c.behaviour.Jitter.D())
	if e.msg.Priority != "high" {
		delay += c.behaviour.NormalPriorityDelay.D()
	}
	at := laterOf(now.Add(delay), d.lastDispatch)
	d.lastDispatch = at
	d.outgoing = append(d.outgoing, e)
	if r != nil {
		r.Fate = FateInFlight
	}
	if at.After(now) {
		c.setTimer(at, timerDispatch, e, nil)
		return
	}
	c.dispatch(e, now)
}

// dispatch hands an entry to the device channel, unless its TTL ran out on the way.
func (c *Core) dispatch(e *entry, now time.Time) {
	d := e.dev
	if !e.ttlZero && e.expired(now) {
		d.outgoing = slices.DeleteFunc(d.outgoing, func(o *entry) bool { return o == e })
		c.drop(e, now, FateTTLExpired)
		return
	}
	e.dispatched, e.sent = true, true
	e.gen++
	if e.rec != nil {
		e.rec.Attempts++
		e.rec.DispatchedAt = now
	}
	c.outbox = append(c.outbox, Delivery{Token: d.token, Kind: DeliverMessage, Message: e.msg})
}

// expire drops a pending entry whose TTL ran out.
func (c *Core) expire(e *entry, now time.Time) {
	d := e.dev
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
	if e.rec != nil {
		e.rec.Fate, e.rec.FateAt = fate, now
	}
	bump(&c.stats.Dropped, fate)
}

// requeue puts the device's outgoing messages back into its pending queue, in acceptance order,
// and applies the queue rules again (a reconnecting phone gets one message per collapse key).
// They keep their place in the throttles: they were counted when they first left. A ttl=0
// message that did not arrive is lost: it was now or never.
func (c *Core) requeue(d *device, now time.Time) {
	for _, e := range d.outgoing {
		e.gen++ // cancels its dispatch timer
		e.dispatched = false
		if e.ttlZero {
			c.drop(e, now, FateTTLExpired)
			continue
		}
		if e.rec != nil {
			e.rec.Fate = FatePending
		}
		c.setTimer(e.expires, timerExpire, e, nil)
		d.pending = append(d.pending, e)
	}
	d.outgoing = nil
	slices.SortStableFunc(d.pending, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
	c.applyQueueRules(d, now)
}
