package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

const (
	testApp    = uint64(1400000001)
	testSecret = "sim-secret-0123456789"
)

// testWorld is a world with one app, one certificate and phones for the given users.
func testWorld(t *testing.T, cfg VirtualConfig, ids ...string) (*VirtualWorld, map[string]*Device) {
	t.Helper()
	w, err := NewVirtual(cfg)
	require.NoError(t, err)
	require.NoError(t, w.AddApp(relay.AppConfig{SDKAppID: testApp, SecretKey: secret.New(testSecret)}))
	sender, err := w.AddCertificate(CertificateSpec{ID: 6768, SDKAppID: testApp, PackageName: "com.example.im", API: "v1"})
	require.NoError(t, err)
	devs := map[string]*Device{}
	for _, id := range ids {
		devs[id] = w.AddDevice(DeviceConfig{ID: id + "-phone", User: id, SDKAppID: testApp, AppSecret: testSecret,
			CertificateID: 6768, SenderID: sender, Package: "com.example.im", Installed: true})
	}
	w.Engine().RunUntil(w.Now().Add(time.Second))
	return w, devs
}

func kinds(d *Device, k ObsKind) []string {
	var out []string
	for _, o := range d.Observations() {
		if o.Kind == k {
			out = append(out, o.Text)
		}
	}
	return out
}

func (w *VirtualWorld) run(d time.Duration) { w.Engine().RunUntil(w.Now().Add(d)) }

func TestKilledDeviceGetsAPushAndOnlineOneAFrame(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 1}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(time.Second)
	require.True(t, d["alice"].LoggedIn())
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "hello"})
	w.run(time.Second)
	require.Equal(t, []string{"hello"}, kinds(d["alice"], ObsMsg))
	d["alice"].Kill()
	w.run(time.Second)
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "are you there?"})
	w.run(time.Second)
	require.Equal(t, []string{"are you there?"}, kinds(d["alice"], ObsPush))
	d["alice"].Relaunch()
	w.run(time.Second)
	require.Equal(t, []uint64{2}, d["alice"].SyncedSinceLogin(), "relaunch syncs what it missed, once")
}

func TestHalfOpenDeviceIsPushedAfterTheDeadline(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 2}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(time.Second)
	d["alice"].NetLoss()
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "lost"})
	w.run(30 * time.Second)
	require.Empty(t, kinds(d["alice"], ObsPush))
	d["alice"].NetRestore() // FCM back; the push comes once the relay gives up on the old connection
	w.run(2 * time.Minute)
	require.Contains(t, kinds(d["alice"], ObsPush), "lost")
	require.Contains(t, kinds(d["alice"], ObsSynced), "lost", "and the app, reconnected, synced it")
}

func TestLogoutAndKickStopPushes(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 3}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(time.Second)
	d["alice"].Logout()
	w.run(time.Second)
	d["alice"].Kill()
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "after logout"})
	w.run(time.Minute)
	require.Empty(t, kinds(d["alice"], ObsPush))
	var last relay.TraceEntry
	for _, e := range w.trace {
		if e.UserID == "alice" {
			last = e
		}
	}
	require.Equal(t, relay.ReasonLoggedOut, last.Reason)
}

func TestUninstallMakesFCMSayUnregistered(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 4}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(time.Second)
	d["alice"].Uninstall()
	w.run(time.Second)
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "1"})
	w.run(time.Second)
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "2"})
	w.run(time.Second)
	var reasons []string
	for _, e := range w.trace {
		if e.UserID == "alice" {
			reasons = append(reasons, e.Reason)
		}
	}
	require.Equal(t, []string{relay.ReasonPushed, "fcm-UNREGISTERED", relay.ReasonNoBinding}, reasons)
}

