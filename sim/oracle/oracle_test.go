package oracle_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/oracle"
)

const testSecret = "oracle-secret-0123456789"

// twoApps is a virtual world with the oracle attached and two apps that share user IDs but not
// rules: app 1 logs users in on one device only, app 2 on every device.
type twoApps struct {
	w    *sim.VirtualWorld
	o    *oracle.Oracle
	devs map[string]*sim.Device
}

func newTwoApps(t *testing.T) *twoApps {
	t.Helper()
	w, err := sim.NewVirtual(sim.VirtualConfig{Seed: 3})
	require.NoError(t, err)
	o := oracle.New(oracle.Config{})
	w.SetTap(o.Tap)
	w.OnObserve(o.Observed)
	x := &twoApps{w: w, o: o, devs: map[string]*sim.Device{}}
	for i, policy := range []relay.LoginPolicy{relay.PolicySingle, relay.PolicyMulti} {
		app := uint64(1400000001 + i)
		a := relay.AppConfig{SDKAppID: app, SecretKey: secret.New(testSecret), LoginPolicy: policy}
		o.AddApp(a)
		require.NoError(t, w.AddApp(a))
		cert := int64(6768 + i)
		sender, err := w.AddCertificate(sim.CertificateSpec{ID: cert, SDKAppID: app, PackageName: "com.example.im", API: "v1"})
		require.NoError(t, err)
		for _, user := range []string{"alice", "bob"} {
			id := fmt.Sprintf("%s-%d", user, i+1)
			d := w.AddDevice(sim.DeviceConfig{ID: id, User: user, Platform: "android", SDKAppID: app, AppSecret: testSecret,
				CertificateID: cert, SenderID: sender, Package: "com.example.im", Installed: true})
			o.AddDevice(d)
			x.devs[id] = d
		}
	}
	w.Advance(time.Second)
	return x
}

// The oracle keeps each app's users and rules apart: alice of app 1 logging in under app 1's
// single-login policy does not end alice of app 2's session, and the two alices' messages have
// sequences of their own. Keyed by user ID alone, it would call the pushes to alice-2 pushes to
// a device kicked out.
func TestOracleKeepsAppsApart(t *testing.T) {
	x := newTwoApps(t)
	for _, id := range []string{"alice-2", "bob-2", "alice-1", "bob-1"} {
		x.devs[id].Login(true)
		x.w.Advance(time.Second)
	}
	x.devs["alice-2"].Kill()
	x.w.Advance(time.Second)
	for i := range 3 {
		x.devs["bob-2"].Send(relay.ClientFrame{To: "alice", Text: fmt.Sprintf("app 2 #%d", i)})
		x.devs["bob-1"].Send(relay.ClientFrame{To: "alice", Text: fmt.Sprintf("app 1 #%d", i)})
		x.w.Advance(time.Second)
	}
	x.w.Advance(time.Minute)
	require.Equal(t, 3, x.o.Reach().PushToKilled, "alice-2 was pushed each of app 2's messages")
	require.Empty(t, x.o.Violations())
	x.o.CheckCaughtUp(x.w.Now(), []*sim.Device{x.devs["alice-1"], x.devs["bob-1"], x.devs["bob-2"]})
	require.Empty(t, x.o.Violations())
}

// A push the relay decides for a device that logged out is a violation that names the
// invariant, the device, the time and what happened.
func TestOracleNamesAPushToALoggedOutDevice(t *testing.T) {
	x := newTwoApps(t)
	d := x.devs["alice-1"]
	d.Login(true)
	x.w.Advance(time.Second)
	token := d.Token()
	d.Logout()
	x.w.Advance(time.Second)
	// What the relay would have answered had its push rule forgotten the logout.
	at := x.w.Now()
	x.o.Tap(sim.TapEvent{Kind: sim.TapReady, Time: at, Ready: &relay.Ready{Pushes: []relay.Push{{
		ID: 99, Device: relay.DeviceKey{SDKAppID: 1400000001, UserID: "alice", DeviceID: "alice-1"},
		CertificateID: 6768, Token: token, Seqs: []uint64{1}, Attempt: 1}}}})
	v := x.o.Violations()
	require.Len(t, v, 1)
	require.Equal(t, oracle.PushOnlyToKilledLoggedInBound, v[0].Invariant)
	require.Equal(t, "alice-1", v[0].Device)
	require.Equal(t, at, v[0].Time)
	require.Contains(t, v[0].Evidence, "push 99 (attempt 1) to alice-1, which is not logged in")
}

// The live twin calls Tap from the relay's loop and Observed under its devices' lock, while the
// runner reads the violations: the oracle takes all three at once (run with -race).
func TestOracleIsSafeForConcurrentUse(t *testing.T) {
	x := newTwoApps(t)
	d := x.devs["bob-2"]
	now := x.w.Now()
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for i := range 200 {
				switch g {
				case 0:
					x.o.Tap(sim.TapEvent{Kind: sim.TapInput, Time: now, Input: relay.Input{Kind: relay.InputOpen, Conn: relay.ConnID(1000 + i)}})
				case 1:
					x.o.Observed(d, sim.Observation{Kind: sim.ObsLifecycle, Detail: "relaunch", At: now})
				default:
					_ = x.o.Violations()
					_ = x.o.Behind([]*sim.Device{d})
				}
			}
		})
	}
	wg.Wait()
	require.Empty(t, x.o.Violations())
}

