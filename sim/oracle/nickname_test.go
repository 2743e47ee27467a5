package oracle_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/oracle"
)

// The oracle knows a user's nickname from the administrator's call, not from the relay: a
// message carries the nickname its sender had when it was sent, and one that carries another
// breaks the push-content invariant.
func TestOracleHoldsMessagesToTheSendersNickname(t *testing.T) {
	x := newTwoApps(t)
	alice, bob := x.devs["alice-1"], x.devs["bob-1"]
	for _, d := range []*sim.Device{alice, bob} {
		d.Login(true)
		x.w.Advance(time.Second)
	}
	alice.Kill()
	x.w.Advance(time.Second)
	require.NoError(t, x.w.SetProfile(relay.Profile{SDKAppID: 1400000001, UserID: "bob", Nickname: "Bob"}))
	bob.Send(relay.ClientFrame{To: "alice", Text: "hi"})
	x.w.Advance(time.Second)
	require.NoError(t, x.w.SetProfile(relay.Profile{SDKAppID: 1400000001, UserID: "bob", Nickname: "Robert"}))
	x.w.Advance(time.Minute)
	require.Empty(t, x.o.Violations())
	require.Equal(t, 1, x.o.Reach().NicknameTitle, "the push was titled Bob")

	// What the relay would have stored had it read the nickname at the wrong time.
	stored := relay.PutMessage{User: relay.UserKey{SDKAppID: 1400000001, UserID: "alice"},
		Msg: relay.StoredMsg{ID: "m-late", From: "bob", Seq: 9, Text: "late", Nickname: "Bob"}}
	x.o.Tap(sim.TapEvent{Kind: sim.TapReady, Time: x.w.Now(), Ready: &relay.Ready{Records: []relay.Record{stored}}})
	v := x.o.Violations()
	require.NotEmpty(t, v)
	require.Equal(t, oracle.PushContent, v[0].Invariant)
	require.Contains(t, v[0].Evidence, `message m-late from bob stored for alice carries the nickname "Bob"; the sender's profile said "Robert" when it was sent`)
}