func TestFaultsAndRetriesInVirtualTime(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 5}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(time.Second)
	d["alice"].Kill()
	w.FCMDo(func(c *fakefcm.Core, _ time.Time) {
		require.NoError(t, c.SetFaults([]fakefcm.FaultRule{{Status: 503, Count: 2}}))
	})
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "eventually"})
	w.run(time.Minute)
	require.Equal(t, []string{"eventually"}, kinds(d["alice"], ObsPush))
	var reasons []string
	for _, e := range w.trace {
		if e.UserID == "alice" {
			reasons = append(reasons, e.Reason)
		}
	}
	require.Equal(t, []string{relay.ReasonPushed, "fcm-UNAVAILABLE", "fcm-UNAVAILABLE", relay.ReasonFCMOK}, reasons)
}

func TestRestartRelayKeepsLogins(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 6}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(time.Second)
	d["alice"].Kill()
	w.run(time.Second)
	require.NoError(t, w.RestartRelay())
	w.run(10 * time.Second) // bob's app reconnects and logs in again
	require.True(t, d["bob"].LoggedIn())
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "after restart"})
	w.run(time.Second)
	require.Equal(t, []string{"after restart"}, kinds(d["alice"], ObsPush))
}

// TestSameSeedSameEventLog replays a busy run twice and compares every event.
func TestSameSeedSameEventLog(t *testing.T) {
	run := func(seed uint64) (uint64, []string) {
		w, d := testWorld(t, VirtualConfig{Seed: seed, Jitter: 30 * time.Millisecond, Loss: 0.05, KeepLog: true,
			FCM: fakefcm.Behaviour{Loss: 0.1}}, "alice", "bob", "carol")
		for _, id := range []string{"alice", "bob", "carol"} {
			d[id].Login(true)
		}
		w.run(time.Second)
		for i := range 60 {
			switch i % 7 {
			case 2:
				d["alice"].Kill()
			case 5:
				d["alice"].Relaunch()
			case 6:
				d["carol"].NetLoss()
			case 0:
				d["carol"].NetRestore()
			}
			d["bob"].Send(relay.ClientFrame{To: []string{"alice", "carol"}[i%2], Text: fmt.Sprint(i)})
			w.run(time.Duration(i) * 3 * time.Second)
		}
		return w.EventLog()
	}
	h1, l1 := run(42)
	h2, l2 := run(42)
	require.Equal(t, l1, l2)
	require.Equal(t, h1, h2)
	h3, _ := run(43)
	require.NotEqual(t, h1, h3, "another seed, another run")
}

// A partitioned relay link drops frames both ways and tells no one: the relay pushes once its
// heartbeat deadline passes, while the phone's FCM channel still delivers.
func TestPartitionedRelayLinkIsHalfOpenBothWays(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 7}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(time.Second)
	d["alice"].Background(0)
	require.NoError(t, w.SetLink(d["alice"], Link{Latency: 20 * time.Millisecond, Partitioned: true}))
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "into the void"})
	w.run(10 * time.Second)
	require.Empty(t, kinds(d["alice"], ObsMsg), "the frame is dropped on the cut link")
	require.Empty(t, kinds(d["alice"], ObsPush), "the relay still counts the app as connected")
	w.run(3 * time.Minute)
	require.Equal(t, []string{"into the void"}, kinds(d["alice"], ObsPush), "pushed after the heartbeat deadline")
	require.NoError(t, w.SetLink(d["alice"], Link{Latency: 20 * time.Millisecond}))
	w.run(time.Minute)
	require.Contains(t, kinds(d["alice"], ObsSynced), "into the void", "healed, the app reconnects and syncs")
}

// Jitter never reorders the frames of one connection: it is a TCP stream.
func TestJitterKeepsFramesOfAConnectionInOrder(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 8, Jitter: 500 * time.Millisecond}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(5 * time.Second)
	var want []string
	for i := range 40 {
		want = append(want, fmt.Sprint(i))
		d["bob"].Send(relay.ClientFrame{To: "alice", Text: fmt.Sprint(i)})
		w.run(10 * time.Millisecond)
	}
	w.run(10 * time.Second)
	require.Equal(t, want, kinds(d["alice"], ObsMsg))
}

