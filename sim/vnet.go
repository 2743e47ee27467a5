package sim

import (
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
)

// vconn is an app connection in the virtual network.
type vconn struct {
	w         *VirtualWorld
	id        relay.ConnID
	dev       *Device
	relayOpen bool // the relay knows it (opened, not yet closed on its side)
	devClosed bool // the device closed it
	link      ConnLink
	// heardAt is when the latest ping the network answered itself left the phone
	// (LazyHeartbeats): the relay core asks for it at the connection's heartbeat deadline.
	heardAt time.Time
	// While beating, the network keeps the app's heartbeat (beatKeeper): a ping every
	// beatEvery since beatFrom, each answered at once, with no event of its own.
	beating   bool
	beatFrom  time.Time
	beatEvery time.Duration
	// up and down are the frames on their way to the relay and to the phone.
	up   lane[relay.ClientFrame]
	down lane[relay.ServerFrame]
}

// DialRelay (Env) opens an app connection through the virtual network.
func (w *VirtualWorld) DialRelay(d *Device) RelayLink {
	w.nextCon++
	c := &vconn{w: w, id: w.nextCon, dev: d}
	c.up.to, c.down.to = (*upEnd)(c), (*downEnd)(c)
	if ok, reason, wait := w.links.Dial(d); !ok {
		w.eng.After(wait, func() { d.OnRelayClosed(c, reason) })
		return c
	}
	lat := w.links.Delay(d)
	w.eng.After(lat, func() {
		if c.devClosed {
			return // the app gave up on it while it was on its way
		}
		if ok, reason, wait := w.links.Dial(d); !ok {
			// The link went down while the attempt was on its way.
			w.eng.After(wait, func() { d.OnRelayClosed(c, reason) })
			return
		}
		if err := w.openConn(c); err != nil {
			w.eng.After(w.links.Delay(d), func() { d.OnRelayClosed(c, err.Error()) })
			return
		}
		c.down.after(w.eng, w.links.Delay(d), func() {
			if !c.devClosed {
				d.OnRelayOpen(c)
			}
		})
	})
	return c
}

// openConn hands the relay a connection that reached it: the one core, or a node of the cluster
// (an error when none is up).
func (w *VirtualWorld) openConn(c *vconn) error {
	if w.cl != nil {
		return w.cl.open(c)
	}
	w.conns.put(c)
	c.relayOpen = true
	return w.step(relay.Input{Kind: relay.InputOpen, Conn: c.id}, c.dev)
}

// Send carries a frame to the relay, as the link rules say.
func (c *vconn) Send(f relay.ClientFrame) {
	if c.devClosed {
		return
	}
	switch c.w.links.Send(c.dev, &c.link) {
	case Drop:
		return
	case Reset:
		c.down.after(c.w.eng, c.w.links.Delay(c.dev), func() {
			if !c.devClosed {
				c.devClosed = true
				c.dev.OnRelayClosed(c, "connection reset by the relay")
			}
		})
		return
	}
	if f.Op == relay.OpPing && c.relayOpen {
		// A heartbeat only moves the connection's deadline, 90 s or so away: it is applied when
		// sent rather than a latency later, which spares a day of heartbeats an event each.
		if c.w.lazyPings() {
			// The relay core would answer with a pong and change nothing else: the network
			// answers, and the core reads heardAt when the connection's deadline comes due.
			c.heardAt = c.w.eng.Now()
			c.dev.heard(c, c.heardAt.Add(c.w.links.Delay(c.dev)))
			return
		}
		c.receive(f)
		return
	}
	c.up.send(c.w.eng, c.w.links.Delay(c.dev), f)
}

// keepBeats (beatKeeper) keeps the app's heartbeat while every ping would cross and be answered
// the same way: lazy pings, the relay has the connection, and the link neither jitters, loses
// nor is cut (its crossings draw nothing from the network's randomness).
func (c *vconn) keepBeats(every time.Duration) (func(), bool) {
	l := c.w.links.Of(c.dev)
	if !c.w.lazyPings() || !c.relayOpen || c.devClosed || l.Jitter > 0 || l.Loss > 0 || c.w.links.Cut(c.dev) {
		return nil, false
	}
	c.beating, c.beatFrom, c.beatEvery = true, c.w.eng.Now(), every
	return c.stopBeats, true
}

