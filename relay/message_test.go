package relay

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSendChecksTheIDsItIsGiven: a client's send is checked for the recipient it names (its own
// user ID was checked at login), an administrator's for the sender it names too, and a refused
// send stores nothing.
func TestSendChecksTheIDsItIsGiven(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	r := alice.send("bad id", "hi")
	require.Equal(t, CodeBadField, r.Code)
	require.Contains(t, r.Desc, `"bad id" is not a valid ID`)
	r = w.do(alice.conn, ClientFrame{Op: OpSend, Group: "bad group!", Text: "hi"})
	require.Equal(t, CodeBadField, r.Code)
	require.Contains(t, r.Desc, `"bad group!" is not a valid ID`)

	_, err := w.core.AdminSend(w.now, testApp, SendRequest{From: "bad sender", To: "alice", Text: "hi"})
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, `"bad sender" is not a valid ID`)
	w.settle()
	require.Empty(t, w.inboxes(), "nothing refused is stored")

	_, err = w.core.AdminSend(w.now, testApp, SendRequest{From: "ops", To: "alice", Text: "hi"})
	require.NoError(t, err)
	w.settle()
	got := w.inboxes()
	require.Len(t, got[UserKey{testApp, "alice"}], 1)
	require.Equal(t, "c2c_ops", got[UserKey{testApp, "alice"}][0].Conv)
	require.Equal(t, "c2c_alice", got[UserKey{testApp, "ops"}][0].Conv, "the sender's own copy, filed under its peer")
}