// A retry carries what its first attempt carried: a retry whose badge moved is a violation that
// says so, while the first attempt, counted from the app's background {unread}, passed.
func TestOracleNamesARetryWhoseBadgeMoved(t *testing.T) {
	x := newTwoApps(t)
	alice, bob := x.devs["alice-1"], x.devs["bob-1"]
	alice.Login(true)
	bob.Login(true)
	x.w.Advance(time.Second)
	alice.Background(4)
	x.w.Advance(time.Second)
	alice.Kill()
	x.w.Advance(time.Second)
	bob.Send(relay.ClientFrame{To: "alice", Text: "hi"})
	x.w.Advance(time.Minute)
	require.Empty(t, x.o.Violations(), "the first attempt carries badge 5, title bob, body hi, collapse key c2c_bob")
	require.Equal(t, 1, x.o.Reach().PushToKilled)

	at := x.w.Now()
	x.o.Tap(sim.TapEvent{Kind: sim.TapReady, Time: at, Ready: &relay.Ready{Pushes: []relay.Push{{
		ID: 1, Device: relay.DeviceKey{SDKAppID: 1400000001, UserID: "alice", DeviceID: "alice-1"}, CertificateID: 6768,
		Token: alice.Token(), Title: "bob", Body: "hi", CollapseKey: "c2c_bob", NotificationCount: 6, Seqs: []uint64{1}, Attempt: 2,
		Data: map[string]string{"conv": "c2c_bob", "seq": "1", "msgId": "1400000001-1", "sender": "bob"}}}}})
	v := x.o.Violations()
	require.Len(t, v, 1)
	require.Equal(t, oracle.PushContent, v[0].Invariant)
	require.Equal(t, "alice-1", v[0].Device)
	require.Contains(t, v[0].Evidence, "push 1 (attempt 2) to alice-1 differs from its first attempt: badge 6, want 5")
}

// sharePhone hands a phone that alice is logged in on to carol, as a shared phone changes hands:
// alice logs out — lost if lostLogout, her network down for long enough that the app gave up
// on its connection — and carol logs in on it, reporting the same token; the oracle is told of
// the phone's new identity, as the scenario runner tells it.
func (x *twoApps) sharePhone(t *testing.T, phone *sim.Device, lostLogout bool) {
	t.Helper()
	phone.Login(true)
	x.w.Advance(time.Second)
	if lostLogout {
		phone.NetLoss()
		x.w.Advance(2 * time.Minute)
	}
	phone.Logout()
	x.w.Advance(time.Second)
	require.NoError(t, phone.SwitchUser("carol"))
	x.o.AddDevice(phone)
	if lostLogout {
		phone.NetRestore()
	}
	phone.Login(true)
	x.w.Advance(time.Second)
	require.True(t, phone.LoggedIn())
	phone.Kill()
	x.w.Advance(time.Second)
}

// A shared phone: alice's logout is lost, carol logs in on the same phone and reports the same
// token. The relay moves the token, so the oracle finds nothing and counts the move; a push for
// alice on that token, decided or reaching FCM, breaks OneUserPerToken and says whose it was.
func TestOracleFollowsATokenToTheUserWhoReportedItLast(t *testing.T) {
	x := newTwoApps(t)
	phone, bob := x.devs["alice-1"], x.devs["bob-1"]
	bob.Login(true)
	x.sharePhone(t, phone, true)
	bob.Send(relay.ClientFrame{To: "alice", Text: "for alice"})
	bob.Send(relay.ClientFrame{To: "carol", Text: "for carol"})
	x.w.Advance(time.Minute)
	require.Empty(t, x.o.Violations())
	require.Equal(t, 1, x.o.Reach().TokenMoved, "the token moved from alice, still logged in, to carol")
	require.Equal(t, 1, x.o.Reach().PushToKilled, "carol's message was pushed to the phone")

	// What the relay would have done had it left alice bound to the token.
	alice := relay.DeviceKey{SDKAppID: 1400000001, UserID: "alice", DeviceID: "alice-1"}
	push := relay.Push{ID: 99, Device: alice, CertificateID: 6768, Token: phone.Token(), Seqs: []uint64{1}, Attempt: 1}
	at := x.w.Now()
	x.o.Tap(sim.TapEvent{Kind: sim.TapReady, Time: at, Ready: &relay.Ready{Pushes: []relay.Push{push}}})
	x.o.Tap(sim.TapEvent{Kind: sim.TapFCM, Time: at, Push: push})
	var named []oracle.Violation
	for _, v := range x.o.Violations() {
		if v.Invariant == oracle.OneUserPerToken {
			named = append(named, v)
		}
	}
	require.Len(t, named, 2)
	require.Equal(t, oracle.OneUserPerToken, x.o.Violations()[0].Invariant, "named first, before what follows from it")
	require.Equal(t, "alice-1", named[0].Device)
	require.Equal(t, at, named[0].Time)
	token := phone.Token()[:12]
	require.Equal(t, "push 99 (attempt 1) decided for alice on alice-1, on token "+token+"…, which carol on alice-1 reported last", named[0].Evidence)
	require.Equal(t, "push 99 (attempt 1) reached FCM for alice on alice-1, on token "+token+"…, which carol on alice-1 reported last", named[1].Evidence)
}

