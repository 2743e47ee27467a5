package sim

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pushlab/pushlab/relay"
	"github.com/stretchr/testify/require"
)

// stateAt is an observation reduced to what it was and the state it carries.
type stateAt struct {
	Kind   ObsKind
	Detail string
	State  DeviceState
}

func TestObservationsCarryTheStateTheyLeave(t *testing.T) {
	w, d := testWorld(t, VirtualConfig{Seed: 3}, "alice")
	alice := d["alice"]
	from := len(alice.Observations()) // after the install and the token
	alice.Login(true)
	w.run(time.Second)
	alice.Kill()
	w.run(time.Second)
	alice.ForceStop()
	alice.Relaunch()
	w.run(time.Second)
	alice.Logout()
	alice.Uninstall()

	var got []stateAt
	for _, o := range alice.Observations()[from:] {
		if o.Kind == ObsLifecycle || o.Kind == ObsConnected {
			got = append(got, stateAt{o.Kind, o.Detail, o.State})
		}
	}
	fg := DeviceState{Installed: true, App: AppForeground, Credentials: true, NetUp: true}
	loggedIn := fg
	loggedIn.LoggedIn = true
	killed := DeviceState{Installed: true, App: AppNotRunning, Credentials: true, NetUp: true}
	stopped := killed
	stopped.ForceStopped = true
	loggedOut := DeviceState{Installed: true, App: AppForeground, NetUp: true}
	want := []stateAt{
		{ObsLifecycle, "login", fg},
		{ObsConnected, "", loggedIn},
		{ObsLifecycle, "kill", killed}, // not running, the user still logged in on the phone
		{ObsLifecycle, "forceStop", stopped},
		{ObsLifecycle, "relaunch", fg},
		{ObsConnected, "", loggedIn},
		{ObsLifecycle, "logout", loggedOut},
		{ObsLifecycle, "uninstall", DeviceState{App: AppNotRunning, NetUp: true}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("observations and their states (-want +got):\n%s", diff)
	}
}

// TestARepliedRequestLeavesTheOthersPending: a reply takes its own request out, in whatever order
// replies come, and a reply to no pending request finds none; a phone's first four requests wait
// in its own record, and a fifth as well as they.
func TestARepliedRequestLeavesTheOthersPending(t *testing.T) {
	d := NewDevice(DeviceConfig{}, nil, nil)
	for i := range len(d.pendingIn) {
		d.pending = append(d.pending, pendingRequest{id: int64(i + 1)})
	}
	require.Same(t, &d.pendingIn[0], &d.pending[0], "in the device's own array, the fourth too")
	d.pending = d.pending[:0]

	for i, op := range []string{relay.OpLogin, relay.OpSync, relay.OpSend, relay.OpSend, relay.OpBackground} {
		d.pending = append(d.pending, pendingRequest{id: int64(i + 1), op: op})
	}
	require.Equal(t, relay.OpBackground, d.replied(5), "the fifth, past the device's own array")
	require.Equal(t, relay.OpSync, d.replied(2))
	require.Empty(t, d.replied(2), "already replied")
	require.Empty(t, d.replied(9), "never asked")
	require.True(t, d.awaiting(relay.OpLogin))
	require.False(t, d.awaiting(relay.OpSync))
	require.Equal(t, relay.OpSend, d.replied(4))
	require.Equal(t, relay.OpLogin, d.replied(1))
	require.Equal(t, 1, d.PendingRequests())
	require.Equal(t, relay.OpSend, d.replied(3))
	require.Zero(t, d.PendingRequests())
}
