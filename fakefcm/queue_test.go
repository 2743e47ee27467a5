package fakefcm

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
)

func TestReconnectGetsWhatTheOldConnectionNeverAcknowledged(t *testing.T) {
	w := newBench(t, Behaviour{})
	w.noAck = true
	tok := w.device()
	w.connect(tok)
	r := w.send(notif(tok, "x"))
	w.noAck = false
	w.connect(tok) // a new connection replaces the old (half-open) one
	require.Equal(t, []string{"x", "x"}, bodies(w.received[tok]))
	require.Equal(t, FateDelivered, w.record(r).Fate)
}

func TestHeldNotificationDoesNotBlockOtherKinds(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{CollapsibleBurst: 1}})
	tok := w.device()
	w.connect(tok)
	w.send(notif(tok, "first"))
	held := w.send(notif(tok, "held"))
	w.send(dataMsg(tok, 7))
	w.send(withTTL(notif(tok, "now"), 0))
	require.Equal(t, []string{"first", "7", "now"}, bodies(w.received[tok]))
	require.Equal(t, ThrottledCollapsibleBurst, w.record(held).Throttle)
	w.advance(3 * time.Minute)
	require.Equal(t, []string{"first", "7", "now", "held"}, bodies(w.received[tok]))
}

func TestTTLZeroNeitherReplacesNorIsQueued(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{DevicePerMinute: 1, CollapsibleBurst: -1}})
	tok := w.device()
	w.connect(tok)
	w.send(keyed(tok, "k", "first"))
	held := w.send(keyed(tok, "k", "held"))
	zero := w.send(withTTL(keyed(tok, "k", "zero"), 0))
	require.Equal(t, FatePending, w.record(held).Fate, "a ttl=0 message does not collapse a pending one")
	require.Equal(t, FateTTLExpired, w.record(zero).Fate)
	w.advance(2 * time.Minute)
	require.Equal(t, []string{"first", "held"}, bodies(w.received[tok]))
}

func TestRequeueAppliesTheQueueRulesWithoutRecountingThrottles(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{DevicePerMinute: 3, CollapsibleBurst: -1}})
	w.noAck = true
	tok := w.device()
	w.connect(tok)
	a := w.send(keyed(tok, "k", "a"))
	w.send(keyed(tok, "k", "b"))
	w.send(dataMsg(tok, 1))
	w.core.Disconnect(w.now, tok)
	require.Equal(t, FateCollapsed, w.record(a).Fate, "one message per collapse key after a reconnection")
	w.noAck = false
	w.connect(tok)
	require.Equal(t, []string{"a", "b", "1", "b", "1"}, bodies(w.received[tok]), "redelivered at once: already counted")
}

func TestOfflineLimitAppliesToARequeuedBacklog(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{DevicePerMinute: 1, CollapsibleBurst: -1}})
	tok := w.device()
	w.connect(tok)
	var last SendResult
	for i := range 150 {
		last = w.send(dataMsg(tok, i)) // one goes, 149 wait behind the throttle
	}
	w.core.Disconnect(w.now, tok)
	info, _ := w.core.Device(tok)
	require.Equal(t, 1, info.Pending, "an offline device keeps the newest only past 100")
	require.Equal(t, FatePending, w.record(last).Fate)
	w.connect(tok)
	require.Equal(t, 1, w.deleted[tok])
}

func TestSetBehaviourKeepsThrottlesWhenTheyDoNotChange(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{DevicePerMinute: 2, CollapsibleBurst: -1}})
	tok := w.device()
	w.connect(tok)
	for i := range 3 {
		w.send(dataMsg(tok, i))
	}
	require.NoError(t, w.core.SetBehaviour(Behaviour{Latency: 0, Throttles: Throttles{DevicePerMinute: 2, CollapsibleBurst: -1}}))
	w.send(dataMsg(tok, 3))
	requireCount(t, w.received[tok], 2)
	require.Error(t, w.core.SetBehaviour(Behaviour{Loss: 3}))
	_, err := New(Config{Behaviour: Behaviour{Throttles: Throttles{CollapsibleRefill: -1}}})
	require.Error(t, err)
}

