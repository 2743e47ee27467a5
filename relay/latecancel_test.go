package relay

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// FCM's UNREGISTERED for a push cancelled on its way (its token moved to another device) still
// unbinds whichever device holds the token now: it is dead.
func TestUnregisteredForACancelledPushUnbindsTheTokensNewOwner(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	carol := w.login("carol", "carol-phone")
	alice.kill()
	bob.send("alice", "1")
	p := w.pushesTo("alice-phone")[0]
	r := w.do(carol.conn, ClientFrame{Op: OpSetPushToken, CertificateID: testCert, Token: p.Token})
	require.Equal(t, OK, r.Code)
	require.Contains(t, w.cancelled, p.ID, "the token moved: alice's push is cancelled")
	w.core.PushResult(w.now, PushResult{ID: p.ID, Err: &PushError{Code: "UNREGISTERED", Message: "gone"}})
	w.settle()
	u, _ := w.core.User(testApp, "carol")
	require.Nil(t, u.Devices[0].Binding, "carol's binding to the dead token is removed")
	carol.kill()
	bob.send("carol", "2")
	require.Empty(t, w.pushesTo("carol-phone"), "no push to a token FCM called UNREGISTERED")
}
