package relay

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
)

// load reads what the store holds now.
func (w *world) load() *State {
	w.t.Helper()
	st, err := w.store.Load(context.Background())
	require.NoError(w.t, err)
	return st
}

// TestRestartAfterLogoutOrKickRestoresNoLogin: a login that ended is deleted from the store, so
// a restarted relay neither shows the device logged in nor pushes to it.
func TestRestartAfterLogoutOrKickRestoresNoLogin(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(w *world, alice *phone)
	}{
		{"logout", func(w *world, alice *phone) {
			r := w.do(alice.conn, ClientFrame{Op: OpLogout})
			require.Equal(w.t, OK, r.Code)
			alice.kill()
		}},
		{"kick", func(w *world, alice *phone) {
			alice.kill()
			_, err := w.core.Kick(w.now, testApp, "alice", "")
			require.NoError(w.t, err)
			w.settle()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Config{})
			alice := w.login("alice", "alice-phone")
			bob := w.login("bob", "bob-phone")
			tc.end(w, alice)
			require.Contains(t, w.records, Record(DeleteSession{Key: DeviceKey{testApp, "alice", "alice-phone"}}))

			w.restart()
			bob.relaunch()
			bob.send("alice", "after the restart")
			require.Empty(t, w.pushesTo("alice-phone"))
			u, ok := w.core.User(testApp, "alice")
			require.True(t, ok)
			for _, d := range u.Devices {
				require.False(t, d.LoggedIn, "%s is not logged in after the restart", d.DeviceID)
				require.Nil(t, d.Binding)
			}
			require.Equal(t, 1, w.core.Stats().LoggedIn, "only bob")
		})
	}
}

// TestRestartDuringBackoffResendsWhenTheBackoffEnds: a push waiting for its retry is stored with
// the time it may go; after a restart it goes then, not earlier, as the next attempt.
func TestRestartDuringBackoffResendsWhenTheBackoffEnds(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	bob.send("alice", "1")
	p := w.fail("alice-phone", PushError{Code: "UNAVAILABLE", RetryAfter: 5 * time.Minute})
	require.Equal(t, []time.Time{epoch.Add(5 * time.Minute)}, []time.Time{w.pendingPushes()[0].NotBefore})

	w.advance(time.Minute)
	w.restart()
	w.advance(4*time.Minute - time.Nanosecond)
	require.Equal(t, 1, w.sends(p.ID), "the backoff survives the restart")
	w.advance(time.Nanosecond)
	require.Equal(t, 2, w.sends(p.ID))
	again := w.pushes[len(w.pushes)-1]
	require.Equal(t, 2, again.Attempt)
	want := p
	want.Attempt = 2
	require.Empty(t, cmp.Diff(want, again), "the same push, its next attempt")

	w.acceptAll(len(w.pushes) - 1)
	require.Empty(t, w.pendingPushes())
}