// lastBeat is the latest ping of a kept heartbeat at or before now (zero if none yet), and when
// the next is due.
func (c *vconn) lastBeat() (last, next time.Time) {
	n := c.w.eng.Now().Sub(c.beatFrom) / c.beatEvery
	next = c.beatFrom.Add((n + 1) * c.beatEvery)
	if n == 0 {
		return time.Time{}, next
	}
	return c.beatFrom.Add(n * c.beatEvery), next
}

// stopBeats ends a kept heartbeat as the app's cancelled timer would: its pings so far stay
// heard by the relay, whose core looks at the connection's deadline again from the last one.
func (c *vconn) stopBeats() {
	if !c.beating {
		return
	}
	c.beating = false
	if last, _ := c.lastBeat(); last.After(c.heardAt) {
		c.heardAt = last
	}
	if c.w.conns.get(c.id) == c { // the relay has it (not when it is going away: RestartRelay drops it first)
		c.w.relay.HeartbeatStopped(c.w.eng.Now(), c.id)
		c.w.armRelayWake()
	}
}

// unsteady (beatKeeper) hands a kept heartbeat back to the app, its pings so far accounted for:
// the relay heard them, and the app their pongs.
func (c *vconn) unsteady() {
	if !c.beating {
		return
	}
	c.stopBeats()
	last, next := c.lastBeat()
	c.dev.resumeBeats(last, last.Add(c.w.links.Delay(c.dev)), next)
}

// relayHeard is when the relay last heard a ping the network answered (relay.Core.SetHeard),
// and, when that ping is one of the heartbeat the network keeps, the keeper's interval: the
// network goes on answering a ping every interval until stopBeats tells the relay core.
func (c *vconn) relayHeard() (time.Time, time.Duration) {
	if c.beating {
		if last, _ := c.lastBeat(); last.After(c.heardAt) {
			return last, c.beatEvery
		}
	}
	return c.heardAt, 0
}

// deliverUp hands a frame that crossed the link to the relay, if it still has the connection.
func (c *vconn) deliverUp(f relay.ClientFrame) {
	if c.relayOpen {
		c.receive(f)
	}
}

// receive hands a frame to the relay core now.
func (c *vconn) receive(f relay.ClientFrame) {
	c.w.receive(c.id, f, c.dev)
}

// Close ends the connection from the device; the relay is told only if the link lets it.
func (c *vconn) Close() {
	if c.devClosed {
		return
	}
	c.devClosed = true
	if c.w.links.Cut(c.dev) {
		return // half-open: the relay finds out by its heartbeat deadline
	}
	c.up.after(c.w.eng, c.w.links.Delay(c.dev), func() {
		if c.relayOpen {
			c.relayOpen = false
			c.w.conns.remove(c.id)
			_ = c.w.step(relay.Input{Kind: relay.InputClosed, Conn: c.id}, c.dev)
		}
	})
}

// toDevice carries a relay frame to the device.
func (c *vconn) toDevice(f relay.ServerFrame) {
	if f.Op == relay.OpPong {
		// A pong only tells the app its connection lives. It is noted at its arrival time without
		// an event of its own, which keeps a day of heartbeats cheap; the only thing missed is a
		// network cut within the one latency it travels.
		if !c.devClosed && !c.w.links.Cut(c.dev) {
			c.dev.heard(c, c.w.eng.Now().Add(c.w.links.Delay(c.dev)))
		}
		return
	}
	if c.w.links.Cut(c.dev) {
		return
	}
	c.down.send(c.w.eng, c.w.links.Delay(c.dev), f)
}

// deliverDown hands a frame that crossed the link to the phone.
func (c *vconn) deliverDown(f relay.ServerFrame) {
	if !c.devClosed && !c.w.links.Cut(c.dev) {
		c.dev.OnRelayFrame(c, f)
	}
}

// closedByRelay: the relay closed the connection; the device hears of it if the link lets it.
func (c *vconn) closedByRelay(reason string) {
	c.unsteady()
	c.relayOpen = false
	c.w.conns.remove(c.id)
	if !c.w.links.RelayClosed(c.dev, &c.link) {
		return
	}
	c.down.after(c.w.eng, c.w.links.Delay(c.dev), func() {
		if !c.devClosed && !c.w.links.Cut(c.dev) {
			c.devClosed = true
			c.dev.OnRelayClosed(c, reason)
		}
	})
}

