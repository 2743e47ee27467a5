package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
)

// The hand-written encoder writes exactly what encoding/json writes for every frame shape: all
// members set, none, strings that need escaping (HTML, control characters, line separators,
// quotes) and strings that are not valid UTF-8 (which go through encoding/json).
func TestAppendDeviceFrameWritesWhatEncodingJSONWrites(t *testing.T) {
	count, zero := 7, 0
	tricky := []string{"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnl\ncr\rnul\x00bell\x07\x1f", "line\u2028sep\u2029", "中文 émoji 🎉", "bad \xff utf-8", "\x7f del"}
	frames := []fakefcm.DeviceFrame{
		{Type: fakefcm.DeliverDeleted},
		{Type: fakefcm.DeliverMessage, Message: &fakefcm.RemoteMessage{}},
		{Type: fakefcm.DeliverMessage, Message: &fakefcm.RemoteMessage{MessageID: "0:1%ab", From: "123", Priority: "high", TTLSeconds: 2419200, SentTime: 1733500000123,
			Data:         map[string]string{"seq": "12", "conv": "c2c_u1", "a": "", "z": "last"},
			Notification: &fakefcm.AndroidNotification{Title: "t", Body: "b", Sound: "default", ChannelID: "im", NotificationCount: &count}}},
		{Type: fakefcm.DeliverMessage, Message: &fakefcm.RemoteMessage{MessageID: "m", CollapseKey: "ck", TTLSeconds: -1, SentTime: -5,
			Notification: &fakefcm.AndroidNotification{Icon: "i", Color: "#112233", Tag: "tag", ClickAction: "OPEN", Image: "https://x/y.png", NotificationCount: &zero}}},
		{Type: fakefcm.DeliverMessage, Message: &fakefcm.RemoteMessage{MessageID: "m", Data: map[string]string{}, Notification: &fakefcm.AndroidNotification{}}},
	}
	many := map[string]string{}
	for i := range 40 {
		many[strings.Repeat("k", i+1)] = strings.Repeat("v", i)
	}
	frames = append(frames, fakefcm.DeviceFrame{Type: fakefcm.DeliverMessage, Message: &fakefcm.RemoteMessage{MessageID: "many", Data: many}})
	for _, s := range tricky {
		frames = append(frames, fakefcm.DeviceFrame{Type: fakefcm.DeliveryKind(s), Message: &fakefcm.RemoteMessage{MessageID: s, From: s, CollapseKey: s, Priority: s,
			Data:         map[string]string{s: s, "x" + s: s},
			Notification: &fakefcm.AndroidNotification{Title: s, Body: s, Icon: s, Color: s, Sound: s, Tag: s, ClickAction: s, ChannelID: s, Image: s}}})
	}
	for _, f := range frames {
		want, err := json.Marshal(f)
		require.NoError(t, err)
		got, err := appendDeviceFrame([]byte("kept"), f)
		require.NoError(t, err)
		require.Equal(t, "kept"+string(want)+"\n", string(got))
	}
}

// The encoder knows every member of the frame's types: a member added to them must be added to
// appendDeviceFrameFast (and here), or devices would not receive it.
func TestAppendDeviceFrameKnowsEveryMember(t *testing.T) {
	names := func(v any) []string {
		var out []string
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			out = append(out, typ.Field(i).Tag.Get("json"))
		}
		return out
	}
	require.Equal(t, []string{"type", "message,omitempty"}, names(fakefcm.DeviceFrame{}))
	require.Equal(t, []string{"messageId", "from", "collapseKey,omitempty", "priority", "ttl", "sentTime", "data,omitempty", "notification,omitempty"}, names(fakefcm.RemoteMessage{}))
	require.Equal(t, []string{"title,omitempty", "body,omitempty", "icon,omitempty", "color,omitempty", "sound,omitempty", "tag,omitempty", "clickAction,omitempty",
		"channelId,omitempty", "image,omitempty", "notificationCount,omitempty"}, names(fakefcm.AndroidNotification{}))
}

// plainAck reads the plain acknowledgement and leaves everything else to encoding/json, which
// reads the same ID from it.
func TestPlainAckReadsOnlyThePlainForm(t *testing.T) {
	for data, want := range map[string]string{`{"ack":"0:1%ab"}`: "0:1%ab", `{"ack":"0:1%ab"}` + "\n": "0:1%ab", `{"ack":"中文"}`: "中文"} {
		got, ok := plainAck([]byte(data))
		require.True(t, ok, data)
		require.Equal(t, want, got.Ack, data)
	}
	for _, data := range []string{`{"ack":"a\"b"}`, `{"ack":"a\\b"}`, `{"ack":"\u0041"}`, `{ "ack":"a"}`, `{"ack":"a"} `, `{"ack":"a","x":1}`, `{"ack":"` + "\x01" + `"}`, `{"ack":"` + "\xff" + `"}`, `{"ack":"}`, `{"ack":1}`, `[]`} {
		_, ok := plainAck([]byte(data))
		require.False(t, ok, data)
	}
	got, ok := plainAck([]byte(`{"ack":""}`))
	require.True(t, ok)
	require.Empty(t, got.Ack)
}

// BenchmarkDeviceFrame compares the hand-written encoder with encoding/json's, per push's frame.
func BenchmarkDeviceFrame(b *testing.B) {
	count := 1
	f := fakefcm.DeviceFrame{Type: fakefcm.DeliverMessage, Message: &fakefcm.RemoteMessage{MessageID: "0:1733500000123%abcdef0123", From: "123456789012", Priority: "high",
		TTLSeconds: 2419200, SentTime: 1733500000123, Data: map[string]string{"conv": "c2c_user-1", "seq": "12", "sender": "user-1"},
		Notification: &fakefcm.AndroidNotification{Title: "user-1", Body: "t1733500000123456789 hello", Sound: "default", ChannelID: "im", NotificationCount: &count}}}
	b.Run("hand", func(b *testing.B) {
		var text []byte
		for b.Loop() {
			text, _ = appendDeviceFrame(text[:0], f)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for b.Loop() {
			buf.Reset()
			_ = enc.Encode(f)
		}
	})
}
