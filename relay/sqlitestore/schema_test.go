package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

// released is the migrations main has shipped, in order; a new one's name goes at the end
// (storetest.RequireMigrationsAppended).
var released = []string{
	"initial schema",
	"sessions keep their frequency caps",
	"logged-out devices keep their caps",
	"certificates keep their check",
	"durable push trace",
	"one binding per token",
	"user push settings",
	"profiles, group names, locales and push templates",
	"android notification options",
	"leaner push writes",
}

func TestMigrationsAreOnlyAppended(t *testing.T) {
	var names []string
	for _, m := range migrations {
		names = append(names, m.name)
	}
	storetest.RequireMigrationsAppended(t, released, names)
}

// migrationIndex is the index in migrations of the one named name.
func migrationIndex(t *testing.T, name string) int {
	t.Helper()
	i := slices.IndexFunc(migrations, func(m migration) bool { return m.name == name })
	require.NotEqual(t, -1, i, "no migration %q", name)
	return i
}

// schemaSQL is the CREATE statement of the table, index or trigger called name, or "".
func schemaSQL(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var stmt string
	err := db.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = ?`, name).Scan(&stmt)
	if errors.Is(err, sql.ErrNoRows) {
		return ""
	}
	require.NoError(t, err)
	return stmt
}

// A database with the schema before "leaner push writes", holding the sample and a trace, and
// an inbox row for every user with messages as the code before it wrote, comes through the
// migration with the same state and trace (seqs included), its sessions keyed without a rowid,
// and goes on taking batches.
func TestLeanerPushWritesConvertsAnEarlierDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "relay.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	require.NoError(t, migrateTo(ctx, db, migrationIndex(t, "leaner push writes")))
	require.NotEmpty(t, schemaSQL(t, db, "trace_by_time"), "the earlier schema")
	old := &Store{db: db}
	require.NoError(t, old.prepare(ctx)) // the store writes the same columns in both schemas
	// A second session, logged out with caps, so that every column of the table is copied.
	out := relay.SessionState{Key: relay.DeviceKey{SDKAppID: 1400000001, UserID: "alice", DeviceID: "tablet"}, Platform: "ios",
		Caps: &relay.CapsState{BucketFull: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}, LoggedOut: true, Locale: "en"}
	records := append(storetest.Sample(), relay.PutSession{Session: out}, relay.AppendTrace{Entries: storetest.TraceFixture()})
	require.NoError(t, old.Apply(ctx, records))
	_, err = db.Exec(`INSERT OR IGNORE INTO inboxes SELECT DISTINCT sdk_app_id, user_id FROM messages`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s := openStore(t, path)
	mem := relay.NewMemoryStore()
	require.NoError(t, mem.Apply(ctx, records))
	storetest.RequireSameState(t, ctx, mem, s)
	want, err := mem.QueryTrace(ctx, relay.TraceQuery{})
	require.NoError(t, err)
	got, err := s.QueryTrace(ctx, relay.TraceQuery{})
	require.NoError(t, err)
	require.Equal(t, want, got)

	require.Empty(t, schemaSQL(t, s.db, "trace_by_time"))
	require.Empty(t, schemaSQL(t, s.db, "pushes_by_app"))
	require.Contains(t, schemaSQL(t, s.db, "sessions"), "WITHOUT ROWID")
	more := []relay.Record{
		relay.PutSession{Session: relay.SessionState{Key: out.Key, Platform: "ios", Unread: 1}},
		relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 3, ID: "m3", From: "bob", Conv: "c2c_bob", Text: "again",
			Time: time.Date(2026, 12, 6, 12, 0, 1, 0, time.UTC)}},
		relay.AppendTrace{Entries: storetest.TraceFixture()[:1]},
	}
	require.NoError(t, mem.Apply(ctx, more))
	require.NoError(t, s.Apply(ctx, more))
	storetest.RequireSameState(t, ctx, mem, s)
	want, err = mem.QueryTrace(ctx, relay.TraceQuery{})
	require.NoError(t, err)
	got, err = s.QueryTrace(ctx, relay.TraceQuery{})
	require.NoError(t, err)
	require.Equal(t, want, got, "the trace's seqs go on from the converted database's")
}
