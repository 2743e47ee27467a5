package sqlitestore

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

// Stage keeps nothing of the records it encodes: the caller (the relay's loop) goes on changing
// them while the batch commits on another goroutine, and the batch stores them as they were.
func TestAStagedBatchKeepsNothingOfItsRecords(t *testing.T) {
	ctx := context.Background()
	records := func() []relay.Record {
		return append(storetest.Sample(), relay.AppendTrace{Entries: storetest.TraceFixture()})
	}
	want := openStore(t, filepath.Join(t.TempDir(), "want.db"))
	require.NoError(t, want.Apply(ctx, records()))

	got := openStore(t, filepath.Join(t.TempDir(), "got.db"))
	rs := records()
	b, err := got.Stage(rs)
	require.NoError(t, err)
	storetest.Scribble(reflect.ValueOf(rs))
	require.NoError(t, b.Commit(ctx))

	storetest.RequireEqualStates(t, storetest.Load(t, want), storetest.Load(t, got))
	wantTrace, err := want.QueryTrace(ctx, relay.TraceQuery{})
	require.NoError(t, err)
	gotTrace, err := got.QueryTrace(ctx, relay.TraceQuery{})
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(wantTrace, gotTrace), "the trace as staged")
}
