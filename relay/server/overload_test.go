package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

func TestAdmissionRuleRefusesAtAnyBound(t *testing.T) {
	o, err := OverloadConfig{}.withDefaults(4)
	require.NoError(t, err)
	require.Equal(t, OverloadConfig{MaxUnansweredPushes: 64, MaxWaitingEvents: 1024, MaxPushWait: duration.Of(250 * time.Millisecond)}, o)
	below := load{unansweredPushes: 63, waitingEvents: 1023, oldestPushWait: 249 * time.Millisecond}
	require.Empty(t, o.overCapacity(below))
	for bound, l := range map[string]load{
		"unansweredPushes": {unansweredPushes: 64, waitingEvents: 1023, oldestPushWait: 249 * time.Millisecond},
		"waitingEvents":    {unansweredPushes: 63, waitingEvents: 1024, oldestPushWait: 249 * time.Millisecond},
		"pushWait":         {unansweredPushes: 63, waitingEvents: 1023, oldestPushWait: 250 * time.Millisecond},
	} {
		require.Equal(t, bound, o.overCapacity(l))
	}
	idle := load{unansweredPushes: 2, waitingEvents: 1, oldestPushWait: time.Hour, idleWorkers: 1}
	require.Empty(t, o.overCapacity(idle), "a push waiting behind its device's slow answer while a worker is idle is not the relay's capacity")
}

// The admission rule's verdict is read once per batch: every send of a batch gets the same
// answer, even when the load falls below its bound partway through, so a connection's refused
// sends are never followed by taken ones of the same batch; the next batch reads it afresh.
func TestAdmissionVerdictHoldsForTheBatch(t *testing.T) {
	now := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	s := &Server{events: make(chan event, 8), pushes: newPushLanes(1, func() time.Time { return now })}
	s.cfg.Overload = OverloadConfig{MaxUnansweredPushes: 1, MaxWaitingEvents: 8, MaxPushWait: duration.Of(time.Hour)}
	s.metrics = newMetrics(s)
	send := func(id int64) frameEvent {
		return frameEvent{id: 1, data: fmt.Appendf(nil, `{"op":"send","id":%d,"to":"bob","text":"x"}`, id)}
	}
	s.pushes.put(relay.Push{ID: 1}) // at the bound of one unanswered push
	require.True(t, s.refuseIfBusy(now, send(1)))
	_, ok := s.pushes.lanes[0].take()
	require.True(t, ok)
	s.pushes.lanes[0].done() // FCM answers: the bound clears within the batch
	require.True(t, s.refuseIfBusy(now, send(2)), "the batch keeps the verdict it read")
	require.Len(t, s.busy, 2)
	s.writeBusy()
	require.False(t, s.refuseIfBusy(now, send(3)), "the next batch reads the load afresh")
}

func TestOverloadBoundsThatCannotWorkAreRefused(t *testing.T) {
	for _, o := range []OverloadConfig{{MaxUnansweredPushes: -1}, {MaxWaitingEvents: -1}, {MaxWaitingEvents: eventQueue}, {MaxPushWait: -1}} {
		_, err := o.withDefaults(64)
		require.Error(t, err, "%+v", o)
	}
	_, err := New(context.Background(), Config{Store: relay.NewMemoryStore(), Sender: &fakeSender{}, AdminKey: secret.New(adminKey),
		Overload: OverloadConfig{MaxWaitingEvents: 5000}})
	require.ErrorContains(t, err, "maxWaitingEvents 5000", "the relay does not start on bounds that cannot work")
	o, err := OverloadConfig{MaxUnansweredPushes: 10, MaxWaitingEvents: eventQueue - 1, MaxPushWait: duration.Of(time.Second)}.withDefaults(64)
	require.NoError(t, err)
	require.Equal(t, OverloadConfig{MaxUnansweredPushes: 10, MaxWaitingEvents: eventQueue - 1, MaxPushWait: duration.Of(time.Second)}, o)
}