// relayGone: the relay process died; the device's next read fails (if it has network), after
// the frames already on their way, as a socket's buffered data arrives before its end.
func (c *vconn) relayGone() {
	c.unsteady()
	c.relayOpen = false
	c.down.after(c.w.eng, c.w.links.Delay(c.dev), func() {
		if !c.devClosed && !c.w.links.Cut(c.dev) {
			c.devClosed = true
			c.dev.OnRelayClosed(c, "relay went away")
		}
	})
}

// vfcm is a phone's FCM channel in the virtual network.
type vfcm struct {
	w      *VirtualWorld
	dev    *Device
	token  string
	open   bool
	closed bool
}

// FCMRegister (Env) registers the app with FCM.
func (w *VirtualWorld) FCMRegister(d *Device) {
	w.eng.After(w.links.Delay(d), func() {
		var tok string
		var err error
		w.fcmDo(func(c *fakefcm.Core, now time.Time) {
			tok, err = c.RegisterDevice(now, fakefcm.DeviceSpec{SenderID: d.cfg.SenderID, PackageName: d.cfg.Package})
		})
		w.eng.After(w.links.Delay(d), func() { d.OnToken(tok, err) })
	})
}

// FCMRefresh (Env) rotates a token.
func (w *VirtualWorld) FCMRefresh(d *Device, token string) {
	w.eng.After(w.links.Delay(d), func() {
		var tok string
		var err error
		w.fcmDo(func(c *fakefcm.Core, now time.Time) { tok, err = c.RefreshToken(now, token) })
		w.eng.After(w.links.Delay(d), func() { d.OnToken(tok, err) })
	})
}

// FCMUnregister (Env) deletes a token.
func (w *VirtualWorld) FCMUnregister(d *Device, token string) {
	w.eng.After(w.links.Delay(d), func() {
		w.fcmDo(func(c *fakefcm.Core, now time.Time) { _ = c.Uninstall(now, token) })
	})
}

// FCMForceStop (Env) marks the app force-stopped at FCM.
func (w *VirtualWorld) FCMForceStop(_ *Device, token string) {
	w.fcmDo(func(c *fakefcm.Core, now time.Time) { _ = c.ForceStop(now, token) })
}

// FCMConnect (Env) opens the phone's FCM channel.
func (w *VirtualWorld) FCMConnect(d *Device, token string) FCMLink {
	l := &vfcm{w: w, dev: d, token: token}
	w.eng.After(w.links.Delay(d), func() {
		if l.closed || !d.netUp {
			return
		}
		if old := w.fcmByTk[token]; old != nil {
			old.open = false
		}
		w.fcmByTk[token] = l
		l.open = true
		w.fcmDo(func(c *fakefcm.Core, now time.Time) { _ = c.Connect(now, token) })
	})
	return l
}

// Ack carries an acknowledgement to FCM.
func (l *vfcm) Ack(id string) {
	if !l.dev.netUp {
		return
	}
	x := l.w.fcmCrossing(l)
	x.up, x.ack = true, id
	l.w.eng.after(l.w.links.Delay(l.dev), x)
}

// Close closes the channel; FCM notices at once (the phone's FCM connection heartbeats often).
func (l *vfcm) Close() {
	if l.closed {
		return
	}
	l.closed = true
	if l.open {
		l.open = false
		if l.w.fcmByTk[l.token] == l {
			delete(l.w.fcmByTk, l.token)
		}
		l.w.fcmDo(func(c *fakefcm.Core, now time.Time) { c.Disconnect(now, l.token) })
	}
}

// toDevice carries a delivery to the phone.
func (l *vfcm) toDevice(d fakefcm.Delivery) {
	if d.Kind == fakefcm.CloseChannel {
		l.open = false
		delete(l.w.fcmByTk, l.token)
		l.w.eng.After(l.w.links.Delay(l.dev), func() { l.dev.OnFCMClosed(l) })
		return
	}
	x := l.w.fcmCrossing(l)
	x.frame = fakefcm.DeviceFrame{Type: d.Kind, Message: d.Message}
	l.w.eng.after(l.w.links.Delay(l.dev), x)
}

