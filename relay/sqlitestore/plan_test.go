package sqlitestore

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// queryPlan is SQLite's plan for query, one line per step.
func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.db.Query("EXPLAIN QUERY PLAN "+query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		steps = append(steps, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(steps, "\n")
}

// Each push-trace query the admin API makes (it always names the app) reads the index for its
// keys, in the order it answers in (no sort of the matches), and pruning walks the trace's
// seq order: no trace query needs the index the schema dropped, nor scans what an index should
// serve. (The other dropped index, pushes_by_app, served only DeleteApp's delete of an app's
// pending pushes, which now scans the pushes table: it holds only the pushes not finished yet,
// in flight or waiting for a retry, not their history.)
func TestTraceQueriesReadTheirIndex(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "relay.db"))
	const app = 1400000001
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	before := relay.TraceCursor{Time: at, Seq: 7}
	for _, tc := range []struct {
		name  string
		q     relay.TraceQuery
		index string
	}{
		{"app", relay.TraceQuery{SDKAppID: app, Limit: 100}, "trace_by_app (sdk_app_id=?)"},
		{"app and time", relay.TraceQuery{SDKAppID: app, From: at, To: at.Add(time.Hour), Limit: 100}, "trace_by_app (sdk_app_id=? AND time_ns>? AND time_ns<?)"},
		{"app, next page", relay.TraceQuery{SDKAppID: app, Before: before, Limit: 100}, "trace_by_app (sdk_app_id=? AND time_ns<?)"},
		{"user", relay.TraceQuery{SDKAppID: app, UserID: "alice", Limit: 100}, "trace_by_user (sdk_app_id=? AND user_id=?)"},
		{"device", relay.TraceQuery{SDKAppID: app, UserID: "alice", DeviceID: "phone", Before: before, Limit: 100}, "trace_by_user (sdk_app_id=? AND user_id=? AND time_ns<?)"},
		{"certificate", relay.TraceQuery{SDKAppID: app, CertificateID: 6768, Limit: 100}, "trace_by_certificate (sdk_app_id=? AND certificate_id=?)"},
		{"message", relay.TraceQuery{SDKAppID: app, MsgID: "1400000001-7", Limit: 100}, "trace_by_msg (sdk_app_id=? AND msg_id=?)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			query, args, err := traceSelect(tc.q)
			require.NoError(t, err)
			require.Equal(t, "SEARCH trace USING INDEX "+tc.index, queryPlan(t, s, query, args...))
		})
	}
	for query, want := range map[string]string{
		oldestTraceSQL: "CO-ROUTINE (subquery-1)\nSCAN trace\nSEARCH (subquery-1)",
		agedTraceSQL:   "CO-ROUTINE (subquery-1)\nSCAN trace\nSEARCH (subquery-1)",
		// The deletes read only the entries up to the last one found, not the whole trace.
		pruneOldestTraceSQL: "SEARCH trace USING INTEGER PRIMARY KEY (rowid<?)",
		pruneAgedTraceSQL:   "SEARCH trace USING INTEGER PRIMARY KEY (rowid<?)",
	} {
		require.Equal(t, want, queryPlan(t, s, query, placeholderArgs(strings.Count(query, "?"))...), query)
	}
}

// placeholderArgs is n arguments for a query's placeholders.
func placeholderArgs(n int) []any {
	args := make([]any, n)
	for i := range args {
		args[i] = fmt.Sprint(i + 1)
	}
	return args
}
