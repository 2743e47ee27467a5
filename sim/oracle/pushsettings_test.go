package oracle_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/oracle"
)

// A user with pushes off gets no push: the relay's user-disabled verdicts pass, and a push it
// would decide had its rule forgotten the setting is a violation naming the invariant. The
// setting comes from the app (setPushSettings) or the administrator, and turning pushes on again
// lifts it.
func TestOracleHoldsPushesOffUsersToNoPush(t *testing.T) {
	x := newTwoApps(t)
	alice, bob := x.devs["alice-1"], x.devs["bob-1"]
	for _, d := range []*sim.Device{alice, bob} {
		d.Login(true)
		x.w.Advance(time.Second)
	}
	require.True(t, alice.SetPushSettings(false))
	x.w.Advance(time.Second)
	token := alice.Token()
	alice.Kill()
	x.w.Advance(time.Second)
	bob.Send(relay.ClientFrame{To: "alice", Text: "while off"})
	x.w.Advance(time.Second)
	require.Empty(t, x.o.Violations(), "the relay traced user-disabled, which holds")
	require.Equal(t, 1, x.o.Reach().PushesOffToKilled)

	// What the relay would have answered had its push rule forgotten the setting.
	fake := relay.Push{ID: 99, Device: relay.DeviceKey{SDKAppID: 1400000001, UserID: "alice", DeviceID: "alice-1"},
		CertificateID: 6768, Token: token, Seqs: []uint64{1}, Attempt: 1}
	x.o.Tap(sim.TapEvent{Kind: sim.TapReady, Time: x.w.Now(), Ready: &relay.Ready{Pushes: []relay.Push{fake}}})
	v := x.o.Violations()
	require.NotEmpty(t, v)
	require.Equal(t, oracle.NoPushWhilePushesOff, v[0].Invariant)
	require.Equal(t, "alice-1", v[0].Device)
	require.Contains(t, v[0].Evidence, "push 99 (attempt 1, covering [1]) decided for alice-1, whose user alice turned pushes off")

	// The administrator turns them on: the next message is pushed, with no new violation.
	before := len(x.o.Violations())
	require.NoError(t, x.w.SetPushSettings(1400000001, "alice", relay.PushSettings{Enabled: true}))
	bob.Send(relay.ClientFrame{To: "alice", Text: "back on"})
	x.w.Advance(time.Second)
	require.Len(t, x.o.Violations(), before)
	require.Equal(t, 1, x.o.Reach().PushesBackOnToKilled)

	// A user-disabled verdict for a user with pushes on does not hold.
	x.o.Tap(sim.TapEvent{Kind: sim.TapReady, Time: x.w.Now(), Ready: &relay.Ready{Trace: []relay.TraceEntry{{Time: x.w.Now(),
		SDKAppID: 1400000001, UserID: "alice", DeviceID: "alice-1", Seq: 2, Reason: relay.ReasonUserDisabled}}}})
	v = x.o.Violations()
	require.Len(t, v, before+1)
	require.Contains(t, v[before].Evidence, "traced user-disabled for [2] but its user alice has pushes on")
}