// With the relay cut off from FCM, sends time out and are retried; healed, the push goes through.
func TestBackendPartitionTimesSendsOut(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 9}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(time.Second)
	d["alice"].Kill()
	w.run(time.Second)
	require.NoError(t, w.PartitionFCM(true))
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "through the storm"})
	w.run(15 * time.Second)
	require.Empty(t, kinds(d["alice"], ObsPush))
	require.Zero(t, len(w.FCM().Records(fakefcm.RecordFilter{})), "nothing reached FCM")
	require.NoError(t, w.PartitionFCM(false))
	w.run(5 * time.Minute)
	require.Equal(t, []string{"through the storm"}, kinds(d["alice"], ObsPush))
	var reasons []string
	for _, e := range w.trace {
		if e.UserID == "alice" {
			reasons = append(reasons, e.Reason)
		}
	}
	require.Equal(t, relay.ReasonPushed, reasons[0])
	require.Contains(t, reasons, "fcm-"+relay.ErrCodeTimeout)
	require.Equal(t, relay.ReasonFCMOK, reasons[len(reasons)-1])
}

// TestLogoutLostOnAHalfOpenLinkShowsNothingOfTheEndedSession: the app logs out while its link is
// half-open, so the relay never hears of it and keeps writing messages on the connection once
// the network is back; the app shows none of them (its session is over) and syncs them, in
// order, at its next login.
func TestLogoutLostOnAHalfOpenLinkShowsNothingOfTheEndedSession(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 4}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(time.Second)
	d["alice"].NetLoss()
	d["alice"].Logout()
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "while the logout was lost"})
	w.run(5 * time.Second)
	d["alice"].NetRestore()
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "after the network came back"})
	w.run(time.Second)
	require.Empty(t, kinds(d["alice"], ObsMsg), "a logged-out app shows no message")
	d["alice"].Login(true)
	w.run(time.Second)
	require.Equal(t, []string{"while the logout was lost", "after the network came back"}, kinds(d["alice"], ObsSynced))
}

// TestSilentPushWakesAKilledAppWithoutATrayNotification: a data-only push reaches the killed
// app's handler — observed as silent, its title, body and badge read from the data — and puts
// nothing in the tray, so a tap finds the tray empty; an ordinary push after it is tappable.
func TestSilentPushWakesAKilledAppWithoutATrayNotification(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 4}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(time.Second)
	d["alice"].Kill()
	w.run(time.Second)
	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "quiet", OfflinePush: &relay.OfflinePush{Silent: true,
		Android: relay.AndroidPush{ChannelID: "dm", ClickAction: "OPEN_CHAT"}}})
	w.run(time.Second)
	var push Observation
	for _, o := range d["alice"].Observations() {
		if o.Kind == ObsPush {
			push = o
		}
	}
	require.True(t, push.Silent)
	require.Equal(t, []any{"bob", "quiet", 1, "dm", "OPEN_CHAT"}, []any{push.Title, push.Text, push.Badge, push.ChannelID, push.ClickAction})
	require.Equal(t, AppNotRunning, push.State.App, "the handler runs without launching the app")
	d["alice"].Tap()
	obs := d["alice"].Observations()
	require.Equal(t, "tap: the notification tray is empty", obs[len(obs)-2].Detail)

	d["bob"].Send(relay.ClientFrame{To: "alice", Text: "loud"})
	w.run(time.Second)
	d["alice"].Tap()
	w.run(time.Second)
	require.Equal(t, AppForeground, d["alice"].App(), "a notification in the tray launches the app")
}

// TestPushTripsAreReused: the world reuses a push's trip to FCM once its answer is back, and a
// reused trip carries its own push: every message to a killed app arrives as its own push.
func TestPushTripsAreReused(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 5}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(2 * time.Second)
	d["bob"].Kill()
	w.run(2 * time.Second)
	var want []string
	for i := range 6 {
		text := fmt.Sprintf("trip %d", i)
		want = append(want, text)
		require.True(t, d["alice"].Send(relay.ClientFrame{To: "bob", Text: text}))
		w.run(3 * time.Second)
	}
	require.Equal(t, want, kinds(d["bob"], ObsPush))
	require.Len(t, w.spareTrips, 1, "one trip, reused for every push")
}
