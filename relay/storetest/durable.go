package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

var (
	sampleUser   = relay.UserKey{SDKAppID: 1400000001, UserID: "alice"}
	sampleDevice = relay.DeviceKey{SDKAppID: 1400000001, UserID: "alice", DeviceID: "phone"}
)

// Sample is a batch with one record of each kind that stays in the state, with bytes a SQL TEXT
// column may refuse (a NUL, invalid UTF-8) in strings the store must keep as they are. Alice
// (1400000001) has two messages, seqs 1 and 2; certificate 7 is the app's.
func Sample() []relay.Record {
	at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	alice, phone := sampleUser, sampleDevice
	return []relay.Record{
		relay.PutApp{App: relay.AppConfig{SDKAppID: 1400000001, Name: "demo", SecretKey: secret.New("0123456789abcdef-secret"),
			LoginPolicy: relay.PolicyMulti, Caps: relay.Caps{PerMinute: 10, Refill: duration.Of(time.Minute)},
			DefaultLocale: "zh-CN", PushTemplates: map[string]relay.PushTemplate{"zh-HK": {SummaryBody: "{count} 則新訊息"}, "en": {GroupTitle: "{nickname} @ {group}"}}}},
		relay.PutCertificate{Cert: relay.Certificate{ID: 7, SDKAppID: 1400000001, Platform: "google", PackageName: "com.example.im",
			ServiceAccount: secret.New(`{"type":"service_account","private_key":"-----BEGIN"}`), ServerKey: secret.New("AAAA-key"),
			ChannelID: "chat_messages", Status: relay.CertStatus{Misconfigured: true, Reason: "UNREGISTERED", Since: at}}},
		relay.PutSession{Session: relay.SessionState{Key: phone, Platform: "android", LoginAt: at, Unread: 3, Held: []uint64{4, 5}, Locale: "zh-HK"}},
		relay.PutBinding{Binding: relay.Binding{Key: phone, CertificateID: 7, Token: "tok"}},
		relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 1, ID: "m1", From: "bob", Conv: "c2c_bob", Text: "hi\x00\xff", Time: at}},
		relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 2, ID: "m2", From: "bob", Conv: "c2c_bob", Text: "there", Time: at,
			Push: &relay.OfflinePush{Title: "Bob", Ext: "{}", Silent: true,
				Android: relay.AndroidPush{ChannelID: "dm", Sound: "ping", ClickAction: "com.example.im.OPEN_CHAT"}}, Nickname: "Bobby\x00"}},
		relay.PutGroup{Group: relay.Group{SDKAppID: 1400000001, ID: "g1", Members: []string{"alice", "bob\x00"}, Name: "Team\xff"}},
		relay.PutReceiveOpt{User: alice, Conv: "group_g1", Opt: relay.ReceiveNotNotify},
		relay.PutPush{Push: relay.PushState{Push: relay.Push{ID: 9, Device: phone, CertificateID: 7, Token: "tok", Title: "Bob",
			Body: "there", Data: map[string]string{"conv": "c2c_bob"}, TTL: duration.Of(time.Hour), Seqs: []uint64{2}, Attempt: 1,
			ChannelID: "dm", Sound: "ping", ClickAction: "example://chat/bob", Silent: true},
			NotBefore: at}},
		relay.PutCounter{Name: "messages", Value: 2},
		relay.PutPushSettings{User: alice, Settings: relay.PushSettings{Enabled: false}},
		relay.PutProfile{Profile: relay.Profile{SDKAppID: 1400000001, UserID: "bob", Nickname: "Bob 小明"}},
	}
}

// Opener opens one database, the same each call: the first call finds it empty, and each later
// call finds what the stores before it left (the suite closes a store before it opens the next).
// The store is closed when the test ends, if the suite has not closed it.
type Opener func(t *testing.T) relay.Store

