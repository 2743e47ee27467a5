package relay

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
)

func TestLoginRefusals(t *testing.T) {
	w := newWorld(t, Config{})
	id := w.open()
	good := sig("alice", epoch.Add(time.Hour))
	for _, tc := range []struct {
		name  string
		frame ClientFrame
		code  Code
	}{
		{"unknown app", ClientFrame{Op: OpLogin, SDKAppID: 42, UserID: "alice", UserSig: good, DeviceID: "p"}, CodeUnknownApp},
		{"no device", ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: "alice", UserSig: good}, CodeBadField},
		{"forged", ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: "alice", UserSig: MakeUserSig("another-secret-0123456", UserSigClaims{SDKAppID: testApp, UserID: "alice", Expire: epoch.Add(time.Hour).Unix()}), DeviceID: "p"}, CodeBadSignature},
		{"garbage", ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: "alice", UserSig: "not-a-sig", DeviceID: "p"}, CodeBadSignature},
		{"expired", ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: "alice", UserSig: sig("alice", epoch.Add(-time.Second)), DeviceID: "p"}, CodeSigExpired},
		{"other user", ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: "alice", UserSig: sig("bob", epoch.Add(time.Hour)), DeviceID: "p"}, CodeSigMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := w.do(id, tc.frame)
			require.Equal(t, tc.code, r.Code, r.Desc)
			require.NotEmpty(t, r.Desc)
		})
	}
	r := w.do(id, ClientFrame{Op: OpSend, To: "bob", Text: "x"})
	require.Equal(t, CodeNotLoggedIn, r.Code)
	r = w.do(id, ClientFrame{Op: "dance"})
	require.Equal(t, CodeUnknownOp, r.Code)
	w.core.Refuse(w.now, id, &FrameError{ID: 7, Code: CodeBadFrame, Desc: "bad"})
	w.settle()
	last := w.frames[id][len(w.frames[id])-1]
	require.Equal(t, CodeBadFrame, last.Code)
	require.Equal(t, int64(7), last.ID)
}

func TestKilledDeviceIsPushedAndOnlineDeviceGetsAFrame(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	r := bob.send("alice", "hello")
	require.Equal(t, OK, r.Code)
	require.Equal(t, []string{"hello"}, texts(alice.live()))
	require.Empty(t, w.pushesTo("alice-phone"))

	alice.kill()
	sent := bob.send("alice", "are you there?")
	require.NotEmpty(t, sent.MsgID)
	ps := w.pushesTo("alice-phone")
	require.Len(t, ps, 1)
	p := ps[0]
	require.Equal(t, "bob", p.Title)
	require.Equal(t, "are you there?", p.Body)
	require.Equal(t, "c2c_bob", p.CollapseKey)
	require.Equal(t, alice.token, p.Token)
	require.Equal(t, testCert, p.CertificateID)
	// The data keys are the contract with the app, spelled out here rather than through the
	// relay.PushData constants, so that renaming one fails.
	require.Equal(t, map[string]string{"conv": "c2c_bob", "seq": "2", "msgId": sent.MsgID, "sender": "bob"}, p.Data)
	require.Equal(t, []uint64{2}, p.Seqs)

	w.acceptAll(0)
	require.Equal(t, []string{ReasonOnline, ReasonPushed, ReasonFCMOK}, w.reasons("alice-phone"))
	require.Equal(t, fmt.Sprintf("projects/demo/messages/%d", p.ID), w.entries("alice-phone")[2].FCMName)
}

func TestNoPushAfterLogoutOrKick(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	r := w.do(alice.conn, ClientFrame{Op: OpLogout})
	require.Equal(t, OK, r.Code)
	alice.kill()
	bob.send("alice", "after logout")
	require.Empty(t, w.pushesTo("alice-phone"))
	require.Equal(t, ReasonLoggedOut, w.reasons("alice-phone")[0])

	// The message is kept: alice gets it by sync at her next login.
	alice.relaunch()
	require.Contains(t, texts(w.syncAll(alice)), "after logout")

	n, err := w.core.Kick(w.now, testApp, "alice", "")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	w.settle()
	require.Equal(t, OpKicked, w.frames[alice.conn][len(w.frames[alice.conn])-1].Op)
	require.Contains(t, w.closed, alice.conn)
	bob.send("alice", "after kick")
	require.Empty(t, w.pushesTo("alice-phone"))
	require.Equal(t, ReasonKicked, w.reasons("alice-phone")[len(w.reasons("alice-phone"))-1])
}

