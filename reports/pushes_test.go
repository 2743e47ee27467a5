package reports

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func push(at int64, title, body, id string, latency int64) Event {
	return Event{AtMs: at, Kind: "push", Title: title, Text: body, Detail: id, LatencyMs: &latency}
}

func TestLinkPushesByMessageID(t *testing.T) {
	s := &Scenario{
		FCM: []FCMMessage{
			{Seq: 1, Device: "a", ReceivedAtMs: 100, Fate: "delivered", FateAtMs: ptr[int64](340), Title: "bob", Body: "hi", MessageID: "m1"},
			{Seq: 2, Device: "a", ReceivedAtMs: 110, Fate: "collapsed", FateAtMs: ptr[int64](120), Title: "bob", Body: "hi", MessageID: "m2"},
			{Seq: 3, Device: "a", ReceivedAtMs: 130, Fate: "delivered", FateAtMs: ptr[int64](360), Title: "bob", Body: "hi", MessageID: "m3"},
			{Seq: 4, Device: "", ReceivedAtMs: 150, Fate: "rejected", Error: "UNREGISTERED"},
		},
		Devices: []Device{{ID: "a", Events: []Event{
			push(330, "bob", "hi", "m3", 200), // FCM keeps order per device, but the ID decides
			push(335, "bob", "hi", "m1", 235),
			push(900, "bob", "hi", "m1", 800), // redelivered after a reconnection
		}}},
	}
	want := []Push{
		{FCMSeq: 1, Device: "a", Title: "bob", Body: "hi", SentAtMs: 100, Fate: "delivered", FateAtMs: ptr[int64](340),
			ArrivedAtMs: ptr[int64](335), LatencyMs: ptr[int64](235), Arrivals: 2},
		{FCMSeq: 2, Device: "a", Title: "bob", Body: "hi", SentAtMs: 110, Fate: "collapsed", FateAtMs: ptr[int64](120)},
		{FCMSeq: 3, Device: "a", Title: "bob", Body: "hi", SentAtMs: 130, Fate: "delivered", FateAtMs: ptr[int64](360),
			ArrivedAtMs: ptr[int64](330), LatencyMs: ptr[int64](200), Arrivals: 1},
		{FCMSeq: 4, SentAtMs: 150, Fate: "rejected", Error: "UNREGISTERED"},
	}
	if d := cmp.Diff(want, LinkPushes(s)); d != "" {
		t.Errorf("pushes (-want +got):\n%s", d)
	}
}

func TestLinkPushesWithoutMessageIDsMatchesOldestFirst(t *testing.T) {
	s := &Scenario{
		FCM: []FCMMessage{
			{Seq: 1, Device: "a", ReceivedAtMs: 100, Fate: "unregistered", Title: "bob", Body: "hi"}, // arrived, then uninstalled
			{Seq: 2, Device: "a", ReceivedAtMs: 110, Fate: "rejected", Title: "bob", Body: "hi"},
			{Seq: 3, Device: "a", ReceivedAtMs: 120, Fate: "delivered", Title: "bob", Body: "hi"},
			{Seq: 4, Device: "b", ReceivedAtMs: 120, Fate: "delivered", Title: "bob", Body: "hi"},
			{Seq: 5, Device: "a", ReceivedAtMs: 5000, Fate: "delivered", Title: "bob", Body: "hi"}, // sent after the arrivals
		},
		Devices: []Device{{ID: "a", Events: []Event{
			push(300, "bob", "hi", "x1", 200),
			push(310, "bob", "hi", "x2", 190),
			push(320, "bob", "hi", "x1", 220), // a duplicate of x1
		}}},
	}
	got := LinkPushes(s)
	arrivals := func(i int) int { return got[i].Arrivals }
	require.Equal(t, 2, arrivals(0), "first arrival and its duplicate")
	require.Equal(t, 0, arrivals(1), "a refused send never arrives")
	require.Equal(t, 1, arrivals(2))
	require.Equal(t, 0, arrivals(3), "another device's")
	require.Equal(t, 0, arrivals(4), "sent after the arrivals")
	require.Equal(t, int64(310), *got[2].ArrivedAtMs)
}

