package pgstore

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/pgtest"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

// pg is the throwaway PostgreSQL server this package's tests share; TestMain stops it.
var pg pgtest.Shared

func TestMain(m *testing.M) { os.Exit(pg.Wrap(m).Run()) }

var (
	alice = relay.UserKey{SDKAppID: 1400000001, UserID: "alice"}
	phone = relay.DeviceKey{SDKAppID: 1400000001, UserID: "alice", DeviceID: "phone"}
)

// sample is a batch with one record of each kind that stays in the state, with the bytes
// PostgreSQL's TEXT refuses (a NUL, invalid UTF-8) in the strings kept as they are.
func sample() []relay.Record {
	at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	return []relay.Record{
		relay.PutApp{App: relay.AppConfig{SDKAppID: 1400000001, Name: "demo", SecretKey: secret.New("0123456789abcdef-secret"),
			LoginPolicy: relay.PolicyMulti, Caps: relay.Caps{PerMinute: 10, Refill: duration.Of(time.Minute)}}},
		relay.PutCertificate{Cert: relay.Certificate{ID: 7, SDKAppID: 1400000001, Platform: "google", PackageName: "com.example.im",
			ServiceAccount: secret.New(`{"type":"service_account","private_key":"-----BEGIN"}`), ServerKey: secret.New("AAAA-key"),
			Status: relay.CertStatus{Misconfigured: true, Reason: "UNREGISTERED", Since: at}}},
		relay.PutSession{Session: relay.SessionState{Key: phone, Platform: "android", LoginAt: at, Unread: 3, Held: []uint64{4, 5}}},
		relay.PutBinding{Binding: relay.Binding{Key: phone, CertificateID: 7, Token: "tok"}},
		relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 1, ID: "m1", From: "bob", Conv: "c2c_bob", Text: "hi\x00\xff", Time: at}},
		relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 2, ID: "m2", From: "bob", Conv: "c2c_bob", Text: "there", Time: at,
			Push: relay.OfflinePush{Title: "Bob", Ext: "{}"}}},
		relay.PutGroup{Group: relay.Group{SDKAppID: 1400000001, ID: "g1", Members: []string{"alice", "bob\x00"}}},
		relay.PutReceiveOpt{User: alice, Conv: "group_g1", Opt: relay.ReceiveNotNotify},
		relay.PutPush{Push: relay.PushState{Push: relay.Push{ID: 9, Device: phone, CertificateID: 7, Token: "tok", Title: "Bob",
			Body: "there", Data: map[string]string{"conv": "c2c_bob"}, TTL: duration.Of(time.Hour), Seqs: []uint64{2}, Attempt: 1},
			NotBefore: at}},
		relay.PutCounter{Name: "messages", Value: 2},
	}
}

func openStore(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func load(t testing.TB, s relay.Store) *relay.State {
	t.Helper()
	st, err := s.Load(context.Background())
	require.NoError(t, err)
	return storetest.Normalize(st)
}

func requireEqualStates(t testing.TB, want, got *relay.State) {
	t.Helper()
	if diff := cmp.Diff(want, got, storetest.StateOpts); diff != "" {
		t.Fatalf("states differ (-want +got):\n%s", diff)
	}
}

func TestSampleMatchesMemoryStore(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, pg.Database(t))
	mem := relay.NewMemoryStore()
	require.NoError(t, mem.Apply(ctx, sample()))
	require.NoError(t, s.Apply(ctx, sample()))
	storetest.RequireSameState(t, ctx, mem, s)
	st := load(t, s)
	require.Equal(t, "0123456789abcdef-secret", st.Apps[0].SecretKey.Reveal())
	require.Equal(t, "hi\x00\xff", st.Messages[alice][0].Text, "bytes TEXT would refuse come back as they were")
	require.Equal(t, time.UTC, st.Sessions[0].LoginAt.Location(), "times come back in UTC")
}

func TestReopenLoadsTheSameState(t *testing.T) {
	ctx := context.Background()
	dsn := pg.Database(t)
	s, err := Open(ctx, dsn)
	require.NoError(t, err)
	require.NoError(t, s.Apply(ctx, sample()))
	require.NoError(t, s.Apply(ctx, []relay.Record{
		relay.TrimInbox{User: alice, Through: 1},
		relay.PutReceiveOpt{User: relay.UserKey{SDKAppID: 1400000001, UserID: "bob"}, Conv: "c2c_alice", Opt: relay.ReceiveAll},
	}))
	before := load(t, s)
	require.NoError(t, s.Close())
	requireEqualStates(t, before, load(t, openStore(t, dsn)))
}

func TestFailedBatchLeavesTheStoreAsBefore(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, pg.Database(t))
	require.NoError(t, s.Apply(ctx, sample()))
	before := load(t, s)

	// Seq 2 is in alice's inbox already: the insert fails after the batch changed a lot.
	err := s.Apply(ctx, []relay.Record{
		relay.DeleteCertificate{ID: 7},
		relay.PutCounter{Name: "messages", Value: 3},
		relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 3, ID: "m3"}},
		relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 2, ID: "again"}},
		relay.PutCounter{Name: "pushes", Value: 1},
	})
	require.ErrorContains(t, err, "apply PutMessage 1400000001/alice/2 (record 4 of 5)")
	requireEqualStates(t, before, load(t, s))

	// A batch that fails in its first record, and one with a record no case knows.
	require.Error(t, s.Apply(ctx, []relay.Record{relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 1}}}))
	err = s.Apply(ctx, []relay.Record{relay.DeleteApp{SDKAppID: 1400000001}, unknownRecord{}})
	require.ErrorContains(t, err, "unknown record type pgstore.unknownRecord")
	requireEqualStates(t, before, load(t, s))

	// A cancelled context fails the batch too.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.Error(t, s.Apply(cancelled, []relay.Record{relay.DeleteApp{SDKAppID: 1400000001}}))
	requireEqualStates(t, before, load(t, s))

	// The store still works after the failures.
	require.NoError(t, s.Apply(ctx, []relay.Record{relay.DeleteApp{SDKAppID: 1400000001}}))
	require.Empty(t, load(t, s).Apps)
}