// syncAll resyncs a phone from the beginning.
func (w *world) syncAll(p *phone) []MsgFrame {
	p.lastSeq = 0
	return p.sync()
}

func TestLoginPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy              LoginPolicy
		samePlatformKicked  bool
		otherPlatformKicked bool
	}{
		{PolicyMulti, false, false},
		{PolicySinglePlatform, true, false},
		{PolicySingle, true, true},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			w := newWorld(t, Config{})
			_, err := w.core.PutApp(w.now, AppConfig{SDKAppID: testApp, SecretKey: secret.New(testSecret), LoginPolicy: tc.policy}, false)
			require.NoError(t, err)
			w.settle()
			online := w.loginOn("alice", "phone-1", "android")
			offline := w.loginOn("alice", "phone-2", "android")
			pad := w.loginOn("alice", "pad", "ios")
			offline.kill()
			_ = online
			_ = w.loginOn("alice", "phone-3", "android")

			onlineKicked := len(w.frames[online.conn]) > 0 && w.frames[online.conn][len(w.frames[online.conn])-1].Op == OpKicked
			require.Equal(t, tc.samePlatformKicked, onlineKicked, "online device of the same platform")
			u, _ := w.core.User(testApp, "alice")
			byID := map[string]DeviceView{}
			for _, d := range u.Devices {
				byID[d.DeviceID] = d
			}
			require.Equal(t, !tc.samePlatformKicked, byID["phone-2"].LoggedIn, "offline device of the same platform")
			require.Equal(t, tc.samePlatformKicked, byID["phone-2"].Binding == nil, "a kicked offline device loses its binding")
			require.Equal(t, !tc.otherPlatformKicked, byID["pad"].LoggedIn, "device of another platform")
			_ = pad
		})
	}
}

func TestPushRuleReasons(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()

	send := func(f ClientFrame) {
		f.Op = OpSend
		r := w.do(bob.conn, f)
		require.Equal(t, OK, r.Code, r.Desc)
	}
	send(ClientFrame{To: "alice", Text: "online only", OnlineOnly: true})
	send(ClientFrame{To: "alice", Text: "silent", OfflinePush: &OfflinePush{Disable: true}})
	alice.relaunch()
	r := w.do(alice.conn, ClientFrame{Op: OpSetReceiveOpt, Conv: "c2c_bob", Opt: ReceiveNotNotify})
	require.Equal(t, OK, r.Code)
	alice.kill()
	send(ClientFrame{To: "alice", Text: "muted"})
	alice.relaunch()
	r = w.do(alice.conn, ClientFrame{Op: OpSetReceiveOpt, Conv: "c2c_bob", Opt: ReceiveAll})
	require.Equal(t, OK, r.Code)
	alice.kill()
	send(ClientFrame{To: "alice", Text: "custom", OfflinePush: &OfflinePush{Title: "T", Desc: "D", Ext: `{"k":1}`}})
	require.Equal(t, []string{ReasonOnlineOnly, ReasonPushDisabled, ReasonMuted, ReasonPushed}, w.reasons("alice-phone"))
	ps := w.pushesTo("alice-phone")
	require.Len(t, ps, 1)
	require.Equal(t, "T", ps[0].Title)
	require.Equal(t, "D", ps[0].Body)
	require.Equal(t, `{"k":1}`, ps[0].Data["ext"])
}

func TestOwnMessageEchoIsNotPushed(t *testing.T) {
	w := newWorld(t, Config{})
	_, err := w.core.PutApp(w.now, AppConfig{SDKAppID: testApp, SecretKey: secret.New(testSecret), LoginPolicy: PolicyMulti}, false)
	require.NoError(t, err)
	w.settle()
	phone := w.login("bob", "bob-phone")
	pad := w.login("bob", "bob-pad")
	pad.kill()
	phone.send("alice", "hi")
	require.Empty(t, w.pushesTo("bob-pad"))
	require.Equal(t, []string{ReasonOwnMessage}, w.reasons("bob-pad"))
	pad.relaunch()
	require.Equal(t, []string{"hi"}, texts(w.syncAll(pad)))
}

