package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// A phone changes hands only while nobody is logged in on it: the refusal is observed, and the
// phone keeps its user.
func TestSwitchUserIsRefusedWhileAUserIsLoggedIn(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 5}, "alice")
	phone := d["alice"]
	phone.Login(true)
	w.run(time.Second)
	err := phone.SwitchUser("bob")
	require.ErrorContains(t, err, "alice is logged in on the app (log out first)")
	obs := phone.Observations()
	require.Equal(t, ObsRefused, obs[len(obs)-1].Kind)
	require.Equal(t, "switchUser: alice is logged in on the app (log out first)", obs[len(obs)-1].Detail)
	require.Equal(t, "alice", phone.User())
	require.Error(t, phone.SwitchUser(""))
	phone.Logout()
	require.ErrorContains(t, phone.SwitchUser("alice"), "alice is already the phone's user")
}

// After a logout on a whole link, the phone changes hands on its open connection: the app forgets
// alice's sequence numbers and unread count, keeps its install, token and connection, and bob's
// login goes on that same connection.
func TestSwitchUserKeepsTheInstallTokenAndConnection(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 6}, "alice", "carol")
	phone, carol := d["alice"], d["carol"]
	phone.Login(true)
	carol.Login(true)
	w.run(time.Second)
	carol.Send(relay.ClientFrame{To: "alice", Text: "for alice"})
	w.run(time.Second)
	phone.Background(2)
	w.run(time.Second)
	require.Equal(t, uint64(1), phone.LastSeq())
	token, link := phone.Token(), phone.link
	phone.Logout()
	w.run(time.Second)
	require.NoError(t, phone.SwitchUser("bob"))
	obs := phone.Observations()
	last := obs[len(obs)-1]
	require.Equal(t, ObsLifecycle, last.Kind)
	require.Equal(t, "switchUser (bob)", last.Detail)
	require.Equal(t, DeviceState{Installed: true, App: AppBackground, NetUp: true}, last.State)
	require.Equal(t, "bob", phone.User())
	require.Equal(t, "bob", phone.Config().User)
	require.Zero(t, phone.LastSeq())
	require.Empty(t, phone.SyncedSinceLogin())
	require.Zero(t, phone.unread)
	require.Equal(t, token, phone.Token())
	require.Same(t, link, phone.link, "the connection stays open")

	carol.Send(relay.ClientFrame{To: "bob", Text: "for bob"})
	w.run(time.Second)
	phone.Login(true)
	w.run(time.Second)
	require.True(t, phone.LoggedIn())
	require.Same(t, link, phone.link, "bob logs in on the same connection")
	on, err := w.Online(testApp, "bob", "alice-phone")
	require.NoError(t, err)
	require.True(t, on)
	require.Equal(t, []uint64{1}, phone.SyncedSinceLogin(), "bob's first message, from seq 0")
}

// The trap of a shared phone: alice's network drops for long enough that the app gives up on its
// connection, she logs out (the relay never hears of it: her session stays logged in and bound
// to the phone's token), and bob logs in on the same phone, reporting the same token. The relay
// must move the token to bob: a message to alice is not pushed to the phone, one to bob is.
func TestSwitchUserAfterALostLogoutMovesTheToken(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 7}, "alice", "carol")
	phone, carol := d["alice"], d["carol"]
	phone.Login(true)
	carol.Login(true)
	w.run(time.Second)
	token := phone.Token()
	phone.NetLoss()
	w.run(2 * time.Minute)
	phone.Logout()
	require.NoError(t, phone.SwitchUser("bob"))
	phone.NetRestore()
	phone.Login(true)
	w.run(time.Second)
	require.True(t, phone.LoggedIn())
	require.Equal(t, token, phone.Token())
	phone.Kill()
	w.run(time.Second)
	carol.Send(relay.ClientFrame{To: "alice", Text: "for alice"})
	carol.Send(relay.ClientFrame{To: "bob", Text: "for bob"})
	w.run(time.Minute)
	require.Equal(t, []string{"for bob"}, kinds(phone, ObsPush))
	var aliceLast relay.TraceEntry
	for _, e := range w.trace {
		if e.UserID == "alice" && e.DeviceID == "alice-phone" {
			aliceLast = e
		}
	}
	require.Equal(t, relay.ReasonNoBinding, aliceLast.Reason, "alice's session is still on, but the token is bob's")
}

// What the app stored was the previous user's: after a switch, acks the new user's app held when
// it was killed are forgotten (and synced again), however far the previous user had got.
func TestSwitchUserForgetsWhatThePreviousUserStored(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 8}, "alice", "carol")
	phone, carol := d["alice"], d["carol"]
	phone.Login(true)
	carol.Login(true)
	w.run(time.Second)
	sendN(w, carol, "alice", "a1", "a2", "a3")
	phone.Logout()
	w.run(time.Second)
	require.NoError(t, phone.SwitchUser("bob"))
	phone.Login(true)
	w.run(time.Second)
	phone.HoldAcks()
	sendN(w, carol, "bob", "b1")
	phone.Kill()
	w.run(time.Second)
	forgot := kinds(phone, ObsForgot)
	require.Len(t, forgot, 1, "bob's unacknowledged seq 1 is forgotten, not hidden by alice's seq 3")
	require.Zero(t, phone.LastSeq())
}
