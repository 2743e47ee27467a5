package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

// twin is the SQLite store as a conformance-property twin: a new database file for each check.
func twin(t *testing.T) storetest.Twin {
	dir := t.TempDir()
	run := 0
	return storetest.Twin{Name: "sqlite", Fresh: func(rt *rapid.T) (relay.Store, func()) {
		run++
		db, err := Open(filepath.Join(dir, fmt.Sprintf("run%d.db", run)))
		require.NoError(rt, err)
		return db, func() { require.NoError(rt, db.Close()) }
	}}
}

func TestTraceSuite(t *testing.T) {
	storetest.TraceSuite(t, func(t *testing.T) relay.Store { return openStore(t, filepath.Join(t.TempDir(), "relay.db")) })
}

func TestTracePropertyMatchesMemoryStore(t *testing.T) { storetest.CheckTraceTwin(t, twin(t)) }

// The trace's reads run on connections of their own: while a batch holds the writing
// connection, an admin query answers, and pruning counts the entries and looks for aged ones,
// finding none due, without waiting for it. (The context's deadline only bounds a failure: they would wait for it.)
func TestTraceReadsDoNotWaitForTheWriter(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "relay.db"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const app = 1400000001
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	var entries []relay.TraceEntry
	for i := range 6 {
		entries = append(entries, relay.TraceEntry{Time: t0.Add(time.Duration(i) * time.Minute), SDKAppID: app,
			UserID: "alice", DeviceID: "phone", Seq: uint64(i + 1), Reason: relay.ReasonPushed})
	}
	require.NoError(t, s.Apply(ctx, []relay.Record{relay.AppendTrace{Entries: entries}}))

	batch, err := s.db.BeginTx(ctx, nil) // the one writing connection, as a batch being written holds it
	require.NoError(t, err)
	_, err = batch.ExecContext(ctx, `DELETE FROM trace WHERE seq = 0`)
	require.NoError(t, err)
	page, err := s.QueryTrace(ctx, relay.TraceQuery{SDKAppID: app, Limit: 10})
	require.NoError(t, err, "an admin query waits for the writer")
	require.Len(t, page.Entries, 6)
	n, err := s.PruneTrace(ctx, relay.TracePrune{Before: t0, Keep: 6, Batch: 10})
	require.NoError(t, err, "the count or the search for aged entries waits for the writer")
	require.Zero(t, n)
	require.NoError(t, batch.Rollback())

	// With entries due, the delete takes the writer and deletes those found, up to the batch.
	n, err = s.PruneTrace(ctx, relay.TracePrune{Before: t0.Add(3 * time.Minute), Batch: 2})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = s.PruneTrace(ctx, relay.TracePrune{Before: t0.Add(3 * time.Minute), Batch: 10})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	page, err = s.QueryTrace(ctx, relay.TraceQuery{SDKAppID: app, Limit: 10})
	require.NoError(t, err)
	require.Len(t, page.Entries, 3)
	require.Equal(t, t0.Add(3*time.Minute), page.Entries[0].Time.UTC())
}
