package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// acksOf records the seqs of the acks the relay receives from a device's connections.
func acksOf(w *VirtualWorld, d *Device) *[]uint64 {
	var got []uint64
	w.SetTap(func(e TapEvent) {
		if e.Kind == TapInput && e.Device == d && e.Input.Kind == relay.InputReceive && e.Input.Frame.Op == relay.OpAck {
			got = append(got, e.Input.Frame.Seq)
		}
	})
	return &got
}

// lifecycles lists a device's lifecycle observations after the first from.
func lifecycles(d *Device, from int) []string {
	var out []string
	for _, o := range d.Observations()[from:] {
		if o.Kind == ObsLifecycle {
			out = append(out, o.Detail)
		}
	}
	return out
}

// sendN has from send n messages to user, a second apart.
func sendN(w *VirtualWorld, from *Device, user string, texts ...string) {
	for _, t := range texts {
		from.Send(relay.ClientFrame{To: user, Text: t})
		w.run(time.Second)
	}
}

func TestHeldAcksGoLateInPartAndInTheOrderAsked(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 5}, "alice", "bob")
	alice, bob := d["alice"], d["bob"]
	alice.Login(true)
	bob.Login(true)
	w.run(time.Second)
	acks := acksOf(w, alice)
	sendN(w, bob, "alice", "one")
	require.Equal(t, []uint64{1}, *acks, "by default the app acknowledges at once")

	from := len(alice.Observations())
	alice.HoldAcks()
	sendN(w, bob, "alice", "two", "three", "four", "five")
	require.Equal(t, []string{"one", "two", "three", "four", "five"}, kinds(alice, ObsMsg), "held acks do not hold messages back")
	require.Equal(t, []uint64{1}, *acks, "no ack while held")
	require.Equal(t, []uint64{2, 3, 4, 5}, alice.HeldAcks())

	alice.ReleaseAcks(1, false)
	alice.ReleaseAcks(2, true)
	w.run(time.Second)
	require.Equal(t, []uint64{1, 2, 5, 4}, *acks, "oldest first, then newest first")
	require.Equal(t, []uint64{3}, alice.HeldAcks())
	sendN(w, bob, "alice", "six")
	require.Equal(t, []uint64{3, 6}, alice.HeldAcks(), "the app goes on holding")
	alice.ReleaseAcks(0, false)
	w.run(time.Second)
	require.Equal(t, []uint64{1, 2, 5, 4, 3, 6}, *acks, "n <= 0 sends all")
	alice.ReleaseAcks(3, true)
	require.Equal(t, []string{"holdAcks", "releaseAcks (seq 2 oldest first; 3 still held)",
		"releaseAcks (seq 5, 4 newest first; 1 still held)", "releaseAcks (seq 3, 6 oldest first; 0 still held)",
		"releaseAcks (none held)"}, lifecycles(alice, from))
	require.Empty(t, kinds(alice, ObsForgot))
}

func TestKilledWithAcksHeldTheAppForgetsAndSyncsThemAgain(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 6}, "alice", "bob")
	alice, bob := d["alice"], d["bob"]
	alice.Login(true)
	bob.Login(true)
	w.run(time.Second)
	acks := acksOf(w, alice)
	alice.HoldAcks()
	sendN(w, bob, "alice", "one", "two", "three")
	alice.ReleaseAcks(1, false)
	alice.Kill()
	w.run(time.Second)
	require.Equal(t, []uint64{1}, *acks)
	var forgot []Observation
	for _, o := range alice.Observations() {
		if o.Kind == ObsForgot {
			forgot = append(forgot, o)
		}
	}
	require.Len(t, forgot, 1)
	require.Equal(t, uint64(1), forgot[0].Seq, "it keeps what it acknowledged")
	require.Equal(t, uint64(1), alice.LastSeq())
	require.Empty(t, alice.HeldAcks())
	require.Equal(t, []string{"two", "three"}, kinds(alice, ObsPush), "the relay pushes what was written but not acknowledged")

	alice.Relaunch()
	w.run(time.Second)
	require.Equal(t, []uint64{2, 3}, alice.SyncedSinceLogin(), "and the relaunch syncs them, once, in order")
	require.Empty(t, kinds(alice, ObsDuplicate))
	sendN(w, bob, "alice", "four")
	require.Equal(t, []uint64{1, 4}, *acks, "a new connection acknowledges at once again")
}

func TestAConnectionOrSessionEndingDropsHeldAcks(t *testing.T) {
	for _, c := range []struct {
		name string
		end  func(alice *Device)
	}{
		{"network back", func(alice *Device) { alice.NetLoss(); alice.NetRestore() }},
		{"logout", func(alice *Device) { alice.Logout(); alice.Login(true) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, d := testWorld(t, VirtualConfig{Seed: 7}, "alice", "bob")
			alice, bob := d["alice"], d["bob"]
			alice.Login(true)
			bob.Login(true)
			w.run(time.Second)
			acks := acksOf(w, alice)
			alice.HoldAcks()
			sendN(w, bob, "alice", "one", "two")
			c.end(alice)
			require.Empty(t, alice.HeldAcks())
			w.run(5 * time.Second)
			require.True(t, alice.LoggedIn())
			require.Equal(t, []uint64{1, 2}, alice.SyncedSinceLogin(), "what it never acknowledged comes again by sync")
			require.Empty(t, *acks, "no held ack is sent on another connection or session")
			alice.ReleaseAcks(0, false)
			sendN(w, bob, "alice", "three")
			require.Equal(t, []uint64{3}, *acks, "and the next message is acknowledged at once")
		})
	}
}
