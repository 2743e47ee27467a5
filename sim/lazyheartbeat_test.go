package sim

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// TestLazyHeartbeatsChangeNothing: with the network answering pings and keeping the app's
// heartbeat itself, whatever interrupts a steady heartbeat — the phone's network lost, its link
// cut or made to jitter, a kick, a relay restart — leaves the run as it would have been with every
// ping a frame through the relay core: the relay closes a silent connection at the same moment,
// the app gives up on it at the same moment, and everything else happens alike.
func TestLazyHeartbeatsChangeNothing(t *testing.T) {
	type run struct {
		Offline  time.Time // when the relay stopped seeing alice online
		LastSeen time.Time // alice's DeviceView.LastSeen four minutes after login
		Log      []string
		Trace    []relay.TraceEntry
	}
	breaks := map[string]func(w *VirtualWorld, alice *Device){
		"net loss": func(_ *VirtualWorld, alice *Device) { alice.NetLoss() },
		"partition": func(w *VirtualWorld, alice *Device) {
			require.NoError(t, w.SetLink(alice, Link{Latency: 30 * time.Millisecond, Partitioned: true}))
		},
		"jitter": func(w *VirtualWorld, alice *Device) {
			require.NoError(t, w.SetLink(alice, Link{Latency: 10 * time.Millisecond, Jitter: 40 * time.Millisecond}))
		},
		"kick":        func(w *VirtualWorld, _ *Device) { require.NoError(t, w.Kick(testApp, "alice")) },
		"restart":     func(w *VirtualWorld, _ *Device) { require.NoError(t, w.RestartRelay()) },
		"kill":        func(_ *VirtualWorld, alice *Device) { alice.Kill() },
		"nothing new": func(*VirtualWorld, *Device) {},
	}
	for name, brk := range breaks {
		t.Run(name, func(t *testing.T) {
			day := func(lazy bool) run {
				w, d := testWorld(t, VirtualConfig{Seed: 3, KeepLog: true, LazyHeartbeats: lazy}, "alice", "bob")
				d["alice"].Login(true)
				d["bob"].Login(true)
				w.run(4 * time.Minute)
				var r run
				u, ok := w.Relay().User(testApp, "alice")
				require.True(t, ok)
				r.LastSeen = u.Devices[0].LastSeen
				w.run(time.Minute + 10*time.Second) // between two pings
				brk(w, d["alice"])
				d["bob"].Send(relay.ClientFrame{To: "alice", Text: "lost"})
				for i := range 300 {
					if i == 100 {
						// Over a jittery link the delays of these depend on every draw since.
						d["alice"].Send(relay.ClientFrame{To: "bob", Text: "later"})
						d["bob"].Send(relay.ClientFrame{To: "alice", Text: "later too"})
					}
					w.run(time.Second)
					if online, _ := w.Online(testApp, "alice", "alice-phone"); !online && r.Offline.IsZero() {
						r.Offline = w.Now()
					}
				}
				r.Trace, _ = w.Trace()
				_, r.Log = w.EventLog()
				return r
			}
			eager, lazy := day(false), day(true)
			require.Less(t, lazy.LastSeen, eager.LastSeen, "lazily, the relay did not take each ping as a frame")
			eager.LastSeen, lazy.LastSeen = time.Time{}, time.Time{}
			require.Empty(t, cmp.Diff(eager, lazy))
		})
	}
}

// TestLazyHeartbeatsCloseADeadConnection: the relay gives up on a connection gone silent while
// the network kept its heartbeat, at the deadline after its last ping.
func TestLazyHeartbeatsCloseADeadConnection(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 3, LazyHeartbeats: true}, "alice")
	d["alice"].Login(true)
	w.run(5*time.Minute + 10*time.Second)
	// The last ping left within the last 30 s: the relay's 90 s deadline falls 60 to 90 s on.
	require.NoError(t, w.SetLink(d["alice"], Link{Latency: 20 * time.Millisecond, Partitioned: true}))
	online := func() bool { on, _ := w.Online(testApp, "alice", "alice-phone"); return on }
	w.run(55 * time.Second)
	require.True(t, online(), "within the deadline of the last ping")
	w.run(40 * time.Second)
	require.False(t, online(), "past it")
}

// TestDayIsTheSameWithLazyHeartbeats: a small day runs event for event the same whether the
// relay core or the network answers the pings.
func TestDayIsTheSameWithLazyHeartbeats(t *testing.T) {
	var events [2]uint64 // eager, lazy
	day := func(lazy bool) DayResult {
		res, err := RunDay(DayConfig{Seed: 2, Devices: 60, Duration: 3 * time.Hour, Sessions: 3, Messages: 12, tune: func(c *VirtualConfig) {
			c.Log, c.LazyHeartbeats = true, lazy
		}}, time.Now)
		require.NoError(t, err)
		events[boolInt(lazy)] = res.Events
		res.Wall, res.Events = 0, 0
		return res
	}
	eager, lazy := day(false), day(true)
	require.Less(t, events[1], events[0], "lazy heartbeats run fewer events: the pings the network answered itself")
	require.NotZero(t, eager.logHash)
	require.Positive(t, eager.Received)
	require.Equal(t, eager, lazy)
}

// TestATapSetLaterSeesEveryPing: a tap sees every ping as the relay core's input, so setting one
// mid-run hands the heartbeats the network was keeping back to the apps: it sees as many pings
// as it would in a world whose heartbeats were never lazy.
func TestATapSetLaterSeesEveryPing(t *testing.T) {
	pings := func(lazy bool) int {
		w, d := testWorld(t, VirtualConfig{Seed: 3, LazyHeartbeats: lazy}, "alice", "bob")
		d["alice"].Login(true)
		d["bob"].Login(true)
		w.run(4 * time.Minute)
		n := 0
		w.SetTap(func(e TapEvent) {
			if e.Kind == TapInput && e.Input.Kind == relay.InputReceive && e.Input.Frame.Op == relay.OpPing {
				n++
			}
		})
		w.run(5 * time.Minute)
		return n
	}
	eager := pings(false)
	require.Positive(t, eager)
	require.Equal(t, eager, pings(true))
}

// TestARestartTellsTheOldRelayNothing: the relay going away ends the heartbeats the network
// kept, but the core that went away is not told (its driver no longer answers for those
// connections, and it would close them on a stale deadline).
func TestARestartTellsTheOldRelayNothing(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 3, LazyHeartbeats: true}, "alice")
	d["alice"].Login(true)
	w.run(10 * time.Minute)
	old := w.Relay()
	require.NoError(t, w.RestartRelay())
	rd := old.TakeReady()
	require.Empty(t, rd.Closes)
}

// TestIdlePhonesCostNoEvents: with lazy heartbeats, phones that stay logged in and say nothing
// cost the world no event at all for as long as their heartbeats keep steady: the network
// answers the pings, and the relay core parks their deadlines instead of waking for each.
func TestIdlePhonesCostNoEvents(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 3, LazyHeartbeats: true}, "alice", "bob")
	d["alice"].Login(true)
	d["bob"].Login(true)
	w.run(5 * time.Minute)
	before := w.Engine().Events()
	w.run(time.Hour)
	require.Zero(t, w.Engine().Events()-before, "events in an hour of two idle phones")
	for _, name := range []string{"alice", "bob"} {
		on, err := w.Online(testApp, name, name+"-phone")
		require.NoError(t, err)
		require.True(t, on, "%s is still online: the parked deadline did not close a live connection", name)
	}
}
