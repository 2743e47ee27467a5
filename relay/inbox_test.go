package relay

import (
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// messages is the user's inbox as StoredMsgs, in seq order (nil when it is empty).
func (u *user) messages() []StoredMsg {
	if len(u.inbox) == 0 {
		return nil
	}
	out := make([]StoredMsg, len(u.inbox))
	for i := range u.inbox {
		out[i] = u.inbox[i].msg()
	}
	return out
}

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

	// A restart rebuilds the inboxes from the store, which holds every copy on its own: the
	// copies share their bodies and conversation strings again.
	w.restart()
	a, b = w.core.users[UserKey{testApp, "alice"}].inbox, w.core.users[UserKey{testApp, "bob"}].inbox
	require.Len(t, a, 2)
	require.Len(t, b, 2)
	for i := range a {
		require.Same(t, a[i].body, b[i].body, "message %d after a restart", i)
	}
	require.Same(t, unsafe.StringData(a[0].conv), unsafe.StringData(a[1].conv), "one c2c_bob after a restart")
}

// TestRestoreSharesOnlyIdenticalBodies: copies a store holds with the same ID but different
// contents (a store is not trusted to be consistent) keep bodies of their own.
func TestRestoreSharesOnlyIdenticalBodies(t *testing.T) {
	r := newRestoring()
	at := time.Unix(100, 0).UTC()
	x := r.inbox([]StoredMsg{{Seq: 1, ID: "m1", From: "bob", Conv: "c2c_bob", Text: "hi", Time: at}})
	y := r.inbox([]StoredMsg{{Seq: 7, ID: "m1", From: "bob", Conv: "c2c_alice", Text: "hi", Time: at}})
	z := r.inbox([]StoredMsg{{Seq: 2, ID: "m1", From: "bob", Conv: "c2c_bob", Text: "edited", Time: at}})
	g := r.inbox([]StoredMsg{{Seq: 3, ID: "m1", From: "bob", Conv: "c2c_bob", Text: "hi", Time: at, Group: "team"}})
	require.Same(t, x[0].body, y[0].body)
	require.NotSame(t, x[0].body, z[0].body)
	require.NotSame(t, x[0].body, g[0].body)
	require.Equal(t, "edited", z[0].msg().Text)
	require.Equal(t, "team", g[0].msg().Group)
	require.Same(t, unsafe.StringData(x[0].conv), unsafe.StringData(z[0].conv))
}