// crossing is a push on its way down a phone's FCM channel, or an acknowledgement on its way up:
// the event of its arrival. The world reuses crossings once they have arrived: a day in the life
// carries hundreds of thousands of pushes and acks.
type crossing struct {
	l     *vfcm
	up    bool                // an ack to FCM; else a push to the phone
	ack   string              // the message ID acknowledged
	frame fakefcm.DeviceFrame // the push
}

// fcmCrossing returns a crossing on l to fill in and schedule.
func (w *VirtualWorld) fcmCrossing(l *vfcm) *crossing {
	var x *crossing
	if n := len(w.crossings); n > 0 {
		x, w.crossings = w.crossings[n-1], w.crossings[:n-1]
	} else {
		x = &crossing{}
	}
	x.l = l
	return x
}

// happen (event) carries the crossing out and frees it for the next (first: what it runs may
// send more).
func (x *crossing) happen() {
	l, up, ack, f := x.l, x.up, x.ack, x.frame
	*x = crossing{}
	l.w.crossings = append(l.w.crossings, x)
	if up {
		if l.open {
			l.w.fcmDo(func(c *fakefcm.Core, now time.Time) { _ = c.Ack(now, l.token, ack) })
		}
		return
	}
	if l.open && l.dev.netUp {
		l.dev.OnPush(l, f)
	}
}

var (
	_ RelayLink = (*vconn)(nil)
	_ FCMLink   = (*vfcm)(nil)
)

// lane is one direction of an app connection: the frames on their way, oldest first. A
// connection is a TCP stream, so a frame never arrives before the one sent ahead of it, whatever
// the jitter. The event that delivers a frame carries no copy of it (a day in the life sends
// millions): it takes the oldest from the queue.
type lane[T any] struct {
	// q[head:] are the frames on their way. The array is reused once the lane drains, which on a
	// connection with a frame or two in flight is almost always: no allocation per frame; a lane
	// that never drains moves its frames down once more than half of the array is spent.
	q    []T
	head int
	last time.Time // the latest arrival scheduled
	// to receives each frame that crossed, set once with the connection. It is the connection
	// itself (upEnd, downEnd), as the lane is the event that delivers its frame: running that
	// event reaches the lane, its frame and the connection, and no closure on the way.
	to laneEnd[T]
}

// laneEnd receives the frames that crossed a lane.
type laneEnd[T any] interface{ arrive(f T) }

// after schedules fn one crossing (delay) from now, never before the lane's latest arrival.
func (l *lane[T]) after(eng *Engine, delay time.Duration, fn func()) {
	l.schedule(eng, delay, funcEvent(fn))
}

// schedule queues ev one crossing (delay) from now, never before the lane's latest arrival.
func (l *lane[T]) schedule(eng *Engine, delay time.Duration, ev event) {
	at := eng.Now().Add(delay)
	if at.Before(l.last) {
		at = l.last
	}
	l.last = at
	eng.push(at, ev)
}

// send queues f and schedules its arrival, where l.to receives it.
func (l *lane[T]) send(eng *Engine, delay time.Duration, f T) {
	l.q = append(l.q, f)
	l.schedule(eng, delay, l)
}

// happen (event) takes the oldest frame on its way and hands it to l.to.
func (l *lane[T]) happen() {
	var zero T
	f := l.q[l.head]
	l.q[l.head] = zero
	l.head++
	switch {
	case l.head == len(l.q):
		l.q, l.head = l.q[:0], 0
	case l.head > len(l.q)/2:
		// A lane that never drains moves its frames down rather than grow forever.
		n := copy(l.q, l.q[l.head:])
		clear(l.q[n:])
		l.q, l.head = l.q[:n], 0
	}
	l.to.arrive(f)
}

// upEnd and downEnd are a connection's two ends: where the frames of its up lane arrive (the
// relay's) and of its down lane (the phone's).
type (
	upEnd   vconn
	downEnd vconn
)

func (e *upEnd) arrive(f relay.ClientFrame)   { (*vconn)(e).deliverUp(f) }
func (e *downEnd) arrive(f relay.ServerFrame) { (*vconn)(e).deliverDown(f) }
