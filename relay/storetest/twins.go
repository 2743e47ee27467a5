package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/relay"
)

// Twin is a store under test in a conformance property: Fresh gives an empty one for each check,
// and a function that releases it after the check.
type Twin struct {
	Name  string
	Fresh func(t *rapid.T) (relay.Store, func())
}

// CheckTwins applies random records, in random batches, to a MemoryStore and to a fresh store of
// each twin, and requires every twin to load the memory store's State after every batch.
func CheckTwins(t *testing.T, twins ...Twin) {
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		mem := relay.NewMemoryStore()
		stores := make([]relay.Store, len(twins))
		for i, tw := range twins {
			s, release := tw.Fresh(rt)
			defer release()
			stores[i] = s
		}
		u := NewUniverse()
		for batch := range rapid.IntRange(1, 12).Draw(rt, "batches") {
			var records []relay.Record
			for range rapid.IntRange(0, 8).Draw(rt, "batchSize") {
				records = append(records, u.DrawRecord(rt))
			}
			require.NoError(rt, mem.Apply(ctx, records))
			for i, s := range stores {
				require.NoError(rt, s.Apply(ctx, records), "%s: batch %d", twins[i].Name, batch)
				RequireSameState(rt, ctx, mem, s, "%s (+) against memory (-), after batch %d", twins[i].Name, batch)
			}
		}
	})
}
