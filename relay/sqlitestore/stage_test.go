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

// scribble overwrites, in place, what v shares with its copies: every element of its slices,
// every pointee, and empties its maps. (A record is a value, but its slices, maps and pointers
// are the caller's, who may change them once Stage has returned.)
func scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			scribble(v.Elem())
		}
	case reflect.Pointer:
		if !v.IsNil() {
			scribble(v.Elem())
			v.Elem().SetZero()
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				scribble(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			scribble(v.Index(i))
			v.Index(i).SetZero()
		}
	case reflect.Map:
		v.Clear()
	}
}

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
	scribble(reflect.ValueOf(rs))
	require.NoError(t, b.Commit(ctx))

	storetest.RequireEqualStates(t, storetest.Load(t, want), storetest.Load(t, got))
	wantTrace, err := want.QueryTrace(ctx, relay.TraceQuery{})
	require.NoError(t, err)
	gotTrace, err := got.QueryTrace(ctx, relay.TraceQuery{})
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(wantTrace, gotTrace), "the trace as staged")
}