// DurableSuite runs the tests every durable store passes, each on a new database newDB makes:
// the sample comes back as the memory store keeps it, a reopened store loads the same state and
// trace, a failed batch leaves nothing, a token has one holder, and push settings keep only the
// users with pushes off.
func DurableSuite(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Run("sample matches memory store", func(t *testing.T) { sampleMatchesMemory(t, newDB(t)) })
	t.Run("reopen loads the same state", func(t *testing.T) { reopenLoadsTheSameState(t, newDB(t)) })
	t.Run("failed batch leaves the store as before", func(t *testing.T) { failedBatchLeavesTheStore(t, newDB(t)) })
	t.Run("unknown record types are errors", func(t *testing.T) { unknownRecordTypes(t, newDB(t)) })
	t.Run("trace survives reopen", func(t *testing.T) { traceSurvivesReopen(t, newDB(t)) })
	t.Run("a binding takes its token from any other device", func(t *testing.T) { bindingTakesItsToken(t, newDB(t)) })
	t.Run("push settings keep only users with pushes off", func(t *testing.T) { pushSettingsKeepOnlyTheOff(t, newDB(t)) })
}

// SQLSuite runs the tests of what the SQL stores do beyond DurableSuite, from their columns and
// constraints: times come back in UTC, what a column cannot hold exactly is refused, and a batch
// that a constraint fails midway (a seq already in the inbox) is rolled back whole. A store that
// keeps what the memory store keeps, as the journal store does, passes DurableSuite alone.
func SQLSuite(t *testing.T, newDB func(t *testing.T) Opener) {
	t.Run("times come back in UTC", func(t *testing.T) { timesComeBackInUTC(t, newDB(t)) })
	t.Run("refuses what it cannot keep exactly", func(t *testing.T) { refusesWhatItCannotKeep(t, newDB(t)) })
	t.Run("a batch failing midway is rolled back", func(t *testing.T) { batchFailingMidwayIsRolledBack(t, newDB(t)) })
}

// Load is s's State, normalized; it fails t if the store cannot load.
func Load(t testing.TB, s relay.Store) *relay.State {
	t.Helper()
	st, err := s.Load(context.Background())
	require.NoError(t, err)
	return Normalize(st)
}

// RequireEqualStates fails t unless want and got are the same State, as StateOpts compare them.
func RequireEqualStates(t testing.TB, want, got *relay.State) {
	t.Helper()
	if diff := cmp.Diff(want, got, StateOpts); diff != "" {
		t.Fatalf("states differ (-want +got):\n%s", diff)
	}
}

func sampleMatchesMemory(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	mem := relay.NewMemoryStore()
	require.NoError(t, mem.Apply(ctx, Sample()))
	require.NoError(t, s.Apply(ctx, Sample()))
	RequireSameState(t, ctx, mem, s)
	st := Load(t, s)
	require.Equal(t, "0123456789abcdef-secret", st.Apps[0].SecretKey.Reveal())
	require.Equal(t, "AAAA-key", st.Certificates[0].ServerKey.Reveal())
	require.Equal(t, "hi\x00\xff", st.Messages[sampleUser][0].Text, "bytes TEXT would refuse come back as they were")
}

func timesComeBackInUTC(t *testing.T, open Opener) {
	s := open(t)
	require.NoError(t, s.Apply(context.Background(), Sample()))
	require.Equal(t, time.UTC, Load(t, s).Sessions[0].LoginAt.Location())
}