// A phone that changes hands on its open connection: carol's login on it is carol's from then
// on. Alice's logout reached the relay (whole link) or not (lost on a cut link, the connection
// kept): either way the relay ends alice's login, and the oracle follows it, so a message to
// alice is explained as logged-out and one to carol is pushed, without a violation.
func TestOracleFollowsAConnectionThatChangesHands(t *testing.T) {
	for _, lost := range []bool{false, true} {
		t.Run(fmt.Sprintf("logout lost %v", lost), func(t *testing.T) {
			x := newTwoApps(t)
			phone, bob := x.devs["alice-1"], x.devs["bob-1"]
			bob.Login(true)
			phone.Login(true)
			x.w.Advance(time.Second)
			if lost {
				require.NoError(t, x.w.SetLink(phone, sim.Link{Partitioned: true}))
			}
			phone.Logout()
			x.w.Advance(time.Second)
			require.NoError(t, phone.SwitchUser("carol"))
			x.o.AddDevice(phone)
			if lost {
				require.NoError(t, x.w.SetLink(phone, sim.Link{}))
			}
			phone.Login(true)
			x.w.Advance(time.Second)
			require.True(t, phone.LoggedIn())
			phone.Kill()
			x.w.Advance(time.Second)
			bob.Send(relay.ClientFrame{To: "alice", Text: "for alice"})
			bob.Send(relay.ClientFrame{To: "carol", Text: "for carol"})
			x.w.Advance(time.Minute)
			require.Empty(t, x.o.Violations())
			require.Zero(t, x.o.Reach().TokenMoved, "alice's login ended before carol reported the token")
			require.Equal(t, 1, x.o.Reach().PushToKilled)
		})
	}
}

// A phone that comes back to a user it had before starts afresh: the app syncs that user's
// messages from the first again, which is no duplicate.
func TestOracleCountsAReturningUserFromScratch(t *testing.T) {
	x := newTwoApps(t)
	phone, bob := x.devs["alice-1"], x.devs["bob-1"]
	bob.Login(true)
	phone.Login(true)
	x.w.Advance(time.Second)
	bob.Send(relay.ClientFrame{To: "alice", Text: "for alice"})
	x.w.Advance(time.Second)
	for _, user := range []string{"carol", "alice"} {
		phone.Logout()
		x.w.Advance(time.Second)
		require.NoError(t, phone.SwitchUser(user))
		x.o.AddDevice(phone)
		phone.Login(true)
		x.w.Advance(time.Second)
	}
	require.Equal(t, uint64(1), phone.LastSeq(), "alice's message, synced again")
	require.Empty(t, x.o.Violations())
	x.o.CheckCaughtUp(x.w.Now(), []*sim.Device{phone})
	require.Empty(t, x.o.Violations())
}

// A push whose last allowed attempt FCM refused for a passing reason is given up: the oracle
// counts the edge, takes the relay's final answer in the trace, and names anything traced for
// the push after it (a relay that kept it for one more retry traces a timeout or a cancel).
func TestOracleNamesAPushKeptPastItsLastAttempt(t *testing.T) {
	x := newTwoApps(t)
	alice, bob := x.devs["alice-1"], x.devs["bob-1"]
	alice.Login(true)
	bob.Login(true)
	x.w.Advance(time.Second)
	alice.Kill()
	x.w.Advance(time.Second)
	require.NoError(t, x.w.SetFaults([]fakefcm.FaultRule{{Token: alice.Token(), Status: 503}}))
	bob.Send(relay.ClientFrame{To: "alice", Text: "hi"})
	x.w.Advance(10 * time.Minute)
	require.Empty(t, x.o.Violations(), "five attempts, each refused, the last one given up")
	require.Equal(t, 1, x.o.Reach().LastAttemptFailed)

	at := x.w.Now()
	x.o.Tap(sim.TapEvent{Kind: sim.TapReady, Time: at, Ready: &relay.Ready{Trace: []relay.TraceEntry{{
		SDKAppID: 1400000001, UserID: "alice", DeviceID: "alice-1", Seq: 1, PushID: 1, Attempt: 5,
		Reason: relay.ReasonFCMPrefix + relay.ErrCodeTimeout, Detail: "gave up: the relay restarted"}}}})
	v := x.o.Violations()
	require.Len(t, v, 1)
	require.Equal(t, oracle.RetryBudget, v[0].Invariant)
	require.Equal(t, "alice-1", v[0].Device)
	require.Contains(t, v[0].Evidence, "push 1: attempt 5 of 5 failed (UNAVAILABLE), so it is given up, yet the relay traced fcm-TIMEOUT")
}
