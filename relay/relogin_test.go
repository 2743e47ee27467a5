package relay

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A device that logs out and in again on the same connection, then dies, is away: its messages
// are decided for a push, not taken as delivered online.
func TestReloginOnTheSameConnectionThenDeathIsAway(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	require.Equal(t, OK, w.do(alice.conn, ClientFrame{Op: OpLogout}).Code)
	r := w.do(alice.conn, ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: "alice", UserSig: sig("alice", w.now.Add(time.Hour)), DeviceID: "alice-phone"})
	require.Equal(t, OK, r.Code)
	alice.kill()
	bob.send("alice", "are you there?")
	reasons := w.reasons("alice-phone")
	require.Equal(t, ReasonNoBinding, reasons[len(reasons)-1], "logged in, away, and unbound since the logout")
}
