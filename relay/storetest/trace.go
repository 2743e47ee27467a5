package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/relay"
)

// TraceSuite runs the push-trace tests on the memory store and on a store open gives (empty, and
// closed when the test ends): queries by each key, paging, retention, refusals.
func TraceSuite(t *testing.T, open func(t *testing.T) relay.Store) {
	t.Run("query", func(t *testing.T) { traceQuery(t, open) })
	t.Run("retention", func(t *testing.T) { traceRetention(t, open) })
	t.Run("entry without time", func(t *testing.T) { traceEntryWithoutTime(t, open) })
}

// withMemory is the stores a trace test runs on alike: the memory store and the one under test.
func withMemory(t *testing.T, open func(t *testing.T) relay.Store) map[string]relay.Store {
	return map[string]relay.Store{"memory": relay.NewMemoryStore(), "store": open(t)}
}

var traceT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// TraceFixture is ten entries a second apart: alice's phone and bob's tablet on two
// certificates, each about its own message, with a pair at the same instant (6 and 7) so that
// the order by seq shows.
func TraceFixture() []relay.TraceEntry {
	var es []relay.TraceEntry
	for i := range 10 {
		e := relay.TraceEntry{Time: traceT0.Add(time.Duration(min(i, 6)+max(i-7, 0)) * time.Second), SDKAppID: 1400000001,
			UserID: "alice", DeviceID: "phone", CertificateID: 6768, Seq: uint64(i + 1), MsgID: fmt.Sprintf("m%d", i),
			Reason: relay.ReasonPushed, PushID: uint64(100 + i), Attempt: 1}
		if i%2 == 1 {
			e.UserID, e.DeviceID, e.CertificateID, e.Reason, e.FCMName = "bob", "tablet", 6769, relay.ReasonFCMOK, "projects/p/messages/"+e.MsgID
		}
		if i == 9 {
			e.Seq, e.MsgID, e.Seqs = 0, "", []uint64{3, 4}
		}
		es = append(es, e)
	}
	return es
}

func msgIDs(es []relay.TraceEntry) []string {
	var ids []string
	for _, e := range es {
		ids = append(ids, fmt.Sprintf("%s@%d", e.MsgID, e.Time.Sub(traceT0)/time.Second))
	}
	return ids
}

// traceQuery: each troubleshooting key selects its entries, oldest first, and
// paging walks from the newest page to the oldest without losing or repeating an entry.
func traceQuery(t *testing.T, open func(t *testing.T) relay.Store) {
	for name, s := range withMemory(t, open) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			es := TraceFixture()
			require.NoError(t, s.Apply(ctx, []relay.Record{relay.AppendTrace{Entries: es[:4]}}))
			require.NoError(t, s.Apply(ctx, []relay.Record{relay.PutCounter{Name: "x", Value: 1}, relay.AppendTrace{Entries: es[4:]}}))

			all, err := s.QueryTrace(ctx, relay.TraceQuery{})
			require.NoError(t, err)
			if diff := cmp.Diff(es, all.Entries); diff != "" {
				t.Fatalf("every entry, as appended (-want +got):\n%s", diff)
			}
			require.True(t, all.Next.IsZero())

			for _, tc := range []struct {
				name string
				q    relay.TraceQuery
				want []string
			}{
				{"app", relay.TraceQuery{SDKAppID: 1400000001, Limit: 3}, []string{"m7@6", "m8@7", "@8"}},
				{"other app", relay.TraceQuery{SDKAppID: 1400000002}, nil},
				{"user", relay.TraceQuery{SDKAppID: 1400000001, UserID: "bob"}, []string{"m1@1", "m3@3", "m5@5", "m7@6", "@8"}},
				{"device", relay.TraceQuery{DeviceID: "phone"}, []string{"m0@0", "m2@2", "m4@4", "m6@6", "m8@7"}},
				{"certificate", relay.TraceQuery{SDKAppID: 1400000001, CertificateID: 6768, Limit: 2}, []string{"m6@6", "m8@7"}},
				{"msgId", relay.TraceQuery{SDKAppID: 1400000001, MsgID: "m5"}, []string{"m5@5"}},
				{"time range", relay.TraceQuery{From: traceT0.Add(2 * time.Second), To: traceT0.Add(4 * time.Second)}, []string{"m2@2", "m3@3"}},
				{"user and time", relay.TraceQuery{UserID: "alice", From: traceT0.Add(5 * time.Second)}, []string{"m6@6", "m8@7"}},
			} {
				p, err := s.QueryTrace(ctx, tc.q)
				require.NoError(t, err, tc.name)
				require.Equal(t, tc.want, msgIDs(p.Entries), tc.name)
			}

			// Pages of three, newest first, each oldest first; together, everything.
			var pages [][]string
			q := relay.TraceQuery{SDKAppID: 1400000001, Limit: 3}
			for range 10 { // a bound, so that a cursor that does not page fails rather than loops
				p, err := s.QueryTrace(ctx, q)
				require.NoError(t, err)
				pages = append(pages, msgIDs(p.Entries))
				if p.Next.IsZero() {
					break
				}
				q.Before = p.Next
			}
			require.Equal(t, [][]string{{"m7@6", "m8@7", "@8"}, {"m4@4", "m5@5", "m6@6"}, {"m1@1", "m2@2", "m3@3"}, {"m0@0"}}, pages)
		})
	}
}

