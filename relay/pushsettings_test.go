package relay

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
)

func enabled(on bool) *bool { return &on }

// A user who turned pushes off gets no push on any device, though messages are stored and
// synced; turning them on again pushes none of what came meanwhile, only what comes after.
func TestPushesOffStoreAndSyncButDoNotPush(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")

	r := w.do(alice.conn, ClientFrame{Op: OpSetPushSettings, Enabled: enabled(false)})
	require.Equal(t, OK, r.Code, r.Desc)
	require.Equal(t, &PushSettings{Enabled: false}, r.PushSettings, "the reply says the settings now")
	alice.kill()
	require.Equal(t, OK, bob.send("alice", "one").Code)
	require.Equal(t, OK, bob.send("alice", "two").Code)
	require.Empty(t, w.pushesTo("alice-phone"))
	require.Equal(t, []string{ReasonUserDisabled, ReasonUserDisabled}, w.reasons("alice-phone"))
	v, _ := w.core.User(testApp, "alice")
	require.Equal(t, ReasonUserDisabled, v.Devices[0].Unpushable, "the user view gives the rule's reason")

	alice.relaunch()
	require.Equal(t, []string{"one", "two"}, texts(w.syncedSince(alice, 0)), "the messages are stored and synced")
	r = w.do(alice.conn, ClientFrame{Op: OpGetPushSettings})
	require.Equal(t, OK, r.Code)
	require.Equal(t, &PushSettings{Enabled: false}, r.PushSettings)

	r = w.do(alice.conn, ClientFrame{Op: OpSetPushSettings, Enabled: enabled(true)})
	require.Equal(t, OK, r.Code)
	require.Equal(t, &PushSettings{Enabled: true}, r.PushSettings)
	alice.kill()
	require.Empty(t, w.pushesTo("alice-phone"), "turning pushes on pushes nothing of before")
	require.Equal(t, OK, bob.send("alice", "three").Code)
	require.Equal(t, []string{"three"}, bodies(w.pushesTo("alice-phone")))
	v, _ = w.core.User(testApp, "alice")
	require.Empty(t, v.Devices[0].Unpushable, "pushed again")
}

// syncedSince is what a sync from since returns to the phone, without moving its cursor.
func (w *world) syncedSince(p *phone, since uint64) []MsgFrame {
	r := w.do(p.conn, ClientFrame{Op: OpSync, Since: since})
	require.Equal(w.t, OK, r.Code, r.Desc)
	return r.Msgs
}

// user-disabled ranks after what is about the message (it was never to be pushed to anyone) and
// before the user's narrower choice, a muted conversation, and the device's binding.
func TestUserDisabledRanksAfterTheMessageAndBeforeMute(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	require.Equal(t, OK, w.do(alice.conn, ClientFrame{Op: OpSetReceiveOpt, Conv: "c2c_bob", Opt: ReceiveNotNotify}).Code)
	require.Equal(t, OK, w.do(alice.conn, ClientFrame{Op: OpSetPushSettings, Enabled: enabled(false)}).Code)
	alice.kill()

	send := func(f ClientFrame) {
		f.Op = OpSend
		r := w.do(bob.conn, f)
		require.Equal(t, OK, r.Code, r.Desc)
	}
	send(ClientFrame{To: "alice", Text: "online only", OnlineOnly: true})
	send(ClientFrame{To: "alice", Text: "silent", OfflinePush: &OfflinePush{Disable: true}})
	send(ClientFrame{To: "alice", Text: "muted and off"})
	require.Equal(t, []string{ReasonOnlineOnly, ReasonPushDisabled, ReasonUserDisabled}, w.reasons("alice-phone"))
}

// Turning pushes off cancels what was on its way: the summary of held messages and a push
// waiting to be retried are never sent.
func TestPushesOffCancelsHeldSummaryAndPendingRetry(t *testing.T) {
	w := newWorld(t, Config{})
	_, err := w.core.PutApp(w.now, AppConfig{SDKAppID: testApp, SecretKey: secret.New(testSecret), Caps: tinyCaps}, false)
	require.NoError(t, err)
	w.settle()
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	for _, text := range []string{"one", "two", "three", "four"} {
		require.Equal(t, OK, bob.send("alice", text).Code)
	}
	ps := w.pushesTo("alice-phone")
	require.Len(t, ps, 2, "the burst lets two through; the caps hold the rest")
	// FCM answers the first 503: it waits for a retry. The second is accepted.
	w.core.PushResult(w.now, PushResult{ID: ps[0].ID, Err: &PushError{Code: "UNAVAILABLE"}})
	w.core.PushResult(w.now, PushResult{ID: ps[1].ID, Name: "projects/demo/messages/2"})
	w.settle()

	_, err = w.core.SetPushSettings(w.now, testApp, "alice", PushSettings{Enabled: false})
	require.NoError(t, err)
	w.settle()
	require.Equal(t, []uint64{ps[0].ID}, w.cancelled, "the push waiting for its retry is cancelled")
	w.advance(time.Hour)
	require.Len(t, w.pushesTo("alice-phone"), 2, "neither the retry nor the summary is sent")
	var cancelled []TraceEntry
	for _, e := range w.entries("alice-phone") {
		if e.Reason == ReasonUserDisabled {
			cancelled = append(cancelled, e)
		}
	}
	require.Len(t, cancelled, 2)
	require.Equal(t, []uint64{3, 4}, cancelled[0].Seqs, "the held summary")
	require.Equal(t, ps[0].ID, cancelled[1].PushID, "the retry")
}

