package relay

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
)

// TestAndroidOptionsReachThePush: a push carries the certificate's default channel unless the
// message names its own; the message's sound and click action come along; a restart keeps them.
func TestAndroidOptionsReachThePush(t *testing.T) {
	w := newWorld(t, Config{DefaultCaps: roomyCaps})
	_, err := w.core.PutCertificate(w.now, Certificate{ID: testCert, SDKAppID: testApp, Platform: "google", PackageName: "com.example.im",
		ServerKey: secret.New("AAAA-legacy-key"), ChannelID: "messages"}, false)
	require.NoError(t, err)
	w.settle()
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	bob.send("alice", "default channel")
	r := w.do(bob.conn, ClientFrame{Op: OpSend, To: "alice", Text: "own channel", OfflinePush: &OfflinePush{
		Android: AndroidPush{ChannelID: "calls", Sound: "ring", ClickAction: "com.example.im.OPEN_CALL"}}})
	require.Equal(t, OK, r.Code, r.Desc)
	r = w.do(bob.conn, ClientFrame{Op: OpSend, To: "alice", Text: "a link", OfflinePush: &OfflinePush{
		Android: AndroidPush{ClickAction: "https://example.com/chat/bob"}}})
	require.Equal(t, OK, r.Code, r.Desc)
	type opts struct{ channel, sound, click string }
	var got []opts
	for _, p := range w.pushesTo("alice-phone") {
		got = append(got, opts{p.ChannelID, p.Sound, p.ClickAction})
		require.False(t, p.Silent)
	}
	require.Equal(t, []opts{{"messages", "", ""}, {"calls", "ring", "com.example.im.OPEN_CALL"}, {"messages", "", "https://example.com/chat/bob"}}, got)

	w.restart()
	st := w.load()
	require.Equal(t, "messages", st.Certificates[0].ChannelID)
	require.Equal(t, AndroidPush{ChannelID: "calls", Sound: "ring", ClickAction: "com.example.im.OPEN_CALL"},
		st.Messages[UserKey{testApp, "alice"}][1].PushOptions().Android)
}

// TestSilentPushesCountAgainstCapsAndBadge: a silent push is decided like any push — it takes
// the caps and raises the badge — and a summary is silent only if every message it covers is.
func TestSilentPushesCountAgainstCapsAndBadge(t *testing.T) {
	w := newWorld(t, Config{DefaultCaps: tinyCaps}) // a burst of 2
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	silent := func(text string) {
		r := w.do(bob.conn, ClientFrame{Op: OpSend, To: "alice", Text: text, OfflinePush: &OfflinePush{Silent: true}})
		require.Equal(t, OK, r.Code, r.Desc)
	}
	silent("1")
	silent("2")
	silent("3") // held by the burst
	silent("4")
	ps := w.pushesTo("alice-phone")
	require.Len(t, ps, 2, "silent pushes take the caps")
	require.Equal(t, []int{1, 2}, []int{ps[0].NotificationCount, ps[1].NotificationCount}, "and the badge")
	require.True(t, ps[0].Silent && ps[1].Silent)
	w.advance(time.Minute)
	ps = w.pushesTo("alice-phone")
	require.Len(t, ps, 3)
	require.Equal(t, []uint64{3, 4}, ps[2].Seqs)
	require.True(t, ps[2].Silent, "a summary of silent messages is silent")
	require.Equal(t, 3, ps[2].NotificationCount)

	silent("5")
	bob.send("alice", "6 wants a notification")
	silent("7")
	w.advance(time.Hour)
	ps = w.pushesTo("alice-phone")
	last := ps[len(ps)-1]
	require.Equal(t, []uint64{5, 6, 7}, last.Seqs)
	require.False(t, last.Silent, "a summary covering a message that wants a notification has one, even if the last is silent")
}