// TestRestartDuringTheLastAttemptKeepsTheBudget: a push whose last allowed attempt was in
// flight when the relay stopped is not sent again after the restart (it may have reached FCM):
// the relay gives up and says so, and a push with attempts left is resent as its next attempt.
func TestRestartDuringTheLastAttemptKeepsTheBudget(t *testing.T) {
	w := newWorld(t, Config{Retry: RetryPolicy{MaxAttempts: 2}})
	alice := w.login("alice", "alice-phone")
	carol := w.login("carol", "carol-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	carol.kill()
	bob.send("alice", "last try in flight")
	p := w.fail("alice-phone", PushError{Code: "UNAVAILABLE"})
	w.advance(2 * time.Second) // the backoff (at most 1 s): attempt 2 of 2 goes out, unanswered
	require.Equal(t, 2, w.sends(p.ID))
	bob.send("carol", "first try in flight")
	q := w.pushesTo("carol-phone")[0]

	w.restart()
	w.advance(time.Hour)
	require.Equal(t, 2, w.sends(p.ID), "no third send of a push with a budget of two")
	last := w.pushEntries(p.ID)[len(w.pushEntries(p.ID))-1]
	require.Equal(t, "fcm-TIMEOUT", last.Reason)
	require.Contains(t, last.Detail, "restarted while attempt 2 of 2 was unanswered")
	require.Equal(t, 2, w.sends(q.ID), "carol's push had an attempt left: resent once")
	require.Equal(t, 2, w.pushes[len(w.pushes)-1].Attempt)
	w.acceptAll(len(w.pushes) - 1)
	require.Empty(t, w.pendingPushes())
}

// TestCapsOutliveALoginAcrossARestart: a device kicked (or logged out) right after a push, with
// the relay restarted before it logs in again, is still within the window of that push: FCM's
// per-device limits do not start afresh at a login, so neither do the caps (found by the
// property test, at 3,587 checks).
func TestCapsOutliveALoginAcrossARestart(t *testing.T) {
	for _, end := range []string{"kick", "logout"} {
		t.Run(end, func(t *testing.T) {
			oneAMinute := Caps{PerMinute: 1, PerHour: 100, Burst: 10, Refill: duration.Of(time.Second)}
			w := newWorld(t, Config{DefaultCaps: oneAMinute})
			alice := w.login("alice", "alice-phone")
			bob := w.login("bob", "bob-phone")
			alice.kill()
			bob.send("alice", "1")
			require.Len(t, w.pushesTo("alice-phone"), 1)
			if end == "kick" {
				_, err := w.core.Kick(w.now, testApp, "alice", "admin")
				require.NoError(t, err)
				w.settle()
			} else {
				alice.relaunch()
				require.Equal(t, OK, w.do(alice.conn, ClientFrame{Op: OpLogout}).Code)
			}
			w.restart()
			w.advance(time.Second)
			bob.relaunch()
			alice.relaunch()
			alice.kill()
			bob.send("alice", "2")
			require.Len(t, w.pushesTo("alice-phone"), 1, "a second push within the minute")
			require.Equal(t, ReasonCapped, w.reasons("alice-phone")[len(w.reasons("alice-phone"))-1])
			w.advance(time.Minute)
			require.Len(t, w.pushesTo("alice-phone"), 2, "the held message goes once the minute is over")
		})
	}
}

// TestTrimmedInboxStaysTrimmedAfterRestart: what the inbox limit dropped stays dropped after a
// restart, and the sequence goes on where it was.
func TestTrimmedInboxStaysTrimmedAfterRestart(t *testing.T) {
	w := newWorld(t, Config{InboxLimit: 10})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	for i := range 12 {
		bob.send("alice", fmt.Sprint(i))
	}
	require.Contains(t, w.records, Record(TrimInbox{User: UserKey{testApp, "alice"}, Through: 2}))

	w.restart()
	bob.relaunch()
	alice.relaunch()
	r := w.do(alice.conn, ClientFrame{Op: OpSync})
	require.Equal(t, "messages before seq 3 are no longer kept", r.Desc)
	var seqs []uint64
	for _, m := range r.Msgs {
		seqs = append(seqs, m.Seq)
	}
	require.Equal(t, seqRange(3, 12), seqs)
	bob.send("alice", "next")
	live := alice.live()
	require.Len(t, live, 1)
	require.Equal(t, uint64(13), live[0].Seq)
}

// TestDeleteAppRemovesEverything: deleting an app kicks its online devices, cancels its pushes,
// tells the driver to forget each of its certificates, and leaves nothing of it in the store;
// other apps are untouched, and an app created again under the same ID starts empty.
// TestDeleteAppTakesBackPushesOfTheSameReady: a push decided in the Ready that also deletes its
// app is taken back, not handed out and cancelled in one breath (the shell cancels before it
// sends, so it would go to FCM).
func TestDeleteAppTakesBackPushesOfTheSameReady(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	w.core.Receive(w.now, bob.conn, ClientFrame{Op: OpSend, ID: 99, To: "alice", Text: "just before the end"})
	require.NoError(t, w.core.DeleteApp(w.now, testApp))
	w.settle()
	require.Empty(t, w.pushesTo("alice-phone"), "no push handed out for a deleted app")
	require.Empty(t, w.cancelled, "nothing handed out, nothing to cancel")
}

func TestDeleteAppRemovesEverything(t *testing.T) {
	const (
		gone       = uint64(1400000002)
		goneSecret = "gone-app-secret-0123456"
	)
	w := newWorld(t, Config{})
	w.app(AppConfig{SDKAppID: gone, SecretKey: secret.New(goneSecret)})
	w.cert(gone, 9000)
	w.cert(gone, 9001)
	_, err := w.core.PutGroup(w.now, Group{SDKAppID: gone, ID: "team", Members: []string{"dave", "erin"}})
	require.NoError(t, err)
	w.settle()
	alice := w.login("alice", "alice-phone") // of the app that stays
	alice.kill()

	login := func(user string) ConnID {
		id := w.open()
		r := w.do(id, ClientFrame{Op: OpLogin, SDKAppID: gone, UserID: user, DeviceID: user + "-phone",
			UserSig: MakeUserSig(goneSecret, UserSigClaims{SDKAppID: gone, UserID: user, Expire: w.now.Add(time.Hour).Unix()})})
		require.Equal(t, OK, r.Code, r.Desc)
		r = w.do(id, ClientFrame{Op: OpSetPushToken, CertificateID: 9001, Token: "tok-" + user})
		require.Equal(t, OK, r.Code, r.Desc)
		r = w.do(id, ClientFrame{Op: OpSync})
		require.Equal(t, OK, r.Code, r.Desc)
		return id
	}
	dave, erin := login("dave"), login("erin")
	r := w.do(dave, ClientFrame{Op: OpSetReceiveOpt, Conv: "group_team", Opt: ReceiveNotNotify})
	require.Equal(t, OK, r.Code)
	w.core.Closed(w.now, erin)
	w.settle()
	r = w.do(dave, ClientFrame{Op: OpSend, Group: "team", Text: "hi"})
	require.Equal(t, OK, r.Code)
	erinPushes := w.pushesTo("erin-phone")
	require.Len(t, erinPushes, 1)

	records := len(w.records)
	require.NoError(t, w.core.DeleteApp(w.now, gone))
	w.settle()
	var certs []int64
	for _, rec := range w.records[records:] {
		if dc, ok := rec.(DeleteCertificate); ok {
			certs = append(certs, dc.ID)
		}
	}
	require.Equal(t, []int64{9000, 9001}, certs, "one DeleteCertificate per certificate, for the driver's senders")
	require.Contains(t, w.records[records:], Record(DeleteApp{SDKAppID: gone}))
	require.Contains(t, w.cancelled, erinPushes[0].ID)
	require.Equal(t, OpKicked, w.frames[dave][len(w.frames[dave])-1].Op)
	require.Contains(t, w.closed, dave)
	require.ErrorIs(t, w.core.DeleteApp(w.now, gone), ErrNotFound)

	st := w.load()
	require.Empty(t, cmp.Diff([]uint64{testApp}, appIDs(st.Apps)))
	require.Len(t, st.Certificates, 1)
	require.Equal(t, testCert, st.Certificates[0].ID)
	for _, s := range st.Sessions {
		require.Equal(t, testApp, s.Key.SDKAppID)
	}
	require.Len(t, st.Bindings, 1)
	require.Equal(t, "alice", st.Bindings[0].Key.UserID)
	for k := range st.Messages {
		require.Equal(t, testApp, k.SDKAppID)
	}
	for k := range st.ReceiveOpts {
		require.Equal(t, testApp, k.SDKAppID)
	}
	require.Empty(t, st.Groups)
	require.Empty(t, st.Pushes)

	_, ok := w.core.User(gone, "dave")
	require.False(t, ok)
	require.Equal(t, []int64{testCert}, certIDs(w.core.Certificates(0)))

	// The same ID again is a new, empty app, in the running relay and after a restart.
	w.app(AppConfig{SDKAppID: gone, SecretKey: secret.New(goneSecret)})
	w.cert(gone, 9001)
	for range 2 {
		dave = login("dave")
		require.Empty(t, w.frames[dave][len(w.frames[dave])-1].Msgs, "nothing of the old app is synced")
		u, _ := w.core.User(gone, "dave")
		require.Zero(t, u.LastSeq)
		_, err = w.core.AdminSend(w.now, gone, SendRequest{From: "dave", Group: "team", Text: "x"})
		require.ErrorContains(t, err, "no group")
		require.Equal(t, []int64{testCert, 9001}, certIDs(w.core.Certificates(0)))
		w.restart()
	}
}

func appIDs(apps []AppConfig) []uint64 {
	var out []uint64
	for _, a := range apps {
		out = append(out, a.SDKAppID)
	}
	return out
}

func certIDs(vs []CertificateView) []int64 {
	var out []int64
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return slices.Sorted(slices.Values(out))
}

// TestRestartAttributesTraceEntriesToTheRestoredBinding: a device bound before a restart has its
// trace entries after it filed under the binding's certificate, as before the restart, so that a
// query by certificate still finds why each message was or was not pushed.
func TestRestartAttributesTraceEntriesToTheRestoredBinding(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	w.restart()
	bob.relaunch()
	before := len(w.entries("alice-phone"))
	bob.send("alice", "pushed")
	r := w.do(bob.conn, ClientFrame{Op: OpSend, To: "alice", Text: "not pushed", OfflinePush: &OfflinePush{Disable: true}})
	require.Equal(t, OK, r.Code, r.Desc)
	after := w.entries("alice-phone")[before:]
	var reasons []string
	for _, e := range after {
		reasons = append(reasons, e.Reason)
		require.Equal(t, int64(testCert), e.CertificateID, "%s entry for seq %d", e.Reason, e.Seq)
	}
	require.Contains(t, reasons, ReasonPushDisabled, "a decision about a message, not only a push's outcome")
}