// The loop takes a waiting push result before frames that came earlier: the answers free the
// send workers, and a flood of frames must not hold them back.
func TestPushResultsGoBeforeWaitingFrames(t *testing.T) {
	s := &Server{events: make(chan event, 8), results: make(chan relay.PushResult, 2)}
	s.events <- frameEvent{id: 1}
	s.events <- frameEvent{id: 2}
	s.results <- relay.PushResult{ID: 7}
	var got []event
	for {
		ev, ok := s.waiting()
		if !ok {
			break
		}
		got = append(got, ev)
	}
	require.Equal(t, []event{resultEvent{r: relay.PushResult{ID: 7}}, frameEvent{id: 1}, frameEvent{id: 2}}, got)
}

// The lanes count a push from its queueing to FCM's answer, and know how long the oldest push
// still waiting for its worker has waited.
func TestPushLanesCountUnansweredAndTheOldestWait(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	now := t0
	lanes := newPushLanes(1, func() time.Time { return now })
	q := lanes.lanes[0]
	require.Zero(t, lanes.oldestWait(now))
	lanes.put(relay.Push{ID: 1})
	now = t0.Add(10 * time.Millisecond)
	lanes.put(relay.Push{ID: 2})
	lanes.put(relay.Push{ID: 3})
	now = t0.Add(50 * time.Millisecond)
	require.Equal(t, 3, lanes.unanswered())
	require.Equal(t, 50*time.Millisecond, lanes.oldestWait(now))

	p, ok := q.take()
	require.True(t, ok)
	require.Equal(t, uint64(1), p.ID)
	require.Equal(t, 40*time.Millisecond, lanes.oldestWait(now), "push 2 is the oldest waiting")
	require.Equal(t, 3, lanes.unanswered(), "push 1 is with FCM")
	require.Zero(t, lanes.idle(), "the one worker has push 1 in hand")
	q.done()
	require.Equal(t, 1, lanes.idle())
	require.Equal(t, 2, lanes.unanswered())

	lanes.cancel([]uint64{2, 3})
	require.Zero(t, lanes.unanswered())
	require.Zero(t, lanes.oldestWait(now))
}

// gatedSender holds every push until the test opens the gate (at the latest when it ends, so
// that the relay can close).
func gatedSender(b *bubble) (open func()) {
	gate := make(chan struct{})
	b.sender.answer = func(p relay.Push) relay.PushResult {
		<-gate
		return relay.PushResult{ID: p.ID, Name: "projects/demo/messages/x"}
	}
	open = sync.OnceFunc(func() { close(gate) })
	b.t.Cleanup(open)
	return open
}

// overloadedRelay starts a relay with these send workers and overload bounds, whose FCM holds
// every push until open is called, with alice's phone killed (her messages are pushed) and bob
// online to send them.
func overloadedRelay(t *testing.T, store relay.Store, workers int, o OverloadConfig) (b *bubble, bob *app, open func()) {
	b = startRelay(t, store, relay.Config{}, func(c *Config) {
		c.SendWorkers = workers
		c.Overload = o
	})
	b.provision()
	open = gatedSender(b)
	require.NoError(t, b.launch("alice", "alice-phone").conn.Drop())
	bob = b.launch("bob", "bob-phone")
	synctest.Wait()
	return b, bob, open
}

// requireBusy sends a message and requires the relay to refuse it as over capacity.
func requireBusy(t *testing.T, a *app, text string) {
	t.Helper()
	_, err := a.conn.Do(context.Background(), relay.ClientFrame{Op: relay.OpSend, To: "alice", Text: text})
	var re *client.ReplyError
	require.True(t, errors.As(err, &re), "refused with a reply code: %v", err)
	require.Equal(t, relay.CodeBusy, re.Code)
}

// requireSynced requires alice's phone, launched again, to sync exactly these texts.
func requireSynced(t *testing.T, b *bubble, texts ...string) {
	t.Helper()
	alice := b.launch("alice", "alice-phone-2")
	r, err := alice.conn.Do(context.Background(), relay.ClientFrame{Op: relay.OpSync})
	require.NoError(t, err)
	var got []string
	for _, m := range r.Msgs {
		got = append(got, m.Text)
	}
	require.Equal(t, texts, got)
	alice.conn.Close()
}