func TestNoBindingMeansNoPush(t *testing.T) {
	w := newWorld(t, Config{})
	bob := w.login("bob", "bob-phone")
	id := w.open()
	r := w.do(id, ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: "alice", UserSig: sig("alice", epoch.Add(time.Hour)), DeviceID: "alice-phone"})
	require.Equal(t, OK, r.Code)
	w.core.Closed(w.now, id)
	w.settle()
	bob.send("alice", "hi")
	require.Equal(t, []string{ReasonNoBinding}, w.reasons("alice-phone"))
}

func TestSetPushTokenRefusals(t *testing.T) {
	w := newWorld(t, Config{})
	w.app(AppConfig{SDKAppID: 1400000002, SecretKey: secret.New(testSecret)})
	w.cert(1400000002, 9000)
	alice := w.login("alice", "alice-phone")
	for _, tc := range []struct {
		frame ClientFrame
		code  Code
	}{
		{ClientFrame{Op: OpSetPushToken, CertificateID: 1, Token: "t"}, CodeUnknownCertificate},
		{ClientFrame{Op: OpSetPushToken, CertificateID: 9000, Token: "t"}, CodeForeignCertificate},
		{ClientFrame{Op: OpSetPushToken, CertificateID: testCert}, CodeEmptyToken},
	} {
		r := w.do(alice.conn, tc.frame)
		require.Equal(t, tc.code, r.Code, r.Desc)
	}
	id := w.open()
	r := w.do(id, ClientFrame{Op: OpSetPushToken, CertificateID: testCert, Token: "t"})
	require.Equal(t, CodeNotLoggedIn, r.Code)
}

func TestTokenMovesToTheDeviceThatReportsIt(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "shared-phone-a")
	carol := w.loginOn("carol", "shared-phone-c", "android")
	carol.token = alice.token
	r := w.do(carol.conn, ClientFrame{Op: OpSetPushToken, CertificateID: testCert, Token: alice.token})
	require.Equal(t, OK, r.Code)
	u, _ := w.core.User(testApp, "alice")
	require.Nil(t, u.Devices[0].Binding, "the token moved to carol")
	alice.kill()
	carol.kill()
	bob := w.login("bob", "bob-phone")
	bob.send("alice", "for alice")
	bob.send("carol", "for carol")
	require.Empty(t, w.pushesTo("shared-phone-a"))
	require.Equal(t, []string{"for carol"}, bodies(w.pushesTo("shared-phone-c")))
}

func TestHalfOpenConnectionCountsAsOnlineUntilTheDeadline(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	// alice's network drops without a close: the relay is not told.
	w.advance(30 * time.Second)
	bob.send("alice", "into the void")
	require.Empty(t, w.pushesTo("alice-phone"), "still online as far as the relay knows")
	require.Equal(t, OpMsg, w.frames[alice.conn][len(w.frames[alice.conn])-1].Op)
	// bob keeps pinging; alice is silent. At 90 s the relay gives up on her connection and pushes
	// the frame she never acknowledged.
	for range 3 {
		w.advance(25 * time.Second)
		w.ping(bob.conn)
	}
	require.Contains(t, w.closed, alice.conn)
	require.Equal(t, []string{"into the void"}, bodies(w.pushesTo("alice-phone")))
	require.NotContains(t, w.closed, bob.conn)
}

func TestAcknowledgedFramesAreNotPushedAgain(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	bob.send("alice", "seen")
	require.Len(t, alice.live(), 1) // acknowledges
	bob.send("alice", "unseen")
	alice.kill()
	require.Equal(t, []string{"unseen"}, bodies(w.pushesTo("alice-phone")))
}

func TestSyncIsInOrderPagedAndExactlyOnce(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	for i := range MaxSyncBatch + 50 {
		bob.send("alice", fmt.Sprint(i))
	}
	alice.relaunch() // syncs page by page, checking order
	require.Equal(t, uint64(MaxSyncBatch+50), alice.lastSeq)
	bob.send("alice", "live")
	require.Equal(t, []string{"live"}, texts(alice.live()))
	alice.kill()
	alice.relaunch()
	require.Equal(t, uint64(MaxSyncBatch+51), alice.lastSeq, "nothing new, nothing twice")
}