// TestAndroidOptionsAreValidated: a bad channel, sound or click action is refused with a reply
// that names the field, on the app protocol and the admin API; nothing is stored. A certificate's
// default channel is checked the same way.
func TestAndroidOptionsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    AndroidPush
		want string
	}{
		{"channel with spaces", AndroidPush{ChannelID: "Chat messages"}, "offlinePush.android.channelId"},
		{"channel too long", AndroidPush{ChannelID: strings.Repeat("c", MaxChannelIDBytes+1)}, "offlinePush.android.channelId is 129 bytes"},
		{"sound with a path", AndroidPush{Sound: "../ping"}, "offlinePush.android.sound"},
		{"sound too long", AndroidPush{Sound: strings.Repeat("s", MaxSoundBytes+1)}, "offlinePush.android.sound is 65 bytes"},
		{"click action with a space", AndroidPush{ClickAction: "OPEN CHAT"}, "offlinePush.android.clickAction"},
		{"click action not a URL", AndroidPush{ClickAction: "://x"}, "offlinePush.android.clickAction"},
		{"click action with a newline", AndroidPush{ClickAction: "https://example.com/\n"}, "offlinePush.android.clickAction"},
		{"click action too long", AndroidPush{ClickAction: "https://example.com/" + strings.Repeat("p", MaxClickActionBytes)}, "offlinePush.android.clickAction is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Config{})
			alice := w.login("alice", "alice-phone")
			bob := w.login("bob", "bob-phone")
			alice.kill()
			r := w.do(bob.conn, ClientFrame{Op: OpSend, To: "alice", Text: "x", OfflinePush: &OfflinePush{Android: tc.a}})
			require.Equal(t, CodeBadField, r.Code)
			require.Contains(t, r.Desc, tc.want)
			_, err := w.core.AdminSend(w.now, testApp, SendRequest{To: "alice", Text: "x", OfflinePush: &OfflinePush{Android: tc.a}})
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tc.want)
			w.settle()
			u, _ := w.core.User(testApp, "alice")
			require.Zero(t, u.LastSeq, "a refused message is not stored")
		})
	}
	for _, ok := range []AndroidPush{
		{ChannelID: "fcm_default_channel", Sound: "default", ClickAction: "OPEN_ACTIVITY_1"},
		{ChannelID: "com.example.im.messages-2", Sound: "ping.mp3", ClickAction: "example://chat/bob?from=push"},
		{ClickAction: "https://example.com/chat/%E4%BD%A0"},
	} {
		require.Empty(t, checkAndroidPush(ok), "%+v", ok)
	}

	w := newWorld(t, Config{})
	_, err := w.core.PutCertificate(w.now, Certificate{ID: 5, SDKAppID: testApp, Platform: "google", PackageName: "com.example.im",
		ServerKey: secret.New("AAAA-legacy-key"), ChannelID: "Chat messages"}, true)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, `channelId "Chat messages": expected the ID of a NotificationChannel`)
}

// TestSendRefusesAPushOverFCMsLimit: fields each under their own limit but together over FCM's
// 4 KiB are refused 4004 on the app protocol, naming the total and the limit; nothing is stored.
func TestSendRefusesAPushOverFCMsLimit(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login(strings.Repeat("b", MaxIDBytes), "bob-phone")
	alice.kill()
	field := strings.Repeat("x", MaxPushFieldBytes)
	r := w.do(bob.conn, ClientFrame{Op: OpSend, To: "alice", Text: "x", OfflinePush: &OfflinePush{Title: field, Desc: field, Ext: field,
		Android: AndroidPush{Sound: strings.Repeat("s", MaxSoundBytes), ClickAction: "https://example.com/" + strings.Repeat("p", MaxClickActionBytes-20)}}})
	require.Equal(t, CodeTextTooLong, r.Code)
	require.Regexp(t, `could take 4\d{3} bytes .*FCM's limit is 4096`, r.Desc)
	r = w.do(bob.conn, ClientFrame{Op: OpSend, To: "alice", Text: "x", OfflinePush: &OfflinePush{Title: field, Desc: field, Disable: true, Ext: field,
		Android: AndroidPush{Sound: strings.Repeat("s", MaxSoundBytes), ClickAction: "https://example.com/" + strings.Repeat("p", MaxClickActionBytes-20)}}})
	require.Equal(t, OK, r.Code, "a message that is never pushed has no push to fit: %s", r.Desc)
	u, _ := w.core.User(testApp, "alice")
	require.Equal(t, uint64(1), u.LastSeq, "the refused message is not stored")
}

// TestSummaryOfSeveralConversationsHasNoClickAction: a summary push covering one conversation
// opens it like its last message would; one covering several has no click action (the app
// opens its conversation list), whatever its last message asked for.
func TestSummaryOfSeveralConversationsHasNoClickAction(t *testing.T) {
	w := newWorld(t, Config{DefaultCaps: tinyCaps}) // a burst of 2
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	carol := w.login("carol", "carol-phone")
	alice.kill()
	send := func(from *phone, click string) {
		r := w.do(from.conn, ClientFrame{Op: OpSend, To: "alice", Text: "hi", OfflinePush: &OfflinePush{Android: AndroidPush{ClickAction: click}}})
		require.Equal(t, OK, r.Code, r.Desc)
	}
	send(bob, "example://chat/bob")
	send(bob, "example://chat/bob")
	send(bob, "example://chat/bob") // held
	send(bob, "example://chat/bob")
	w.advance(time.Minute)
	ps := w.pushesTo("alice-phone")
	require.Len(t, ps, 3)
	require.Equal(t, "c2c_bob", ps[2].CollapseKey)
	require.Equal(t, "example://chat/bob", ps[2].ClickAction, "one conversation: the summary opens it")

	send(bob, "example://chat/bob") // held
	send(carol, "example://chat/carol")
	w.advance(time.Hour)
	ps = w.pushesTo("alice-phone")
	last := ps[len(ps)-1]
	require.Len(t, last.Seqs, 2)
	require.Equal(t, "summary", last.CollapseKey)
	require.Empty(t, last.ClickAction, "several conversations: no click action")
}