func TestTimersOfDeliveredMessagesAreSwept(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{CollapsibleBurst: -1, DevicePerMinute: -1, DevicePerHour: -1}})
	tok := w.device()
	w.connect(tok)
	for i := range 20000 {
		w.send(dataMsg(tok, i))
	}
	require.Less(t, w.core.timers.Len(), 8192, "expiry timers of delivered messages do not pile up")
}

func TestRecordsAreCapped(t *testing.T) {
	core, err := New(Config{MaxRecords: 100})
	require.NoError(t, err)
	p, _ := core.CreateProject(ProjectSpec{ID: "demo", SenderID: "1"})
	tok, _ := core.RegisterDevice(epoch, DeviceSpec{SenderID: p.SenderID, PackageName: "com.example.im"})
	var first SendResult
	for i := range 1000 {
		r := core.Send(epoch, SendRequest{API: APIV1, Project: "demo", Message: dataMsg("bogus", i)})
		if i == 0 {
			first = r
		}
	}
	pending := core.Send(epoch, SendRequest{API: APIV1, Project: "demo", Message: dataMsg(tok, 1)})
	require.LessOrEqual(t, len(core.Records(RecordFilter{})), 100)
	_, ok := core.Record(pending.MessageID)
	require.True(t, ok)
	require.Greater(t, core.Records(RecordFilter{})[0].Seq, first.Record, "the oldest finished records are gone")
}

// TestCountsOnlyKeepsNoRecordsAndDeliversTheSame runs the same sends through a recording core
// and a counting one — collapse keys, the offline queue, a throttle in delay mode, force-stops,
// reconnections, late acks and TTLs —: the same answers, deliveries and counts, and no records in
// the second.
func TestCountsOnlyKeepsNoRecordsAndDeliversTheSame(t *testing.T) {
	run := func(countsOnly bool) (Stats, []SendResult, []Delivery, int) {
		core, err := New(Config{Seed: 7, CountsOnly: countsOnly, Behaviour: Behaviour{
			Jitter: duration.Of(time.Second), Throttles: Throttles{Mode: ThrottleDelay, DevicePerMinute: 20}}})
		require.NoError(t, err)
		p, err := core.CreateProject(ProjectSpec{ID: "demo", SenderID: "1"})
		require.NoError(t, err)
		tok, err := core.RegisterDevice(epoch, DeviceSpec{SenderID: p.SenderID, PackageName: "com.example.im"})
		require.NoError(t, err)
		now := epoch
		var results []SendResult
		var out []Delivery
		for i := range 300 {
			now = now.Add(time.Second)
			m := dataMsg(tok, i)
			switch i % 5 {
			case 1:
				m = keyed(tok, fmt.Sprintf("k%d", i%3), fmt.Sprint(i))
			case 2:
				m = withTTL(m, time.Duration(i%3)*time.Second)
			}
			results = append(results, core.Send(now, SendRequest{API: APIV1, Project: "demo", Message: m}),
				core.Send(now, SendRequest{API: APIV1, Project: "demo", Message: dataMsg("bogus", i)}))
			switch i % 40 {
			case 5, 32:
				require.NoError(t, core.Connect(now, tok))
			case 30:
				require.NoError(t, core.ForceStop(now, tok))
			case 38:
				core.Disconnect(now, tok)
			}
			core.Tick(now)
			for _, d := range core.TakeOutbox() {
				out = append(out, d)
				if d.Message != nil && i%3 != 0 {
					// Some late, after a force-stop or a disconnection took the message back.
					_ = core.Ack(now, tok, d.Message.MessageID)
				}
			}
		}
		return core.Stats(), results, out, len(core.Records(RecordFilter{}))
	}
	kept, keptResults, keptOut, keptRecords := run(false)
	counted, countedResults, countedOut, countedRecords := run(true)
	require.Equal(t, 600, keptRecords)
	require.Zero(t, countedRecords, "a counting core keeps no record")
	require.Equal(t, kept, counted)
	require.Equal(t, keptResults, countedResults)
	require.Equal(t, keptOut, countedOut)
	require.Greater(t, kept.Delivered, int64(50))
	require.Positive(t, kept.Dropped[FateCollapsed])
	require.Positive(t, kept.Dropped[FateTTLExpired])
	require.NotEmpty(t, kept.Throttled)
}

