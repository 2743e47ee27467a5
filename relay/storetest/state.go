// Package storetest holds what the relay.Store implementations' tests share: the State
// comparison, the random records of the conformance property, the property itself run over any
// number of stores at once (twins), and the suites every durable store passes (DurableSuite,
// TraceSuite).
package storetest

import (
	"context"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// StateOpts compare States as the relay core reads them: secrets by value, times by instant
// (the store gives them back in UTC, without a monotonic reading).
var StateOpts = cmp.Options{
	cmp.Comparer(func(a, b secret.Secret) bool { return a.Equal(b) }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

// Normalize makes an empty inbox nil: MemoryStore returns an empty inbox as nil or as an empty
// slice depending on how it emptied, a difference nothing reads.
func Normalize(st *relay.State) *relay.State {
	for k, msgs := range st.Messages {
		if len(msgs) == 0 {
			st.Messages[k] = nil
		}
	}
	return st
}

// RequireSameState fails unless both stores load the same State (want is usually the memory
// store, the reference).
func RequireSameState(t require.TestingT, ctx context.Context, want relay.Store, got relay.Store, msgAndArgs ...any) {
	w, err := want.Load(ctx)
	require.NoError(t, err)
	g, err := got.Load(ctx)
	require.NoError(t, err)
	if diff := cmp.Diff(Normalize(w), Normalize(g), StateOpts); diff != "" {
		require.Fail(t, "states differ (-want +got):\n"+diff, msgAndArgs...)
	}
}
