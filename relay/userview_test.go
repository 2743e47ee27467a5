package relay

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// The user view says when the relay last heard from each device, and what its caps have counted.
func TestUserViewShowsLastSeenAndCaps(t *testing.T) {
	w := newWorld(t, Config{DefaultCaps: tinyCaps})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	w.advance(10 * time.Second)
	w.ping(alice.conn)
	heard := w.now
	alice.kill()
	w.advance(5 * time.Second) // the close is not the device speaking
	for _, text := range []string{"1", "2", "3"} {
		bob.send("alice", text)
	}
	sent := w.now
	w.advance(20 * time.Second)

	v, ok := w.core.UserAt(w.now, testApp, "alice")
	require.True(t, ok)
	require.Len(t, v.Devices, 1)
	want := DeviceView{DeviceID: "alice-phone", Platform: "android", LoggedIn: true, LoginAt: epoch, LastSeen: heard,
		Binding: &Binding{Key: DeviceKey{testApp, "alice", "alice-phone"}, CertificateID: testCert, Token: alice.token},
		Unread:  2, Held: 1,
		Caps: CapsView{PerMinute: 100, PerHour: 1000, Burst: 2, SentLastMinute: 2, SentLastHour: 2, Tokens: 0, Held: 1,
			SummaryAt: sent.Add(time.Minute)}}
	if diff := cmp.Diff(want, v.Devices[0]); diff != "" {
		t.Fatalf("alice's device (-want +got):\n%s", diff)
	}

	// Later, the windows have moved on and the bucket refilled; reading them changed nothing.
	later, _ := w.core.UserAt(sent.Add(2*time.Hour), testApp, "alice")
	require.Equal(t, CapsView{PerMinute: 100, PerHour: 1000, Burst: 2, Tokens: 2, Held: 1, SummaryAt: sent.Add(time.Minute)}, later.Devices[0].Caps)
	again, _ := w.core.UserAt(w.now, testApp, "alice")
	require.Equal(t, v, again)

	b, err := json.Marshal(v.Devices[0])
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(b, &fields))
	require.Equal(t, heard.Format(time.RFC3339Nano), fields["lastSeen"])
	require.Equal(t, map[string]any{"perMinute": 100.0, "perHour": 1000.0, "burst": 2.0, "sentLastMinute": 2.0,
		"sentLastHour": 2.0, "tokens": 0.0, "held": 1.0, "summaryAt": sent.Add(time.Minute).Format(time.RFC3339Nano)}, fields["caps"])

	// A device the relay never heard from since a restart shows no lastSeen.
	w.restart()
	v, _ = w.core.UserAt(w.now, testApp, "alice")
	require.True(t, v.Devices[0].LastSeen.IsZero())
	b, err = json.Marshal(v.Devices[0])
	require.NoError(t, err)
	require.NotContains(t, string(b), "lastSeen")
}

// A test push goes to the device's binding whatever its state, and is no message: no seq, no
// caps, no badge change.
func TestTestPushUsesTheBindingAndLeavesCapsAndBadgeAlone(t *testing.T) {
	w := newWorld(t, Config{DefaultCaps: tinyCaps})
	alice := w.login("alice", "alice-phone") // online
	before, _ := w.core.UserAt(w.now, testApp, "alice")

	p, err := w.core.TestPush(w.now, DeviceKey{testApp, "alice", "alice-phone"}, "", "")
	require.NoError(t, err)
	w.settle()
	require.Equal(t, []Push{p}, w.pushesTo("alice-phone"))
	require.True(t, p.Test)
	require.Equal(t, testCert, p.CertificateID)
	require.Equal(t, alice.token, p.Token)
	require.Equal(t, DefaultTestPushTitle, p.Title)
	require.Empty(t, p.Seqs)
	require.Equal(t, 0, p.NotificationCount)
	for range 3 { // more than the burst: caps would hold a message back
		_, err := w.core.TestPush(w.now, DeviceKey{testApp, "alice", "alice-phone"}, "t", "b")
		require.NoError(t, err)
	}
	w.settle()
	require.Len(t, w.pushesTo("alice-phone"), 4)
	after, _ := w.core.UserAt(w.now, testApp, "alice")
	require.Equal(t, before, after, "no seq, no caps, no badge")
	require.Equal(t, []string{ReasonTestPush, ReasonTestPush, ReasonTestPush, ReasonTestPush}, w.reasons("alice-phone"))

	// FCM's UNREGISTERED unbinds the token as for any push; then there is nothing to test.
	w.core.PushResult(w.now, PushResult{ID: p.ID, Err: &PushError{Code: "UNREGISTERED", Message: "gone"}})
	w.settle()
	v, _ := w.core.UserAt(w.now, testApp, "alice")
	require.Nil(t, v.Devices[0].Binding)
	n := len(w.pushes)
	_, err = w.core.TestPush(w.now, DeviceKey{testApp, "alice", "alice-phone"}, "", "")
	require.ErrorIs(t, err, ErrNoBinding)
	_, err = w.core.TestPush(w.now, DeviceKey{testApp, "alice", "tablet"}, "", "")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = w.core.TestPush(w.now, DeviceKey{42, "alice", "alice-phone"}, "", "")
	require.ErrorIs(t, err, ErrNotFound)
	w.settle()
	require.Len(t, w.pushes, n, "no push without a binding")
}

func TestShortToken(t *testing.T) {
	require.Equal(t, "abcdefgh…wxyz", ShortToken("abcdefgh-0123456789-wxyz"))
	require.Equal(t, "…6789", ShortToken("0123456789"))
	require.Equal(t, "…", ShortToken("abc"))
}
