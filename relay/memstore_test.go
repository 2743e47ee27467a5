package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

// The memory store's trace keeps its order and prunes the oldest first when it holds thousands
// of entries, by count and by age, a batch at a time.
func TestMemoryStoreTracePrunesThousandsInOrder(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := relay.NewMemoryStore()
	var es []relay.TraceEntry
	for i := range 5000 {
		es = append(es, relay.TraceEntry{Time: t0.Add(time.Duration(i) * time.Millisecond), SDKAppID: 1, UserID: "u", DeviceID: "d",
			Reason: relay.ReasonPushed, PushID: uint64(i + 1)})
	}
	require.NoError(t, s.Apply(ctx, []relay.Record{relay.AppendTrace{Entries: es}}))
	ids := func() []uint64 {
		page, err := s.QueryTrace(ctx, relay.TraceQuery{SDKAppID: 1, UserID: "u"})
		require.NoError(t, err)
		var out []uint64
		for _, e := range page.Entries {
			out = append(out, e.PushID)
		}
		return out
	}
	span := func(from, to uint64) []uint64 {
		var out []uint64
		for id := from; id <= to; id++ {
			out = append(out, id)
		}
		return out
	}
	n, err := s.PruneTrace(ctx, relay.TracePrune{Keep: 2500, Batch: 1800})
	require.NoError(t, err)
	require.Equal(t, 1800, n)
	require.Equal(t, span(1801, 5000), ids())
	n, err = s.PruneTrace(ctx, relay.TracePrune{Keep: 2500, Batch: 1800})
	require.NoError(t, err)
	require.Equal(t, 700, n)
	require.Equal(t, span(2501, 5000), ids())
	// By age: entries before 3.9 s are due, 1,400 of them; a batch takes 1,000.
	n, err = s.PruneTrace(ctx, relay.TracePrune{Before: t0.Add(3900 * time.Millisecond), Batch: 1000})
	require.NoError(t, err)
	require.Equal(t, 1000, n)
	require.Equal(t, span(3501, 5000), ids())
	n, err = s.PruneTrace(ctx, relay.TracePrune{Before: t0.Add(3900 * time.Millisecond), Batch: 1000})
	require.NoError(t, err)
	require.Equal(t, 400, n)
	require.Equal(t, span(3901, 5000), ids())
	more := es[:3:3]
	for i := range more {
		more[i].Time = more[i].Time.Add(time.Minute)
	}
	require.NoError(t, s.Apply(ctx, []relay.Record{relay.AppendTrace{Entries: more}}))
	require.Equal(t, append(span(3901, 5000), 1, 2, 3), ids(), "appended after pruning")
	// A clock set back: an old entry stored last is due too.
	back := relay.TraceEntry{Time: t0, SDKAppID: 1, UserID: "u", DeviceID: "d", Reason: relay.ReasonPushed, PushID: 9999}
	require.NoError(t, s.Apply(ctx, []relay.Record{relay.AppendTrace{Entries: []relay.TraceEntry{back}}}))
	n, err = s.PruneTrace(ctx, relay.TracePrune{Before: t0.Add(3950 * time.Millisecond), Batch: 1000})
	require.NoError(t, err)
	require.Equal(t, 51, n)
	require.Equal(t, append(span(3951, 5000), 1, 2, 3), ids())
}

// Drain hands over what Load copies — the same state, and the trace in the order it was stored —
// and leaves the store as a new one: empty, and numbering its trace afresh.
func TestMemoryStoreDrainHandsOverTheState(t *testing.T) {
	ctx := context.Background()
	s := relay.NewMemoryStore()
	require.NoError(t, s.Apply(ctx, storetest.Sample()))
	trace := storetest.TraceFixture()
	require.NoError(t, s.Apply(ctx, []relay.Record{relay.AppendTrace{Entries: trace}}))
	want, err := s.Load(ctx)
	require.NoError(t, err)
	wantTrace := s.TraceEntries()
	require.Len(t, wantTrace, len(trace))

	got, gotTrace := s.Drain()
	got.Sort()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Drain's state differs from Load's (-load +drain):\n%s", diff)
	}
	require.Equal(t, wantTrace, gotTrace)

	empty, err := s.Load(ctx)
	require.NoError(t, err)
	none, err := relay.NewMemoryStore().Load(ctx)
	require.NoError(t, err)
	if diff := cmp.Diff(none, empty); diff != "" {
		t.Fatalf("a drained store holds what a new one does not (-new +drained):\n%s", diff)
	}
	require.Empty(t, s.TraceEntries())
	// The trace is numbered afresh: of two new entries, the second is number 2.
	require.NoError(t, s.Apply(ctx, []relay.Record{relay.AppendTrace{Entries: trace[:2]}}))
	page, err := s.QueryTrace(ctx, relay.TraceQuery{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, uint64(2), page.Next.Seq)
	require.NoError(t, s.Apply(ctx, storetest.Sample()), "a drained store takes batches as a new one does")
}
