package relay

import (
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// inboxes is every user's inbox in the core, as StoredMsgs.
func (w *world) inboxes() map[UserKey][]StoredMsg {
	out := map[UserKey][]StoredMsg{}
	for k, u := range w.core.users {
		if len(u.inbox) > 0 {
			out[k] = u.messages()
		}
	}
	return out
}

// TestInboxHoldsWhatTheStoreHolds: the core's compact inboxes give back, field for field, the
// messages its records stored (one-to-one, own, group, with push options and a nickname,
// trimmed), before and after a restart rebuilds them from the store.
func TestInboxHoldsWhatTheStoreHolds(t *testing.T) {
	w := newWorld(t, Config{InboxLimit: 10})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	_, err := w.core.SetProfile(w.now, Profile{SDKAppID: testApp, UserID: "bob", Nickname: "Bob B."})
	require.NoError(t, err)
	_, err = w.core.PutGroup(w.now, Group{SDKAppID: testApp, ID: "team", Members: []string{"alice", "bob", "carol"}})
	require.NoError(t, err)
	w.settle()
	alice.kill()
	for range 12 {
		bob.send("alice", "hi")
	}
	r := w.do(bob.conn, ClientFrame{Op: OpSend, To: "alice", Text: "with options", OfflinePush: &OfflinePush{Title: "t", Silent: true}})
	require.Equal(t, OK, r.Code)
	r = w.do(bob.conn, ClientFrame{Op: OpSend, Group: "team", Text: "standup"})
	require.Equal(t, OK, r.Code)
	bob.send("bob", "note to self")
	w.advance(0)
	want := w.load().Messages
	require.Equal(t, uint64(5), want[UserKey{testApp, "bob"}][0].Seq, "bob's inbox was trimmed")
	require.Empty(t, cmp.Diff(want, w.inboxes()))
	w.restart()
	require.Empty(t, cmp.Diff(want, w.inboxes()), "restored from the store")
}

// TestCopiesOfAMessageShareItsBody: a message is held once for all the inboxes it is filed in,
// and a user's one-to-one conversation name is made once, not once per message.
func TestCopiesOfAMessageShareItsBody(t *testing.T) {
	w := newWorld(t, Config{})
	w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	bob.send("alice", "one")
	bob.send("alice", "two")
	a, b := w.core.users[UserKey{testApp, "alice"}].inbox, w.core.users[UserKey{testApp, "bob"}].inbox
	require.Len(t, a, 2)
	require.Len(t, b, 2)
	for i := range a {
		require.Same(t, a[i].body, b[i].body, "message %d", i)
	}
	require.Equal(t, "c2c_bob", a[0].conv)
	require.Equal(t, "c2c_alice", b[0].conv)
	require.Same(t, unsafe.StringData(a[0].conv), unsafe.StringData(a[1].conv), "one c2c_bob for both")
	require.Same(t, unsafe.StringData(b[0].conv), unsafe.StringData(b[1].conv), "one c2c_alice for both")
}
