package server

import (
	"fmt"
	"time"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/relay"
)

// OverloadConfig says when the relay is over capacity. At any of its bounds it answers new sends
// with relay.CodeBusy at once — nothing stored, nothing pushed, the core never sees them — while
// pings, logins, acks, syncs and every other op go on as usual, and the pushes it already took on
// go out. A relay fed more than it can push thus keeps pushing at its own rate with bounded
// queues, the senders back off and retry, and it takes sends again as soon as a bound clears.
type OverloadConfig struct {
	// MaxUnansweredPushes bounds the pushes handed to the send workers that FCM has not answered
	// yet (waiting for a worker or in flight). Zero means 16 per send worker.
	MaxUnansweredPushes int `yaml:"maxUnansweredPushes"`
	// MaxWaitingEvents bounds the events (frames, connections opening and closing, admin calls)
	// waiting for the loop behind the frame at hand. Zero means 1024; at most 4095, the loop's
	// queue being 4096 long.
	MaxWaitingEvents int `yaml:"maxWaitingEvents"`
	// MaxPushWait bounds how long the oldest push waiting for a send worker has waited while
	// every send worker is busy: the relay's own delay before FCM, whatever its rate on this
	// machine. (A push that waits behind a slow answer for the same device while other workers
	// are idle is one device's queue, not the relay's capacity.) Zero means 250 ms.
	MaxPushWait duration.Duration `yaml:"maxPushWait"`
}

// defaultWaitingEvents is MaxWaitingEvents' default: a quarter of the loop's queue, about a
// tenth of a second of the loop's work at the rates it sustains.
const defaultWaitingEvents = 1024

// defaultPushWait is MaxPushWait's default: the quarter second of kill→push latency that
// counts as sustained. A tighter bound (100 ms was tried) trips on the scheduling stalls of a
// busy machine, refusing sends that idle workers could have taken.
const defaultPushWait = 250 * time.Millisecond

// unansweredPerWorker is MaxUnansweredPushes' default per send worker.
const unansweredPerWorker = 16

// withDefaults fills in the zero bounds and refuses bounds that cannot work.
func (o OverloadConfig) withDefaults(sendWorkers int) (OverloadConfig, error) {
	switch {
	case o.MaxUnansweredPushes < 0:
		return o, fmt.Errorf("maxUnansweredPushes %d: must not be negative (0 means %d per send worker)", o.MaxUnansweredPushes, unansweredPerWorker)
	case o.MaxPushWait < 0:
		return o, fmt.Errorf("maxPushWait %s: must not be negative (0 means %s)", o.MaxPushWait, defaultPushWait)
	case o.MaxWaitingEvents < 0 || o.MaxWaitingEvents >= eventQueue:
		return o, fmt.Errorf("maxWaitingEvents %d: must be from 1 to %d, below the loop's queue of %d (0 means %d)", o.MaxWaitingEvents, eventQueue-1, eventQueue, defaultWaitingEvents)
	}
	if o.MaxUnansweredPushes == 0 {
		o.MaxUnansweredPushes = unansweredPerWorker * sendWorkers
	}
	if o.MaxWaitingEvents == 0 {
		o.MaxWaitingEvents = defaultWaitingEvents
	}
	if o.MaxPushWait == 0 {
		o.MaxPushWait = duration.Of(defaultPushWait)
	}
	return o, nil
}

// load is what the admission rule looks at.
type load struct {
	unansweredPushes int           // handed to the send workers, not answered by FCM yet
	waitingEvents    int           // waiting for the loop
	oldestPushWait   time.Duration // of the push that has waited longest for a send worker
	idleWorkers      int           // send workers with no push in hand
}

// overCapacity is the admission rule: the relay takes no new send while any of the load's
// figures is at its bound. It names the first bound reached ("" when none is).
func (o OverloadConfig) overCapacity(l load) string {
	switch {
	case l.unansweredPushes >= o.MaxUnansweredPushes:
		return "unansweredPushes"
	case l.idleWorkers == 0 && l.oldestPushWait >= o.MaxPushWait.D():
		return "pushWait"
	case l.waitingEvents >= o.MaxWaitingEvents:
		return "waitingEvents"
	}
	return ""
}

// busyReply is the answer to a send refused because the relay is over capacity.
func busyReply(id int64) relay.ServerFrame {
	return relay.ServerFrame{Op: relay.OpReply, ID: id, Code: relay.CodeBusy,
		Desc: "the relay is over capacity and did not take this send: retry it with the same clientMsgId after a short backoff"}
}

// admission is the admission rule's verdict for the batch the loop is taking in: read once, at
// the batch's first frame, so that every send of a batch gets the same answer and a
// connection's refused sends are never followed by taken ones of the same batch.
type admission struct {
	read  bool
	bound string // the bound reached; "" when sends are taken
}

// refuseIfBusy answers a send frame CodeBusy, instead of handing it to the core, when the relay
// is over capacity, and reports whether it did. The reply is written before the batch's frames.
// Pushes the relay already took on are counted as they are handed to the send workers, at the
// end of each batch, or, on a StagedStore, once the batch being committed (whose pushes count
// already) has landed, so a batch may take the bound's overshoot of its own sends: at most
// maxBatch.
func (s *Server) refuseIfBusy(now time.Time, ev frameEvent) bool {
	if !s.admission.read {
		l := load{unansweredPushes: s.pushes.unanswered() + s.committing.pushes(), waitingEvents: len(s.events),
			oldestPushWait: s.pushes.oldestWait(now), idleWorkers: s.pushes.idle()}
		s.admission = admission{read: true, bound: s.cfg.Overload.overCapacity(l)}
	}
	bound := s.admission.bound
	if bound == "" {
		return false
	}
	f, bad := relay.DecodeClientFrame(ev.data)
	if bad != nil || f.Op != relay.OpSend {
		return false
	}
	s.busy = append(s.busy, relay.OutFrame{Conn: ev.id, Frame: busyReply(f.ID)})
	s.metrics.busy.WithLabelValues(bound).Inc()
	return true
}

// writeBusy writes the busy replies of the batch, before the batch's Ready is carried out (its
// closes would drop them), and lets the next batch read the load afresh. On a StagedStore the
// batch taken in while another commits is carried out once that one has landed: its busy
// replies wait for it too, so that a connection's replies keep the order of its sends.
func (s *Server) writeBusy() {
	s.admission = admission{}
	if len(s.busy) == 0 {
		return
	}
	s.writeLocal(s.busy, nil)
	clear(s.busy)
	s.busy = s.busy[:0]
}