// traceRetention: pruning keeps the newest entries by count, drops those past
// the age, in batches, and says when nothing more is due.
func traceRetention(t *testing.T, open func(t *testing.T) relay.Store) {
	for name, s := range withMemory(t, open) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			require.NoError(t, s.Apply(ctx, []relay.Record{relay.AppendTrace{Entries: TraceFixture()}}))
			left := func() []string {
				p, err := s.QueryTrace(ctx, relay.TraceQuery{})
				require.NoError(t, err)
				return msgIDs(p.Entries)
			}
			n, err := s.PruneTrace(ctx, relay.TracePrune{Keep: 7, Batch: 2})
			require.NoError(t, err)
			require.Equal(t, 2, n, "a full batch: more may be due")
			n, err = s.PruneTrace(ctx, relay.TracePrune{Keep: 7, Batch: 2})
			require.NoError(t, err)
			require.Equal(t, 1, n, "less than a batch: the count is kept")
			require.Equal(t, []string{"m3@3", "m4@4", "m5@5", "m6@6", "m7@6", "m8@7", "@8"}, left())

			n, err = s.PruneTrace(ctx, relay.TracePrune{Before: traceT0.Add(6 * time.Second), Keep: 7, Batch: 100})
			require.NoError(t, err)
			require.Equal(t, 3, n)
			require.Equal(t, []string{"m6@6", "m7@6", "m8@7", "@8"}, left())
			n, err = s.PruneTrace(ctx, relay.TracePrune{Before: traceT0.Add(6 * time.Second), Keep: 7, Batch: 100})
			require.NoError(t, err)
			require.Zero(t, n, "nothing more is due")

			_, err = s.PruneTrace(ctx, relay.TracePrune{Keep: 1})
			require.ErrorContains(t, err, "batch 0: must be positive")

			// The numbering goes on after pruning: new entries come after the kept ones.
			late := relay.TraceEntry{Time: traceT0.Add(8 * time.Second), SDKAppID: 1400000001, UserID: "alice", MsgID: "late", Reason: relay.ReasonOnline}
			require.NoError(t, s.Apply(ctx, []relay.Record{relay.AppendTrace{Entries: []relay.TraceEntry{late}}}))
			require.Equal(t, []string{"m6@6", "m7@6", "m8@7", "@8", "late@8"}, left())
		})
	}
}

// traceEntryWithoutTime: an entry without a time cannot be ordered: the stores refuse it, and the whole batch.
func traceEntryWithoutTime(t *testing.T, open func(t *testing.T) relay.Store) {
	for name, s := range withMemory(t, open) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			err := s.Apply(ctx, []relay.Record{relay.PutCounter{Name: "x", Value: 1}, relay.AppendTrace{Entries: []relay.TraceEntry{{UserID: "alice"}}}})
			require.Error(t, err)
			st, err := s.Load(ctx)
			require.NoError(t, err)
			require.Empty(t, st.Counters)
			p, err := s.QueryTrace(ctx, relay.TraceQuery{})
			require.NoError(t, err)
			require.Empty(t, p.Entries)
		})
	}
}