func TestLiveFramesWaitForTheFirstSync(t *testing.T) {
	w := newWorld(t, Config{})
	bob := w.login("bob", "bob-phone")
	id := w.open()
	r := w.do(id, ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: "alice", UserSig: sig("alice", epoch.Add(time.Hour)), DeviceID: "alice-phone"})
	require.Equal(t, OK, r.Code)
	bob.send("alice", "before sync")
	for _, f := range w.frames[id] {
		require.NotEqual(t, OpMsg, f.Op, "no live frame before the device synced")
	}
	r = w.do(id, ClientFrame{Op: OpSync})
	require.Equal(t, []string{"before sync"}, texts(r.Msgs))
	bob.send("alice", "after sync")
	require.Equal(t, OpMsg, w.frames[id][len(w.frames[id])-1].Op)
}

func TestCapsCoalesceIntoOneSummaryPush(t *testing.T) {
	w := newWorld(t, Config{DefaultCaps: tinyCaps})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	for i := range 5 {
		bob.send("alice", fmt.Sprint(i))
	}
	require.Equal(t, []string{"0", "1"}, bodies(w.pushesTo("alice-phone")))
	require.Equal(t, []string{ReasonPushed, ReasonPushed, ReasonCapped, ReasonCapped, ReasonCapped}, w.reasons("alice-phone"))
	w.advance(time.Minute)
	ps := w.pushesTo("alice-phone")
	require.Len(t, ps, 3)
	summary := ps[2]
	require.Equal(t, "3 new messages", summary.Body)
	require.Equal(t, []uint64{3, 4, 5}, summary.Seqs)
	require.Equal(t, "c2c_bob", summary.CollapseKey)
	require.Equal(t, 3, summary.NotificationCount)
}

func TestHeldMessagesAreDroppedWhenTheDeviceComesBack(t *testing.T) {
	w := newWorld(t, Config{DefaultCaps: tinyCaps})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	for i := range 4 {
		bob.send("alice", fmt.Sprint(i))
	}
	alice.relaunch()
	w.advance(time.Hour)
	require.Len(t, w.pushesTo("alice-phone"), 2, "no summary for a device that came back")
	last := w.trace[len(w.trace)-1]
	for _, e := range w.trace {
		if e.DeviceID == "alice-phone" && len(e.Seqs) > 0 {
			last = e
		}
	}
	require.Equal(t, ReasonOnline, last.Reason)
	require.Equal(t, []uint64{3, 4}, last.Seqs)
}

// TestDefaultCapsStayInsideFCMLimits sends a message every 10 seconds for six hours to a killed
// device and checks every push against FCM's documented per-device limits.
func TestDefaultCapsStayInsideFCMLimits(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	for range 6 * 360 {
		bob.send("alice", "x")
		w.advance(10 * time.Second)
		w.ping(bob.conn)
	}
	times := w.pushTimes("alice-phone")
	require.Greater(t, len(times), DefaultCapsBurst)
	// FCM: collapsible burst 20 refilling 1 per 3 min, 240 per minute, 5000 per hour.
	for i := range times {
		for j := i; j < len(times); j++ {
			span := times[j].Sub(times[i])
			n := j - i + 1
			require.LessOrEqual(t, n, 20+int(span/(3*time.Minute)), "collapsible burst at %v", times[i])
			if span < time.Minute {
				require.LessOrEqual(t, n, 240)
			}
			if span < time.Hour {
				require.LessOrEqual(t, n, 5000)
			}
		}
	}
}

func TestBadgeCountsFromTheBackgroundSeed(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	r := w.do(alice.conn, ClientFrame{Op: OpBackground, Unread: 3})
	require.Equal(t, OK, r.Code)
	alice.kill()
	bob.send("alice", "a")
	bob.send("alice", "b")
	ps := w.pushesTo("alice-phone")
	require.Equal(t, 4, ps[0].NotificationCount)
	require.Equal(t, 5, ps[1].NotificationCount)
}

func TestUnregisteredRemovesTheBinding(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	bob.send("alice", "1")
	p := w.pushesTo("alice-phone")[0]
	w.core.PushResult(w.now, PushResult{ID: p.ID, Err: &PushError{Code: "UNREGISTERED", Message: "Requested entity was not found."}})
	w.settle()
	bob.send("alice", "2")
	require.Len(t, w.pushesTo("alice-phone"), 1, "no push to a token FCM called unregistered")
	reasons := w.reasons("alice-phone")
	require.Equal(t, []string{"fcm-UNREGISTERED", ReasonNoBinding}, reasons[len(reasons)-2:])
}

