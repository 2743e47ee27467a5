package relay

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
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

// TestABodyGivesBackTheMessageItHolds: whatever a message holds, its body gives it back as it
// was, field for field: texts of every length (a length over 127 takes more than one byte),
// empty ones, any bytes, times with their location and monotonic reading, group and push
// options. Two bodies are the same only if their messages are.
func TestABodyGivesBackTheMessageItHolds(t *testing.T) {
	require.Equal(t, uintptr(48), unsafe.Sizeof(msgBody{}), "a body is the heap of a relay that keeps messages")
	// Lengths about the limits of one, two and three bytes of length, and drawn ones.
	var sized []string
	for _, n := range []int{0, 1, 127, 128, 300, 16_383, 16_384, 20_000} {
		sized = append(sized, strings.Repeat("x", n))
	}
	text := rapid.OneOf(rapid.String(), rapid.StringN(0, 20_000, -1), rapid.SampledFrom(sized))
	rapid.Check(t, func(t *rapid.T) {
		m := StoredMsg{Seq: rapid.Uint64().Draw(t, "seq"), ID: text.Draw(t, "id"), From: text.Draw(t, "from"),
			FromDevice: text.Draw(t, "fromDevice"), Conv: text.Draw(t, "conv"), Text: text.Draw(t, "text"),
			Nickname: text.Draw(t, "nickname"), Group: rapid.SampledFrom([]string{"", "team"}).Draw(t, "group"),
			Time: rapid.SampledFrom([]time.Time{time.Unix(1_800_000_000, 5).UTC(), time.Unix(7, 0).In(time.Local), time.Now(), {}}).Draw(t, "time")}
		if rapid.Bool().Draw(t, "push") {
			m.Push = &OfflinePush{Title: text.Draw(t, "title")}
		}
		e := inboxEntry{seq: m.Seq, body: newBody(&m), conv: m.Conv}
		require.Equal(t, m, e.msg())

		// Moving one byte from a text to the next makes another body.
		if m.ID != "" {
			o := m
			o.ID, o.From = m.ID[:len(m.ID)-1], m.ID[len(m.ID)-1:]+m.From
			require.False(t, sameBody(e.body, newBody(&o)), "id %q from %q against id %q from %q", m.ID, m.From, o.ID, o.From)
		}
		require.True(t, sameBody(e.body, newBody(&m)))
	})
}
