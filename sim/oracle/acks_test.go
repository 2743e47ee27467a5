package oracle_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/oracle"
)

// ackWorld is a virtual world of alice and bob, under the relay rules given, with the oracle
// attached; both are logged in.
func ackWorld(t *testing.T, rules relay.Config) (*sim.VirtualWorld, *oracle.Oracle, *sim.Device, *sim.Device) {
	t.Helper()
	w, err := sim.NewVirtual(sim.VirtualConfig{Seed: 9, Relay: rules})
	require.NoError(t, err)
	o := oracle.New(oracle.Config{Relay: rules})
	w.SetTap(o.Tap)
	w.OnObserve(o.Observed)
	a := relay.AppConfig{SDKAppID: 1400000001, SecretKey: secret.New(testSecret)}
	o.AddApp(a)
	require.NoError(t, w.AddApp(a))
	sender, err := w.AddCertificate(sim.CertificateSpec{ID: 6768, SDKAppID: a.SDKAppID, PackageName: "com.example.im", API: "v1"})
	require.NoError(t, err)
	var devs []*sim.Device
	for _, user := range []string{"alice", "bob"} {
		d := w.AddDevice(sim.DeviceConfig{ID: user + "-phone", User: user, SDKAppID: a.SDKAppID, AppSecret: testSecret,
			CertificateID: 6768, SenderID: sender, Package: "com.example.im", Installed: true})
		o.AddDevice(d)
		devs = append(devs, d)
	}
	w.Advance(time.Second)
	for _, d := range devs {
		d.Login(true)
	}
	w.Advance(time.Second)
	return w, o, devs[0], devs[1]
}

// send has from send n messages to a user, every apart.
func send(w *sim.VirtualWorld, from *sim.Device, to string, n int, every time.Duration) {
	for i := range n {
		from.Send(relay.ClientFrame{To: to, Text: fmt.Sprintf("m%d", i+1)})
		w.Advance(every)
	}
}

func pushes(d *sim.Device) int {
	n := 0
	for _, o := range d.Observations() {
		if o.Kind == sim.ObsPush {
			n++
		}
	}
	return n
}

// Acks that trail what was written: the phone takes three in, acknowledges the first, and dies.
// The two it never acknowledged are owed a push and pushed, the state is counted, and the phone,
// having forgotten them, takes them in again by sync without breaking the no-loss invariant.
func TestOracleOwesWhatTrailingAcksLeftUnacknowledged(t *testing.T) {
	w, o, alice, bob := ackWorld(t, relay.Config{})
	alice.HoldAcks()
	send(w, bob, "alice", 3, 100*time.Millisecond)
	alice.ReleaseAcks(1, false)
	alice.Kill()
	w.Advance(time.Minute)
	require.Equal(t, 2, pushes(alice))
	require.Equal(t, 1, o.Reach().UnackedAtClose)
	alice.Relaunch()
	w.Advance(time.Minute)
	require.Equal(t, []uint64{2, 3}, alice.SyncedSinceLogin())
	o.CheckCaughtUp(w.Now(), []*sim.Device{alice, bob})
	require.Empty(t, o.Violations())
}

// Acks out of order: the newest first acknowledges all three, and the older one after it takes
// nothing back, so nothing is owed when the phone dies, and nothing is pushed.
func TestOracleTakesAnAckAsCoveringEveryMessageUpToIt(t *testing.T) {
	w, o, alice, bob := ackWorld(t, relay.Config{})
	alice.HoldAcks()
	send(w, bob, "alice", 3, 100*time.Millisecond)
	require.Equal(t, []uint64{3, 2}, alice.ReleaseAcks(2, true))
	alice.Kill()
	w.Advance(time.Minute)
	require.Zero(t, pushes(alice))
	require.Zero(t, o.Reach().UnackedAtClose)
	require.Empty(t, o.Violations())

	// Had the relay pushed one of them all the same, the oracle would say so.
	at := w.Now()
	o.Tap(sim.TapEvent{Kind: sim.TapReady, Time: at, Ready: &relay.Ready{Pushes: []relay.Push{{
		ID: 99, Device: relay.DeviceKey{SDKAppID: 1400000001, UserID: "alice", DeviceID: "alice-phone"},
		CertificateID: 6768, Token: alice.Token(), Seqs: []uint64{2}, Attempt: 1}}}})
	v := o.Violations()
	require.NotEmpty(t, v)
	require.Equal(t, oracle.NoPushOfAcknowledged, v[0].Invariant)
	require.Equal(t, at, v[0].Time)
	require.Contains(t, v[0].Evidence, "push 99 (attempt 1) to alice-phone covers seq 2, which it acknowledged (up to seq 3)")
}

// An ack past the connection's flood limit is dropped by the relay and acknowledges nothing: the
// message it was for is pushed when the phone dies, which is no push of an acknowledged message.
func TestOracleCountsNoAckTheFloodLimitDropped(t *testing.T) {
	w, o, alice, bob := ackWorld(t, relay.Config{FramesPerSecond: 1, FrameBurst: 5})
	alice.HoldAcks()
	send(w, bob, "alice", 6, 3*time.Second) // bob's app sends and acknowledges its own: two frames each
	w.Advance(10 * time.Second)             // alice's bucket refills: five frames, not six
	alice.ReleaseAcks(0, false)
	alice.Kill()
	w.Advance(time.Minute)
	require.Equal(t, 1, pushes(alice), "the sixth ack was dropped: m6 is pushed")
	require.Empty(t, o.Violations())
}