func TestRetriesBackOffHonourRetryAfterAndStop(t *testing.T) {
	w := newWorld(t, Config{Retry: RetryPolicy{MaxAttempts: 3}})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	bob.send("alice", "1")
	fail := func(retryAfter time.Duration) Push {
		ps := w.pushesTo("alice-phone")
		p := ps[len(ps)-1]
		w.core.PushResult(w.now, PushResult{ID: p.ID, Err: &PushError{Code: "UNAVAILABLE", RetryAfter: retryAfter}})
		w.settle()
		return p
	}
	first := fail(30 * time.Second)
	w.advance(29 * time.Second)
	require.Len(t, w.pushesTo("alice-phone"), 1, "Retry-After 30s is honoured")
	w.advance(time.Second)
	ps := w.pushesTo("alice-phone")
	require.Len(t, ps, 2)
	require.Equal(t, first.ID, ps[1].ID)
	require.Equal(t, 2, ps[1].Attempt)
	fail(0)
	w.advance(2 * time.Second) // backoff after attempt 2: 1-2 s
	require.Len(t, w.pushesTo("alice-phone"), 3)
	fail(0)
	w.advance(time.Hour)
	require.Len(t, w.pushesTo("alice-phone"), 3, "3 attempts at most")
	es := w.entries("alice-phone")
	require.Equal(t, "fcm-UNAVAILABLE", es[len(es)-1].Reason)
	require.Contains(t, es[len(es)-1].Detail, "gave up after 3 attempts")
}

func TestRetryIsCancelledWhenTheDeviceComesBack(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	bob.send("alice", "1")
	p := w.pushesTo("alice-phone")[0]
	w.core.PushResult(w.now, PushResult{ID: p.ID, Err: &PushError{Code: "QUOTA_EXCEEDED", RetryAfter: time.Minute}})
	w.settle()
	alice.relaunch()
	w.advance(time.Hour)
	require.Len(t, w.pushesTo("alice-phone"), 1)
	require.Equal(t, ReasonOnline, w.reasons("alice-phone")[len(w.reasons("alice-phone"))-1])
}

func TestAuthErrorsMarkTheCertificateMisconfigured(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	bob.send("alice", "1")
	p := w.pushesTo("alice-phone")[0]
	w.core.PushResult(w.now, PushResult{ID: p.ID, Err: &PushError{Code: "SENDER_ID_MISMATCH", Message: "SenderId mismatch"}})
	w.settle()
	v := w.core.Certificates(testApp)[0]
	require.True(t, v.Status.Misconfigured)
	require.Contains(t, v.Status.Reason, "SENDER_ID_MISMATCH")
	w.advance(time.Hour)
	require.Len(t, w.pushesTo("alice-phone"), 1, "not retried")
	// New credentials clear the mark.
	cert, _ := w.core.Certificate(testCert)
	_, err := w.core.PutCertificate(w.now, cert, false)
	require.NoError(t, err)
	require.False(t, w.core.Certificates(testApp)[0].Status.Misconfigured)
}

func TestRestartKeepsSessionsBindingsMessagesAndPendingPushes(t *testing.T) {
	w := newWorld(t, Config{DefaultCaps: tinyCaps})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	bob.send("alice", "before")
	alice.live()
	alice.kill()
	for i := range 3 {
		bob.send("alice", fmt.Sprint(i)) // two pushes, one held
	}
	unanswered := w.pushesTo("alice-phone")
	require.Len(t, unanswered, 2, `"2" is held by the caps`)
	w.restart()
	w.advance(time.Second)
	require.Empty(t, w.pushesTo("alice-phone")[2:], "the caps' counts survive the restart: no resend before they allow")
	w.advance(time.Minute)
	require.Len(t, w.pushesTo("alice-phone")[2:], 1, "one token a minute")
	w.advance(2 * time.Minute)
	ps := w.pushesTo("alice-phone")[2:]
	require.Len(t, ps, 3)
	var again []uint64
	for _, p := range ps {
		if p.Attempt == 2 {
			again = append(again, p.ID)
		} else {
			// A summary of one message shows the message itself.
			require.Equal(t, "2", p.Body, "the held message's summary survived the restart")
		}
	}
	require.ElementsMatch(t, []uint64{unanswered[0].ID, unanswered[1].ID}, again, "unfinished pushes are sent again")

	// alice is still logged in and killed: a new message is pushed.
	w.advance(time.Hour)
	bob.relaunch()
	bob.send("alice", "after restart")
	ps = w.pushesTo("alice-phone")
	require.Equal(t, "after restart", ps[len(ps)-1].Body)
	alice.relaunch()
	require.Equal(t, []string{"before", "0", "1", "2", "after restart"}, texts(w.syncAll(alice)))
}