// The settings are kept across a restart, and stores keep only the users who turned pushes off.
func TestPushSettingsSurviveARestart(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	_, err := w.core.SetPushSettings(w.now, testApp, "alice", PushSettings{Enabled: false})
	require.NoError(t, err)
	_, err = w.core.SetPushSettings(w.now, testApp, "carol", PushSettings{Enabled: false})
	require.NoError(t, err)
	_, err = w.core.SetPushSettings(w.now, testApp, "carol", PushSettings{Enabled: true})
	require.NoError(t, err)
	w.settle()
	st, err := w.store.Load(t.Context())
	require.NoError(t, err)
	require.Equal(t, map[UserKey]PushSettings{{testApp, "alice"}: {Enabled: false}}, st.PushSettings)

	alice.kill()
	w.restart()
	bob.relaunch()
	require.Equal(t, OK, bob.send("alice", "after the restart").Code)
	require.Empty(t, w.pushesTo("alice-phone"))
	require.Equal(t, ReasonUserDisabled, w.reasons("alice-phone")[len(w.reasons("alice-phone"))-1])
	got, err := w.core.PushSettings(testApp, "alice")
	require.NoError(t, err)
	require.Equal(t, PushSettings{Enabled: false}, got)
	v, ok := w.core.User(testApp, "alice")
	require.True(t, ok)
	require.Equal(t, PushSettings{Enabled: false}, v.PushSettings, "the user view shows them")
}

// The op and the admin call refuse what they cannot take, saying what to send.
func TestPushSettingsRefusals(t *testing.T) {
	w := newWorld(t, Config{})
	conn := w.open()
	r := w.do(conn, ClientFrame{Op: OpSetPushSettings, Enabled: enabled(false)})
	require.Equal(t, CodeNotLoggedIn, r.Code)
	alice := w.login("alice", "alice-phone")
	r = w.do(alice.conn, ClientFrame{Op: OpSetPushSettings})
	require.Equal(t, CodeBadField, r.Code)
	require.Contains(t, r.Desc, "enabled is required")

	_, err := w.core.SetPushSettings(w.now, 42, "alice", PushSettings{})
	require.True(t, errors.Is(err, ErrNotFound), err)
	_, err = w.core.SetPushSettings(w.now, testApp, "", PushSettings{})
	require.True(t, errors.Is(err, ErrInvalid), err)
	_, err = w.core.PushSettings(42, "alice")
	require.True(t, errors.Is(err, ErrNotFound), err)
	got, err := w.core.PushSettings(testApp, "nobody-yet")
	require.NoError(t, err)
	require.Equal(t, PushSettings{Enabled: true}, got, "a user the relay has not heard of has pushes on")

	p := Partition{Index: 0, Count: 4}
	c, err := New(Config{Partition: p}, nil)
	require.NoError(t, err)
	_, err = c.PutApp(w.now, AppConfig{SDKAppID: testApp, SecretKey: secret.New(testSecret)}, true)
	require.NoError(t, err)
	c.TakeReady()
	other := "u0"
	for i := 0; p.Holds(UserKey{testApp, other}); i++ {
		other = "u" + itoa(uint64(i))
	}
	_, err = c.SetPushSettings(w.now, testApp, other, PushSettings{})
	require.ErrorContains(t, err, "is not of partition 0", "a partition's core takes only its own users' settings")
	_, err = c.PushSettings(testApp, other)
	require.ErrorContains(t, err, "is not of partition 0")
	_, err = c.SetProfile(w.now, Profile{SDKAppID: testApp, UserID: other, Nickname: "Other"})
	require.ErrorContains(t, err, "is not of partition 0", "nor their profiles")
	_, err = c.Profile(testApp, other)
	require.ErrorContains(t, err, "is not of partition 0")
	require.Empty(t, c.TakeReady().Records, "nothing refused is recorded")
}