// bindingTakesItsToken: a token belongs to one device of an app, whoever bound it last — in a
// cluster the device that had it may be another partition's, whose core never hears of the move
// if its node is cut off, so the store itself keeps the rule.
func bindingTakesItsToken(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	mem := relay.NewMemoryStore()
	bob := relay.DeviceKey{SDKAppID: 1400000001, UserID: "bob", DeviceID: "phone"}
	carol := relay.DeviceKey{SDKAppID: 1400000001, UserID: "carol", DeviceID: "phone"}
	other := relay.DeviceKey{SDKAppID: 1400000002, UserID: "bob", DeviceID: "phone"}
	batches := [][]relay.Record{
		Sample(), // alice's phone has "tok"
		{
			relay.PutBinding{Binding: relay.Binding{Key: bob, CertificateID: 7, Token: "tok"}},
			relay.PutBinding{Binding: relay.Binding{Key: other, CertificateID: 8, Token: "tok"}}, // another app's: not the same token
		},
		{ // within one batch, the last binding wins
			relay.PutBinding{Binding: relay.Binding{Key: carol, CertificateID: 7, Token: "tok2"}},
			relay.PutBinding{Binding: relay.Binding{Key: sampleDevice, CertificateID: 7, Token: "tok2"}},
		},
	}
	for _, b := range batches {
		require.NoError(t, mem.Apply(ctx, b))
		require.NoError(t, s.Apply(ctx, b))
	}
	RequireSameState(t, ctx, mem, s)
	holders := map[string][]relay.DeviceKey{}
	for _, b := range Load(t, s).Bindings {
		k := fmt.Sprintf("%d/%s", b.Key.SDKAppID, b.Token)
		holders[k] = append(holders[k], b.Key)
	}
	require.Equal(t, map[string][]relay.DeviceKey{
		"1400000001/tok":  {bob},
		"1400000001/tok2": {sampleDevice},
		"1400000002/tok":  {other},
	}, holders)
}

func reopenLoadsTheSameState(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	require.NoError(t, s.Apply(ctx, Sample()))
	require.NoError(t, s.Apply(ctx, []relay.Record{
		relay.TrimInbox{User: sampleUser, Through: 1},
		relay.PutReceiveOpt{User: relay.UserKey{SDKAppID: 1400000001, UserID: "bob"}, Conv: "c2c_alice", Opt: relay.ReceiveAll},
	}))
	before := Load(t, s)
	require.NoError(t, s.Close())
	RequireEqualStates(t, before, Load(t, open(t)))
}

// pushSettingsKeepOnlyTheOff: a user who turns pushes off is kept, across a reopen; turning them
// on again, and deleting the app, forget the user; another app's user of the same ID is another
// user.
func pushSettingsKeepOnlyTheOff(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	mem := relay.NewMemoryStore()
	off, on := relay.PushSettings{Enabled: false}, relay.PushSettings{Enabled: true}
	bob := relay.UserKey{SDKAppID: 1400000001, UserID: "bob"}
	otherBob := relay.UserKey{SDKAppID: 1400000002, UserID: "bob"}
	carol := relay.UserKey{SDKAppID: 1400000001, UserID: "carol"}
	batches := [][]relay.Record{
		{relay.PutPushSettings{User: bob, Settings: off}, relay.PutPushSettings{User: otherBob, Settings: off},
			relay.PutPushSettings{User: carol, Settings: off}},
		{relay.PutPushSettings{User: carol, Settings: on}, relay.PutPushSettings{User: carol, Settings: on}},
	}
	for _, b := range batches {
		require.NoError(t, mem.Apply(ctx, b))
		require.NoError(t, s.Apply(ctx, b))
	}
	RequireSameState(t, ctx, mem, s)
	require.NoError(t, s.Close())
	s = open(t)
	require.Equal(t, map[relay.UserKey]relay.PushSettings{bob: off, otherBob: off}, Load(t, s).PushSettings, "kept across a reopen")
	require.NoError(t, s.Apply(ctx, []relay.Record{relay.DeleteApp{SDKAppID: 1400000001}}))
	require.Equal(t, map[relay.UserKey]relay.PushSettings{otherBob: off}, Load(t, s).PushSettings, "deleting the app forgets its users' settings")
}

// unknownRecord is a Record no store has a case for: it gets isRecord from the embedded type.
type unknownRecord struct{ relay.PutCounter }

