package load

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// outboxUnderTest is an outbox with messages 0…n-1 and a frame-ID counter.
type outboxUnderTest struct {
	*outbox
	lastID int64
}

func newOutboxUnderTest(n int) *outboxUnderTest {
	o := &outboxUnderTest{outbox: newOutbox(rand.New(rand.NewPCG(1, 2)))}
	for i := range n {
		o.add(i, 100+i, relay.ClientFrame{Op: relay.OpSend, ClientMsgID: string(rune('a' + i))})
	}
	return o
}

// sendAll takes every message the outbox allows at now: their places in the sender's order
// and the frame IDs they went with.
func (o *outboxUnderTest) sendAll(now time.Time) (ns []int, ids []int64) {
	for {
		m, ok := o.next(now, func() int64 { o.lastID++; return o.lastID })
		if !ok {
			return ns, ids
		}
		ns, ids = append(ns, m.n), append(ids, m.frame.ID)
	}
}

// While the relay takes sends, the outbox pipelines them all; a refusal puts its message back
// in its place and holds every send until a backoff has passed; then the sender is careful, one
// send at a time, until it has caught up, and only then pipelines again. answer says when the
// sender must look again at what it may send: each time the rules above could let a send out
// sooner or later than it thought.
func TestAnOutboxBacksOffWhenBusyAndCatchesUpOneSendAtATime(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	o := newOutboxUnderTest(4)
	ns, ids := o.sendAll(t0)
	require.Equal(t, []int{0, 1, 2, 3}, ns, "pipelined while nothing is refused")
	require.Equal(t, []int64{1, 2, 3, 4}, ids)
	require.False(t, o.answer(1, relay.OK, t0), "taken while pipelining: nothing to wake for")

	// Message 1 refused: back in the outbox, and a backoff of 25–50 ms begins, which the
	// sender must look at.
	require.True(t, o.answer(2, relay.CodeBusy, t0), "a refusal changes when the sender may send")
	require.Equal(t, 3, o.held(), "1 back in the outbox, 2 and 3 unanswered")
	until := o.until
	require.False(t, until.Before(t0.Add(firstBackoff/2)))
	require.False(t, until.After(t0.Add(firstBackoff)))
	// Message 3 refused too, but it was sent before the backoff began: it only goes back in
	// its place, behind 1, and the backoff stays; message 2's was taken, which changes nothing.
	require.True(t, o.answer(4, relay.CodeBusy, t0.Add(time.Millisecond)))
	require.Equal(t, until, o.until)
	require.True(t, o.answer(3, relay.OK, t0.Add(time.Millisecond)), "the last unanswered send: a careful sender may go on")
	require.Equal(t, until, o.wakeAt(), "the backoff's end is the next chance to send")
	o.add(4, 104, relay.ClientFrame{Op: relay.OpSend})
	ns, _ = o.sendAll(until.Add(-time.Nanosecond))
	require.Empty(t, ns, "nothing while backing off")

	// The backoff over: the oldest message alone, and nothing else until it is answered.
	ns, ids = o.sendAll(until)
	require.Equal(t, []int{1}, ns)
	require.True(t, o.wakeAt().IsZero(), "only the answer can let more out")
	// Refused again: back in place, and the backoff doubles (50–100 ms).
	require.True(t, o.answer(ids[0], relay.CodeBusy, until))
	require.False(t, o.wakeAt().Before(until.Add(firstBackoff)))
	require.False(t, o.wakeAt().After(until.Add(2*firstBackoff)))
	require.Equal(t, 3, o.held(), "1, 3 and 4 waiting")
	at := o.wakeAt()
	ns, ids = o.sendAll(at)
	require.Equal(t, []int{1}, ns, "the same message again")

	// Taken: the rest one at a time, each after the last one's answer.
	for _, want := range []int{3, 4} {
		require.True(t, o.answer(ids[0], relay.OK, at), "a careful sender's answer lets the next out")
		ns, ids = o.sendAll(at)
		require.Equal(t, []int{want}, ns)
	}
	// Caught up: pipelining again.
	require.True(t, o.answer(ids[0], relay.OK, at))
	o.add(5, 105, relay.ClientFrame{Op: relay.OpSend})
	o.add(6, 106, relay.ClientFrame{Op: relay.OpSend})
	ns, _ = o.sendAll(at)
	require.Equal(t, []int{5, 6}, ns)
}

// A relay that stays busy makes each careful send wait twice as long as the last, up to maxBackoff;
// the frames keep their message's ClientMsgID, so that a resend is never stored twice.
func TestAnOutboxBackoffDoublesUpToItsCeiling(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	o := newOutboxUnderTest(1)
	var waits []time.Duration
	for range 8 {
		m, ok := o.next(now, func() int64 { o.lastID++; return o.lastID })
		require.True(t, ok)
		require.Equal(t, "a", m.frame.ClientMsgID)
		o.answer(m.frame.ID, relay.CodeBusy, now)
		waits = append(waits, o.wakeAt().Sub(now))
		now = o.wakeAt()
	}
	for i, w := range waits {
		backoff := min(firstBackoff<<i, maxBackoff)
		require.True(t, w >= backoff/2 && w <= backoff, "wait %d: %v, not within [%v, %v]", i, w, backoff/2, backoff)
	}
}
