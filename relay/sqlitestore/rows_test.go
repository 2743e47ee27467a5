package sqlitestore

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

// Batches of the relay's push traffic, sized so that each kind's rows fill chunks of every size
// and end past their boundaries (a batch of n messages writes 2n messages, n sessions and pushes,
// the last batch's n deletions and 3 trace entries a message), read back as the memory store
// holds them: no row lost, none written twice, the trace in the batches' order (a message's two
// entries share their time, so only their seqs order them).
func TestRowsOfAKindInChunksReadBackInOrder(t *testing.T) {
	ctx := context.Background()
	mem, s := relay.NewMemoryStore(), openStore(t, filepath.Join(t.TempDir(), "relay.db"))
	load := newPushTraffic()
	for _, n := range []int{1, 2, 5, 8, 21, 32, 33, 85, 3} {
		records := load.batch(n)
		require.NoError(t, mem.Apply(ctx, records))
		require.NoError(t, s.Apply(ctx, records), "a batch of %d messages", n)
		storetest.RequireSameState(t, ctx, mem, s, "after a batch of %d messages", n)
	}
	want, err := mem.QueryTrace(ctx, relay.TraceQuery{})
	require.NoError(t, err)
	got, err := s.QueryTrace(ctx, relay.TraceQuery{})
	require.NoError(t, err)
	require.Len(t, got.Entries, 3*190-3)
	require.Empty(t, cmp.Diff(want.Entries, got.Entries), "the trace (-memory +sqlite)")
}

// A row that fails in a statement of several records' rows is reported as its own record's
// failure, as a statement of its own would be, and the batch leaves the store as it was.
func TestAFailedChunkNamesItsRecord(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "relay.db"))
	require.NoError(t, s.Apply(ctx, storetest.Sample()))
	before := storetest.Load(t, s)

	// Seqs 3 to 19, and 2 again (alice has it) as the 10th: the first chunk, of 16, fails.
	var records []relay.Record
	for i := range uint64(17) {
		seq := i + 3
		if i == 9 {
			seq = 2
		}
		records = append(records, relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: seq, ID: strconv.FormatUint(seq, 10),
			Time: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}})
	}
	err := s.Apply(ctx, records)
	require.ErrorContains(t, err, "apply PutMessage 1400000001/alice/2 (record 10 of 17)")
	require.ErrorContains(t, err, "UNIQUE constraint failed")
	storetest.RequireEqualStates(t, before, storetest.Load(t, s))
}

// A batch with a DeleteApp is not compacted (relay.CompactRecords): puts of the same key can
// share a statement, in which the later row wins, as the later record does in the memory store.
func TestTheLaterRowOfAKeyWinsInAStatement(t *testing.T) {
	ctx := context.Background()
	mem, s := relay.NewMemoryStore(), openStore(t, filepath.Join(t.TempDir(), "relay.db"))
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	session := func(device string, unread int) relay.Record {
		return relay.PutSession{Session: relay.SessionState{Key: relay.DeviceKey{SDKAppID: 1400000001, UserID: "alice",
			DeviceID: device}, Platform: "android", LoginAt: at, Unread: unread}}
	}
	push := func(id uint64, title string) relay.Record {
		return relay.PutPush{Push: relay.PushState{Push: relay.Push{ID: id, Device: relay.DeviceKey{SDKAppID: 1400000001,
			UserID: "alice", DeviceID: "phone"}, Title: title, Seqs: []uint64{1}, Attempt: 1}}}
	}
	records := []relay.Record{relay.DeleteApp{SDKAppID: 1400000002},
		session("phone", 1), session("tablet", 1), session("phone", 2), session("phone", 3),
		relay.PutCounter{Name: "messages", Value: 1}, relay.PutCounter{Name: "messages", Value: 2},
		relay.PutCounter{Name: "pushes", Value: 1}, relay.PutCounter{Name: "messages", Value: 3},
		push(1, "a"), push(2, "a"), push(1, "b"), push(1, "c"),
		relay.DeletePush{ID: 2}, relay.DeletePush{ID: 3}, relay.DeletePush{ID: 2}, relay.DeletePush{ID: 4}}
	require.NoError(t, mem.Apply(ctx, records))
	require.NoError(t, s.Apply(ctx, records))
	storetest.RequireSameState(t, ctx, mem, s)
	st := storetest.Load(t, s)
	require.Equal(t, uint64(3), st.Counters["messages"])
}