func TestTotalsCountArrivedPushesAsDelivered(t *testing.T) {
	s := &Scenario{
		Expectations: []Expectation{{Held: true}, {Held: false}},
		Trace:        []TraceEntry{{Reason: "pushed"}, {Reason: "pushed"}, {Reason: "fcm-ok"}, {Reason: "online"}},
		FCM: []FCMMessage{
			{Seq: 1, Device: "a", ReceivedAtMs: 100, Fate: "in-flight", Title: "t", Body: "b", MessageID: "m1"},
			{Seq: 2, Device: "a", ReceivedAtMs: 100, Fate: "loss", Title: "t", Body: "b", MessageID: "m2"},
			{Seq: 3, Device: "a", ReceivedAtMs: 100, Fate: "rejected", Error: "INVALID_ARGUMENT"},
			{Seq: 4, Device: "a", ReceivedAtMs: 100, Fate: "delivered", Title: "t", Body: "b", MessageID: "m4"},
		},
		Devices: []Device{{ID: "a", Events: []Event{push(300, "t", "b", "m1", 200), push(310, "t", "b", "m1", 210), push(320, "t", "b", "m4", 220)}}},
	}
	got := SummarizeScenario(s)
	require.Equal(t, 2, got.Expectations)
	require.Equal(t, 1, got.Held)
	require.Equal(t, 3, got.PushesSent, "FCM accepted three")
	require.Equal(t, 2, got.PushesDelivered, "the in-flight one arrived")
	require.InDelta(t, 2.0/3, got.DeliveryRatio, 1e-9)
	require.Equal(t, 1, got.Duplicates)
	require.Equal(t, map[string]int{"pushed": 2, "fcm-ok": 1, "online": 1}, got.Reasons)
	require.Equal(t, map[string]int{"in-flight": 1, "loss": 1, "rejected": 1, "delivered": 1}, got.Fates)
	require.Equal(t, Percentiles{Count: 3, P50: 210, P90: 220, P99: 220, Max: 220}, got.PushLatencyMs)
}

func TestCompleteIsIdempotent(t *testing.T) {
	r := SampleReport()
	again := SampleReport()
	Complete(again)
	if d := cmp.Diff(r, again); d != "" {
		t.Errorf("completing twice changed the report (-once +twice):\n%s", d)
	}
	require.Equal(t, 4, r.Totals.Scenarios)
	require.Equal(t, 1, r.Totals.Passed)
	require.Equal(t, 3, r.Totals.Failed)
	require.Equal(t, map[string]int{"delivered": 1, "collapsed": 1}, r.Totals.Fates)
}

func TestSummaryTable(t *testing.T) {
	r := SampleReport()
	r.Totals.Reasons = map[string]int{"online": 50, "pushed": 30, "fcm-ok": 10, "kicked": 5, "muted": 3, "logged-out": 2}
	var b strings.Builder
	require.NoError(t, WriteSummary(&b, r, 3))
	out := b.String()
	for _, want := range []string{
		"seed 7, virtual mode",
		"1 passed, 3 failed",
		"2 of 3", // expectations held
		"invariants broken", "1 (the oracle watched 2 of 3 scenarios)",
		"2, 1 delivered (50.0%), 1 duplicate(s)",
		"220ms / 235ms / 235ms (2 arrivals)",
		"100 trace entries",
		"online", "50 (50.0%)", "pushed", "30 (30.0%)", "fcm-ok", "10 (10.0%)",
		"3 other reasons", "10 (10.0%)",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "kicked", "beyond the top 3")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		require.Equal(t, len([]rune(lines[0])), len([]rune(l)), "a table: every line as wide:\n%s", out)
	}
}

func TestPushesAreLinkedOnce(t *testing.T) {
	s := &Scenario{
		FCM:     []FCMMessage{{Seq: 1, Device: "a", ReceivedAtMs: 100, Fate: "delivered", Title: "t", Body: "b", MessageID: "m1"}},
		Devices: []Device{{ID: "a", Events: []Event{push(300, "t", "b", "m1", 200)}}},
	}
	SummarizeScenario(s)
	require.Len(t, s.Pushes, 1, "summing up links the pushes")
	linked := s.Pushes
	s.Devices = nil // were they linked again, the push would have no arrival
	r := &Report{Scenarios: []Scenario{*s}}
	Complete(r)
	require.Equal(t, linked, r.Scenarios[0].Pushes, "completing keeps the pushes the scenario has")
	require.Equal(t, 1, r.Totals.PushesDelivered)
}
