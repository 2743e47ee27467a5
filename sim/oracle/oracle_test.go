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