// TestARequeueKeepsTheNewestFourOfManyCollapseKeys: a connected phone can have any number of
// collapse keys in flight; when its connection drops, only the newest four stay queued.
func TestARequeueKeepsTheNewestFourOfManyCollapseKeys(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{CollapsibleBurst: -1}})
	w.noAck = true
	tok := w.device()
	w.connect(tok)
	var rs []SendResult
	for i := range 20 {
		rs = append(rs, w.send(keyed(tok, fmt.Sprintf("k%d", i), fmt.Sprint(i))))
	}
	w.core.Disconnect(w.now, tok)
	for i, r := range rs {
		want := FateCollapseKeyLimit
		if i >= 16 {
			want = FatePending
		}
		require.Equal(t, want, w.record(r).Fate, "message %d", i)
	}
	w.noAck = false
	w.connect(tok)
	require.Equal(t, []string{"16", "17", "18", "19"}, bodies(w.received[tok][20:]))
}

func TestForceStopTakesBackWhatIsInFlightAndAcceptsLateAcks(t *testing.T) {
	w := newBench(t, Behaviour{})
	w.noAck = true
	tok := w.device()
	w.connect(tok)
	r := w.send(notif(tok, "x"))
	require.NoError(t, w.core.ForceStop(w.now, tok))
	require.Equal(t, FatePending, w.record(r).Fate)
	// The phone had shown it after all: its ack arrives late.
	require.NoError(t, w.core.Ack(w.now, tok, w.received[tok][0].MessageID))
	require.Equal(t, FateDelivered, w.record(r).Fate)
	w.noAck = false
	w.connect(tok)
	require.Len(t, w.received[tok], 1, "not delivered twice")
}

func TestTTLRunsOutWhileOnItsWay(t *testing.T) {
	w := newBench(t, Behaviour{Latency: duration.Of(time.Minute)})
	tok := w.device()
	w.connect(tok)
	r := w.send(withTTL(notif(tok, "late"), time.Second))
	w.advance(2 * time.Minute)
	require.Equal(t, FateTTLExpired, w.record(r).Fate)
	require.Empty(t, w.received[tok])
}

func TestNormalPriorityWaitsAndJitterSpreads(t *testing.T) {
	w := newBench(t, Behaviour{NormalPriorityDelay: duration.Of(time.Minute), Jitter: duration.Of(time.Second)})
	tok := w.device()
	w.connect(tok)
	high := notif(tok, "high")
	high.Android = &AndroidConfig{Priority: "high"}
	w.send(notif(tok, "normal"))
	w.send(high)
	w.advance(2 * time.Second)
	require.Empty(t, w.received[tok], "per device, deliveries keep their order: high waits behind normal")
	w.advance(time.Minute)
	require.Equal(t, []string{"normal", "high"}, bodies(w.received[tok]))

	recs := w.core.Records(RecordFilter{Token: tok})
	require.NotEqual(t, recs[0].DispatchedAt.Sub(recs[0].ReceivedAt), time.Minute, "jitter adds to the delay")
}