func TestAdminSendGroupsAndMasking(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	_, err := w.core.PutGroup(w.now, Group{SDKAppID: testApp, ID: "team", Members: []string{"bob", "alice", "carol", "alice"}})
	require.NoError(t, err)
	w.settle()
	alice.kill()
	r := w.do(bob.conn, ClientFrame{Op: OpSend, Group: "team", Text: "standup"})
	require.Equal(t, OK, r.Code)
	ps := w.pushesTo("alice-phone")
	require.Len(t, ps, 1)
	require.Equal(t, "group_team", ps[0].CollapseKey)
	r = w.do(bob.conn, ClientFrame{Op: OpSend, Group: "nope", Text: "x"})
	require.Equal(t, CodeUnknownGroup, r.Code)

	_, err = w.core.AdminSend(w.now, testApp, SendRequest{To: "alice", Text: "from the server"})
	require.NoError(t, err)
	w.settle()
	require.Equal(t, "administrator", w.pushesTo("alice-phone")[1].Title)

	for _, v := range w.core.Certificates(testApp) {
		require.NotContains(t, fmt.Sprintf("%+v", v), "private_key")
		require.Equal(t, "abcd…", v.KeyID)
	}
}

func TestPushTraceQuery(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	bob.send("alice", "1")
	t1 := w.now
	w.advance(time.Minute)
	bob.send("alice", "2")
	all := w.core.PushTrace(TraceQuery{SDKAppID: testApp, UserID: "alice", CertificateID: testCert})
	require.Len(t, all, 2)
	require.Equal(t, ReasonPushed, all[0].Reason)
	later := w.core.PushTrace(TraceQuery{SDKAppID: testApp, UserID: "alice", From: t1.Add(time.Second)})
	require.Len(t, later, 1)
	require.Equal(t, uint64(2), later[0].Seq)
	require.Empty(t, w.core.PushTrace(TraceQuery{SDKAppID: testApp, UserID: "alice", CertificateID: 1}))
}

func TestFloodingIsLimitedThenClosed(t *testing.T) {
	w := newWorld(t, Config{FramesPerSecond: 10, FrameBurst: 10})
	alice := w.login("alice", "alice-phone")
	w.advance(time.Second)
	for range 10 {
		w.core.Receive(w.now, alice.conn, ClientFrame{Op: OpPing, ID: 1})
	}
	w.settle()
	require.NotContains(t, w.closed, alice.conn)
	w.core.Receive(w.now, alice.conn, ClientFrame{Op: OpPing, ID: 7})
	w.settle()
	last := w.frames[alice.conn][len(w.frames[alice.conn])-1]
	require.Equal(t, CodeRateLimited, last.Code)
	require.Equal(t, int64(7), last.ID, "the refused request hears why under its own ID")
	for range 10 {
		w.core.Receive(w.now, alice.conn, ClientFrame{Op: OpPing, ID: 1})
	}
	w.settle()
	require.Equal(t, ClosePolicy, w.closed[alice.conn].Code)
}

func TestDeleteCertificateRemovesItsBindings(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	require.NoError(t, w.core.DeleteCertificate(w.now, testApp, testCert))
	w.settle()
	bob.send("alice", "x")
	require.Equal(t, ReasonNoBinding, w.reasons("alice-phone")[len(w.reasons("alice-phone"))-1])
}

func TestSameInputsSameOutputs(t *testing.T) {
	run := func() []Push {
		w := newWorld(t, Config{DefaultCaps: tinyCaps, Seed: 9})
		alice := w.login("alice", "alice-phone")
		bob := w.login("bob", "bob-phone")
		alice.kill()
		for i := range 20 {
			bob.send("alice", fmt.Sprint(i))
			if i%3 == 0 {
				ps := w.pushesTo("alice-phone")
				w.core.PushResult(w.now, PushResult{ID: ps[len(ps)-1].ID, Err: &PushError{Code: "UNAVAILABLE"}})
				w.settle()
			}
			w.advance(17 * time.Second)
		}
		w.advance(time.Hour)
		return w.pushes
	}
	require.Equal(t, run(), run())
}