// A batch with a record the store has no case for, or a cancelled context, leaves the store as
// it was, and the store goes on working.
func failedBatchLeavesTheStore(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	require.NoError(t, s.Apply(ctx, Sample()))
	before := Load(t, s)

	err := s.Apply(ctx, []relay.Record{relay.DeleteApp{SDKAppID: 1400000001}, relay.PutCounter{Name: "messages", Value: 3}, unknownRecord{}})
	require.ErrorContains(t, err, "unknown record type storetest.unknownRecord")
	RequireEqualStates(t, before, Load(t, s))

	// A cancelled context fails the batch too.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.Error(t, s.Apply(cancelled, []relay.Record{relay.DeleteApp{SDKAppID: 1400000001}}))
	RequireEqualStates(t, before, Load(t, s))

	// The store still works after the failures, and keeps no part of them across a reopen.
	require.NoError(t, s.Apply(ctx, []relay.Record{relay.PutCounter{Name: "pushes", Value: 1}}))
	want := Load(t, s)
	require.NoError(t, s.Close())
	RequireEqualStates(t, want, Load(t, open(t)))
}

// A batch that a constraint fails after it changed a lot is rolled back whole.
func batchFailingMidwayIsRolledBack(t *testing.T, open Opener) {
	ctx := context.Background()
	alice := sampleUser
	s := open(t)
	require.NoError(t, s.Apply(ctx, Sample()))
	before := Load(t, s)

	// Seq 2 is in alice's inbox already: the insert fails after the batch changed a lot.
	err := s.Apply(ctx, []relay.Record{
		relay.DeleteCertificate{ID: 7},
		relay.PutCounter{Name: "messages", Value: 3},
		relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 3, ID: "m3"}},
		relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 2, ID: "again"}},
		relay.PutCounter{Name: "pushes", Value: 1},
	})
	require.ErrorContains(t, err, "apply PutMessage 1400000001/alice/2 (record 4 of 5)")
	RequireEqualStates(t, before, Load(t, s))

	// A batch that fails in its first record.
	require.Error(t, s.Apply(ctx, []relay.Record{relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: 1}}}))
	RequireEqualStates(t, before, Load(t, s))

	// The store still works after the failures.
	require.NoError(t, s.Apply(ctx, []relay.Record{relay.DeleteApp{SDKAppID: 1400000001}}))
	require.Empty(t, Load(t, s).Apps)
}

// A pointer to a record is not the record: the store refuses it rather than guess.
func unknownRecordTypes(t *testing.T, open Opener) {
	err := open(t).Apply(context.Background(), []relay.Record{&relay.PutCounter{Name: "messages", Value: 1}})
	require.ErrorContains(t, err, "unknown record type *relay.PutCounter")
}

func refusesWhatItCannotKeep(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	require.ErrorContains(t, s.Apply(ctx, []relay.Record{relay.PutGroup{Group: relay.Group{SDKAppID: 1, ID: "g", Members: []string{"\xff"}}}}),
		"not valid UTF-8")
	require.ErrorContains(t, s.Apply(ctx, []relay.Record{relay.PutPush{Push: relay.PushState{Push: relay.Push{ID: 1, Data: map[string]string{"k": "\xfe"}}}}}),
		"not valid UTF-8")
	require.ErrorContains(t, s.Apply(ctx, []relay.Record{relay.PutMessage{User: sampleUser, Msg: relay.StoredMsg{Seq: 1, Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}}),
		"out of the range")
}

// The pushes' trace survives closing and reopening the store.
func traceSurvivesReopen(t *testing.T, open Opener) {
	s := open(t)
	require.NoError(t, s.Apply(context.Background(), []relay.Record{relay.AppendTrace{Entries: TraceFixture()}}))
	require.NoError(t, s.Close())
	p, err := open(t).QueryTrace(context.Background(), relay.TraceQuery{})
	require.NoError(t, err)
	require.Equal(t, TraceFixture(), p.Entries)
}