func TestLossAndFaultProbabilityDrawFromTheSeed(t *testing.T) {
	w := newBench(t, Behaviour{Loss: 0.25})
	tok := w.device()
	lost := 0
	for i := range 2000 {
		if w.record(w.send(dataMsg(tok, i))).Fate == FateLoss {
			lost++
		}
	}
	require.InDelta(t, 500, lost, 75)

	require.NoError(t, w.core.SetFaults([]FaultRule{{Status: 503, Probability: 0.5}}))
	failed := 0
	for i := range 2000 {
		if w.send(dataMsg(tok, i)).Err != nil {
			failed++
		}
	}
	require.InDelta(t, 1000, failed, 100)
}

func TestMoreValidationRules(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	big := string(make([]byte, MaxTopicPayloadBytes))
	for _, tc := range []struct {
		name   string
		msg    Message
		legacy string
	}{
		{"topic payload", Message{Topic: "news", Data: map[string]string{"k": big}}, "MessageTooBig"},
		{"from is reserved", Message{Token: tok, Data: map[string]string{"from": "x"}}, "InvalidDataKey"},
		{"message_type is reserved", Message{Token: tok, Data: map[string]string{"message_type": "x"}}, "InvalidDataKey"},
		{"gcm.* is reserved", Message{Token: tok, Android: &AndroidConfig{Data: map[string]string{"gcm.x": "1"}}}, "InvalidDataKey"},
		{"bad colour", Message{Token: tok, Android: &AndroidConfig{Notification: &AndroidNotification{Color: "red"}}}, "InvalidParameters"},
		{"bad priority", Message{Token: tok, Android: &AndroidConfig{Priority: "urgent"}}, "InvalidParameters"},
		{"bad topic", Message{Topic: "/topics/news"}, "InvalidRegistration"},
	} {
		r := w.send(tc.msg)
		require.NotNil(t, r.Err, tc.name)
		require.Equal(t, tc.legacy, r.Err.LegacyError(), tc.name)
	}
	require.Nil(t, w.send(Message{Topic: "news", Data: map[string]string{"k": big[:2000]}}).Err)
}

func TestCollapseKeyAloneMakesAMessageCollapsible(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{CollapsibleBurst: 1}})
	tok := w.device()
	w.connect(tok)
	m := func(i int) Message {
		return Message{Token: tok, Data: map[string]string{"i": fmt.Sprint(i)}, Android: &AndroidConfig{CollapseKey: fmt.Sprint("k", i)}}
	}
	w.send(m(1))
	held := w.send(m(2))
	require.Equal(t, ThrottledCollapsibleBurst, w.record(held).Throttle)
}

func TestRecordFilterAfterAndProjectOrder(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	r1 := w.send(notif(tok, "1"))
	w.send(notif(tok, "2"))
	after := w.core.Records(RecordFilter{Token: tok, After: r1.Record})
	require.Len(t, after, 1)
	require.Equal(t, "2", after[0].Payload.Notification.Body)
	for _, id := range []string{"zeta", "alpha", "mid"} {
		_, err := w.core.CreateProject(ProjectSpec{ID: id})
		require.NoError(t, err)
	}
	var ids []string
	for _, p := range w.core.Projects() {
		ids = append(ids, p.ID)
	}
	require.Equal(t, []string{"alpha", "demo", "mid", "zeta"}, ids)
}

func TestTokenExpiryCountsFromTheLastDisconnection(t *testing.T) {
	w := newBench(t, Behaviour{TokenExpiry: duration.Of(24 * time.Hour)})
	tok := w.device()
	w.connect(tok)
	w.advance(48 * time.Hour) // connected all along: active
	w.core.Disconnect(w.now, tok)
	w.advance(23 * time.Hour)
	require.Nil(t, w.send(notif(tok, "x")).Err)
	w.advance(2 * time.Hour)
	info, _ := w.core.Device(tok)
	require.False(t, info.Registered)
	require.Equal(t, Unregistered, w.send(notif(tok, "y")).Err.Code)
}