// CheckTraceTwin appends random entries (times that go back included, as a wall clock set back
// across a restart makes them), prunes and pages with random queries, and requires the twin to
// answer as the memory store does, page for page.
func CheckTraceTwin(t *testing.T, twin Twin) {
	certs := []int64{0, 6768, 6769}
	msgs := []string{"", "m1", "m2"}
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		db, release := twin.Fresh(rt)
		defer release()
		mem := relay.NewMemoryStore()
		drawEntry := func() relay.TraceEntry {
			d := DrawDevice(rt)
			return relay.TraceEntry{
				Time:     traceT0.Add(time.Duration(rapid.IntRange(0, 5).Draw(rt, "second")) * time.Second).In(rapid.SampledFrom(Zones).Draw(rt, "zone")),
				SDKAppID: d.SDKAppID, UserID: d.UserID, DeviceID: d.DeviceID,
				CertificateID: rapid.SampledFrom(certs).Draw(rt, "cert"), Seq: rapid.Uint64().Draw(rt, "seq"), Seqs: DrawSeqs(rt, "seqs"),
				MsgID: rapid.SampledFrom(msgs).Draw(rt, "msgId"), Reason: rapid.SampledFrom([]string{relay.ReasonPushed, relay.ReasonFCMOK}).Draw(rt, "reason"),
				PushID: rapid.Uint64().Draw(rt, "pushId"), Attempt: rapid.IntRange(0, 5).Draw(rt, "attempt"),
				FCMName: RawString.Draw(rt, "fcmName"), Detail: RawString.Draw(rt, "detail"),
			}
		}
		drawTimeOrZero := func(label string) time.Time {
			if rapid.Bool().Draw(rt, label+"Set") {
				return traceT0.Add(time.Duration(rapid.IntRange(0, 6).Draw(rt, label)) * time.Second)
			}
			return time.Time{}
		}
		for step := range rapid.IntRange(1, 10).Draw(rt, "steps") {
			switch rapid.IntRange(0, 3).Draw(rt, "op") {
			case 0, 1:
				var es []relay.TraceEntry
				for range rapid.IntRange(0, 6).Draw(rt, "entries") {
					es = append(es, drawEntry())
				}
				rec := []relay.Record{relay.AppendTrace{Entries: es}}
				require.NoError(rt, mem.Apply(ctx, rec))
				require.NoError(rt, db.Apply(ctx, rec))
			case 2:
				p := relay.TracePrune{Before: drawTimeOrZero("before"), Keep: rapid.IntRange(0, 12).Draw(rt, "keep"), Batch: rapid.IntRange(1, 5).Draw(rt, "batch")}
				wn, err := mem.PruneTrace(ctx, p)
				require.NoError(rt, err)
				gn, err := db.PruneTrace(ctx, p)
				require.NoError(rt, err)
				require.Equal(rt, wn, gn, "step %d: pruned by %+v", step, p)
			case 3:
				d := DrawDevice(rt)
				q := relay.TraceQuery{From: drawTimeOrZero("from"), To: drawTimeOrZero("to"), Limit: rapid.IntRange(0, 4).Draw(rt, "limit")}
				if rapid.Bool().Draw(rt, "byApp") {
					q.SDKAppID = d.SDKAppID
				}
				if rapid.Bool().Draw(rt, "byUser") {
					q.UserID = d.UserID
				}
				if rapid.Bool().Draw(rt, "byDevice") {
					q.DeviceID = d.DeviceID
				}
				q.CertificateID = rapid.SampledFrom(certs).Draw(rt, "byCert")
				q.MsgID = rapid.SampledFrom(msgs).Draw(rt, "byMsg")
				for page := 0; page < 100; page++ { // at most 100 entries: a cursor that does not page fails
					want, err := mem.QueryTrace(ctx, q)
					require.NoError(rt, err)
					got, err := db.QueryTrace(ctx, q)
					require.NoError(rt, err)
					if diff := cmp.Diff(want, got, StateOpts); diff != "" {
						rt.Fatalf("step %d, page %d of %+v (-memory +%s):\n%s", step, page, q, twin.Name, diff)
					}
					if want.Next.IsZero() {
						break
					}
					q.Before = want.Next
				}
			}
		}
		// Whatever happened, both hold the same entries in the same order.
		want, err := mem.QueryTrace(ctx, relay.TraceQuery{})
		require.NoError(rt, err)
		got, err := db.QueryTrace(ctx, relay.TraceQuery{})
		require.NoError(rt, err)
		if diff := cmp.Diff(want, got, StateOpts); diff != "" {
			rt.Fatalf("final trace (-memory +%s):\n%s", twin.Name, diff)
		}
	})
}