// Past its bound of unanswered pushes the relay answers sends 5003 without storing them, serves
// every other op, keeps what it acknowledged, and takes sends again once FCM answers.
func TestSendsPastTheUnansweredBoundAreRefusedBusy(t *testing.T) {
	eachLoop(t, func(t *testing.T, store relay.Store) {
		b, bob, open := overloadedRelay(t, store, 1, OverloadConfig{MaxUnansweredPushes: 2, MaxPushWait: duration.Of(time.Hour)})
		bob.send("alice", "one") // with FCM
		bob.send("alice", "two") // waiting for the worker
		synctest.Wait()
		requireBusy(t, bob, "three")

		ctx := context.Background()
		_, err := bob.conn.Do(ctx, relay.ClientFrame{Op: relay.OpSync})
		require.NoError(t, err, "sync is served while over capacity")
		require.NoError(t, bob.conn.Send(relay.ClientFrame{Op: relay.OpPing}))
		for f := bob.next(); f.Op != relay.OpPong; f = bob.next() {
			require.Equal(t, relay.OpMsg, f.Op, "ping is served while over capacity") // his own sends, live
		}

		open()
		synctest.Wait()
		require.Len(t, b.sender.sent(), 2)
		bob.send("alice", "four") // taken again at once
		synctest.Wait()
		require.Len(t, b.sender.sent(), 3)
		requireSynced(t, b, "one", "two", "four")
		bob.conn.Close()
	})
}

// When the oldest push has waited for its send worker as long as the bound allows, sends are
// refused until the queue moves again.
func TestSendsPastThePushWaitBoundAreRefusedBusy(t *testing.T) {
	eachLoop(t, func(t *testing.T, store relay.Store) {
		b, bob, open := overloadedRelay(t, store, 1, OverloadConfig{MaxUnansweredPushes: 100, MaxPushWait: duration.Of(100 * time.Millisecond)})
		bob.send("alice", "one") // with FCM
		bob.send("alice", "two") // waiting for the worker
		time.Sleep(50 * time.Millisecond)
		bob.send("alice", "three") // two has waited 50 ms: still taken
		time.Sleep(50 * time.Millisecond)
		requireBusy(t, bob, "four")

		open()
		synctest.Wait()
		bob.send("alice", "five")
		synctest.Wait()
		require.Len(t, b.sender.sent(), 4)
		requireSynced(t, b, "one", "two", "three", "five")
		bob.conn.Close()
	})
}

// A push that waits behind a slow answer for its own device, while another send worker is
// idle, does not make the relay refuse sends: one device's queue is not the relay's capacity.
func TestAPushWaitingBehindItsDeviceWhileAWorkerIsIdleRefusesNothing(t *testing.T) {
	eachLoop(t, func(t *testing.T, store relay.Store) {
		b, bob, open := overloadedRelay(t, store, 2, OverloadConfig{MaxUnansweredPushes: 100, MaxPushWait: duration.Of(100 * time.Millisecond)})
		bob.send("alice", "one") // with FCM, slow
		bob.send("alice", "two") // waiting behind it in alice's lane; the other worker is idle
		time.Sleep(time.Second)
		bob.send("alice", "three") // taken: two has waited past the bound, but not for lack of workers
		open()
		synctest.Wait()
		requireSynced(t, b, "one", "two", "three")
		bob.conn.Close()
	})
}

// On a StagedStore the pushes of the batch being committed count against the bound of
// unanswered pushes before they reach the send workers, and the busy replies of the batch taken
// in meanwhile come once that commit has landed, after the replies of the sends it holds.
func TestThePushesOfABatchBeingCommittedCountAgainstTheBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newGatedStore(relay.NewMemoryStore())
		b, bob, open := overloadedRelay(t, store, 1, OverloadConfig{MaxUnansweredPushes: 1, MaxPushWait: duration.Of(time.Hour)})
		t.Cleanup(store.release)
		store.hold(nil)
		one := bob.sendAsync("alice", "one")
		synctest.Wait() // its batch is committing: its push is not with the send workers yet
		two := bob.sendAsync("alice", "two")
		synctest.Wait()
		require.Empty(t, one, "no reply before the batch is stored")
		require.Empty(t, two, "nor a busy reply before the batch ahead of it has landed")

		store.release()
		synctest.Wait()
		require.NoError(t, <-one)
		var re *client.ReplyError
		require.True(t, errors.As(<-two, &re), "refused with a reply code")
		require.Equal(t, relay.CodeBusy, re.Code)
		open()
		synctest.Wait()
		require.Len(t, b.sender.sent(), 1)
		requireSynced(t, b, "one")
		bob.conn.Close()
	})
}
