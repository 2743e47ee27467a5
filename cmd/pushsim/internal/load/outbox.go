package load

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/pushlab/pushlab/relay"
)

// The backoff of a sender the relay answered "busy, retry" (relay.CodeBusy): the first wait is
// up to firstBackoff, and each refusal of a send made after a wait, with no send taken since,
// doubles it, up to maxBackoff. Each wait is drawn between half the backoff and the whole ("equal
// jitter"), so that senders refused together do not come back together.
const (
	firstBackoff = 50 * time.Millisecond
	maxBackoff   = time.Second
)

// backoffSeed seeds the senders' backoff draws, with the run's seed and the sender's index.
const backoffSeed = 0x6261636b6f6666 // "backoff"

// outbox is one load sender's messages, kept as an app that honours "busy, retry" keeps them.
// Messages join it as the sender's schedule makes them; they leave it pipelined, without waiting
// for answers, while the relay takes them. A send the relay refuses goes back into the outbox
// ahead of the messages made after it (those already taken are not called back), and the sender
// sends nothing until a backoff has passed. It then catches up carefully: one send at a time,
// each after the last one's answer, until nothing waits, and only then pipelines again. A
// refusal while careful waits twice as long as the last time; a send taken ends the doubling.
// An answer to a send made before the latest backoff began changes nothing but its message's
// place.
//
// Why one at a time (README, "Senders that back off"): a sender that pipelined its backlog as
// soon as a send was taken multiplied the refusals past the relay's capacity, and one whose
// window grew with each send taken drew two to three times the refusals of one at a time and
// delivered less. The cost: a careful sender cannot catch up while the relay answers it more
// slowly than its own rate; what it still holds at the end is counted unsent.
//
// outbox holds no lock and reads no clock: its owner serialises the calls and gives the time.
type outbox struct {
	waiting    []outMsg         // not sent, or refused: oldest first
	unanswered map[int64]outMsg // sent, by frame ID
	backoff    time.Duration    // the current backoff; 0 while the relay takes sends
	until      time.Time        // no send before this
	epoch      int              // counts the backoffs begun
	careful    bool             // since a refusal: one send unanswered at a time, until nothing waits
	jitter     *rand.Rand       // draws each wait
}

// outMsg is a message in an outbox: its place in the sender's order, its recipient (the target
// phone's index), the frame that sends it (its ID is the latest send's), and the backoff epoch
// it was last sent in.
type outMsg struct {
	n, to int
	frame relay.ClientFrame
	epoch int
}

func newOutbox(jitter *rand.Rand) *outbox {
	return &outbox{unanswered: map[int64]outMsg{}, jitter: jitter}
}

// add puts the sender's nth message, to target phone to, at the end of the outbox.
func (o *outbox) add(n, to int, f relay.ClientFrame) {
	o.waiting = append(o.waiting, outMsg{n: n, to: to, frame: f})
}

// next takes the message to send now, if the outbox allows one, its frame given a frame ID
// from newID. ok is false while the outbox is empty, backing off, or careful with a send
// unanswered.
func (o *outbox) next(now time.Time, newID func() int64) (m outMsg, ok bool) {
	if len(o.waiting) == 0 || now.Before(o.until) || o.waitingForAnswer() {
		return outMsg{}, false
	}
	m = o.waiting[0]
	o.waiting = o.waiting[1:]
	id := newID()
	m.frame.ID, m.epoch = id, o.epoch
	o.unanswered[id] = m
	return m, true
}

// waitingForAnswer reports whether only an answer can let the next send out: careful, with its
// one send unanswered.
func (o *outbox) waitingForAnswer() bool { return o.careful && len(o.unanswered) > 0 }

// answer takes the relay's answer to the send with frame ID id at now, and reports whether
// the sender should look again at what it may send and when (next, wakeAt): after a careful
// sender's answer, or a refusal. A refusal puts the message back in its place and, if it was
// sent since the last backoff began, begins another, twice as long as the last if no send was
// taken since. A send taken ends the doubling, and the carefulness once nothing waits.
func (o *outbox) answer(id int64, code relay.Code, now time.Time) (look bool) {
	m, ok := o.unanswered[id]
	if !ok {
		return false
	}
	delete(o.unanswered, id)
	current := m.epoch == o.epoch
	if code != relay.CodeBusy {
		if current {
			o.backoff = 0
		}
		if !o.careful {
			return false
		}
		if len(o.waiting) == 0 {
			o.careful = false
		}
		return true
	}
	at, _ := slices.BinarySearchFunc(o.waiting, m.n, func(w outMsg, n int) int { return w.n - n })
	o.waiting = slices.Insert(o.waiting, at, m)
	if current {
		o.careful = true
		o.backoff = min(max(2*o.backoff, firstBackoff), maxBackoff)
		o.until = now.Add(o.backoff/2 + time.Duration(o.jitter.Int64N(int64(o.backoff/2)+1)))
		o.epoch++
	}
	return true
}

// wakeAt is when next may next allow a send, if no answer comes first: the end of the backoff,
// or the zero time when only an answer can (careful, with a send unanswered) or nothing waits.
func (o *outbox) wakeAt() time.Time {
	if len(o.waiting) == 0 || o.waitingForAnswer() {
		return time.Time{}
	}
	return o.until
}

// held is how many messages the outbox still holds: waiting, refused, or sent and not answered.
func (o *outbox) held() int { return len(o.waiting) + len(o.unanswered) }