// unknownRecord is a Record the store has no case for: it gets isRecord from the embedded type.
type unknownRecord struct{ relay.PutCounter }

func TestRefusesWhatItCannotKeepExactly(t *testing.T) {
	s := openStore(t, pg.Database(t))
	ctx := context.Background()
	require.ErrorContains(t, s.Apply(ctx, []relay.Record{relay.PutGroup{Group: relay.Group{SDKAppID: 1, ID: "g", Members: []string{"\xff"}}}}),
		"not valid UTF-8")
	require.ErrorContains(t, s.Apply(ctx, []relay.Record{relay.PutPush{Push: relay.PushState{Push: relay.Push{ID: 1, Data: map[string]string{"k": "\xfe"}}}}}),
		"not valid UTF-8")
	require.ErrorContains(t, s.Apply(ctx, []relay.Record{relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 1, Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}}),
		"out of the range")
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	dsn := pg.Database(t)
	s, err := Open(ctx, dsn)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `UPDATE schema_version SET version = $1`, len(migrations)+1)
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))

	_, err = Open(ctx, dsn)
	require.ErrorIs(t, err, ErrSchemaTooNew)
	require.ErrorContains(t, err, fmt.Sprintf("schema version %d, this relay knows versions up to %d", len(migrations)+1, len(migrations)))
}

func TestOpenMigratesOnceAndKeepsData(t *testing.T) {
	ctx := context.Background()
	dsn := pg.Database(t)
	s, err := Open(ctx, dsn)
	require.NoError(t, err)
	require.NoError(t, s.Apply(ctx, sample()))
	require.NoError(t, s.Close())

	s = openStore(t, dsn) // a second Open finds the schema current and leaves it alone
	var version int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version))
	require.Equal(t, len(migrations), version)
	require.Len(t, load(t, s).Messages[alice], 2)
}

// Relays starting at once against one new database migrate it one after the other.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	dsn := pg.Database(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(context.Background(), dsn)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
}

// The password of a DSN never shows in what Open returns, nor in what the store names itself.
func TestPasswordNeverShows(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	for _, dsn := range []string{
		"postgres://relay:" + pw + "@127.0.0.1:1/relay?sslmode=disable&connect_timeout=5", // nothing listens on port 1
		"postgres://relay@127.0.0.1:1/relay?password=" + pw + "&sslmode=disable",
		"host=127.0.0.1 port=1 user=relay password=" + pw + " dbname=relay sslmode=disable",
		"host=127.0.0.1 port=1 user=relay password='" + pw + " x' dbname=relay",
		"postgres://relay:" + pw + "@127.0.0.1:1/relay?sslmode=bogus", // does not parse
		"postgres://relay:" + pw + "@[::1/relay",                      // not a URL
		"port=notanumber password=" + pw,
	} {
		_, err := Open(context.Background(), dsn)
		require.Error(t, err, dsn)
		require.NotContains(t, err.Error(), pw, dsn)
		require.NotContains(t, Redact(dsn), pw, dsn)
		if strings.Contains(dsn, "127.0.0.1") && !strings.Contains(dsn, "[::1") {
			require.Contains(t, Redact(dsn), "127.0.0.1", "the rest of the DSN stays, to say which server")
		}
	}
	s := openStore(t, pg.Database(t))
	require.NotContains(t, s.String(), "password")
}

func TestTraceSuite(t *testing.T) {
	storetest.TraceSuite(t, func(t *testing.T) relay.Store { return openStore(t, pg.Database(t)) })
}

// twin is the PostgreSQL store as a conformance-property twin: one database, emptied before
// each check.
func twin(t *testing.T) storetest.Twin {
	dsn := pg.Database(t)
	s := openStore(t, dsn)
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return storetest.Twin{Name: "postgres", Fresh: func(rt *rapid.T) (relay.Store, func()) {
		require.NoError(rt, pgtest.Empty(context.Background(), conn, "schema_version"))
		return s, func() {}
	}}
}

func TestTracePropertyMatchesMemoryStore(t *testing.T) { storetest.CheckTraceTwin(t, twin(t)) }

// The pushes and trace survive closing and reopening the store.
func TestTraceSurvivesReopen(t *testing.T) {
	dsn := pg.Database(t)
	s, err := Open(context.Background(), dsn)
	require.NoError(t, err)
	require.NoError(t, s.Apply(context.Background(), []relay.Record{relay.AppendTrace{Entries: storetest.TraceFixture()}}))
	require.NoError(t, s.Close())
	p, err := openStore(t, dsn).QueryTrace(context.Background(), relay.TraceQuery{})
	require.NoError(t, err)
	require.Equal(t, storetest.TraceFixture(), p.Entries)
}
