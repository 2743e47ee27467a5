package server

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// A frame reaches the app as a json.Encoder writes it, byte for byte: compact JSON with HTML
// escaped, and a newline.
func TestFrameTextIsWhatAnEncoderWrites(t *testing.T) {
	frames := []relay.ServerFrame{
		{Op: relay.OpReply, ID: 7, Code: relay.CodeBusy, Desc: "busy <try> later & again"},
		{Op: relay.OpReply, ID: 8, MsgID: "m-1", Msgs: []relay.MsgFrame{{Seq: 1, ID: "a", From: "bob", Conv: "c2c:bob", Text: "<b>hi</b> \u2028 小明", Time: 1}}, More: true},
		{Op: relay.OpMsg, Msg: &relay.MsgFrame{Seq: 9, ID: "m-9", From: "alice", Conv: "group:t", Text: `"quoted" & <tagged>`, Time: 1700000000000, Group: "t"}},
		{Op: relay.OpKicked, Reason: "logged in elsewhere"},
		{Op: relay.OpPong},
		// Plain replies, written by hand.
		{Op: relay.OpReply, ID: 12345, MsgID: "m-3-17"},
		{Op: relay.OpReply},
		{Op: relay.OpReply, ID: -1, Code: -3, Desc: "tab\tnl\n\x00 \u2028 \"q\" \\ 中文", More: true, Reason: "<why>", Msgs: []relay.MsgFrame{}},
		{Op: relay.OpReply, ID: 9, Desc: "not utf-8 \xff"},
		{Op: relay.OpReply, ID: 10, PushSettings: &relay.PushSettings{}},
	}
	for _, f := range frames {
		var want strings.Builder
		require.NoError(t, json.NewEncoder(&want).Encode(f))
		got, err := frameText(f)
		require.NoError(t, err)
		require.Equal(t, want.String(), string(got))
	}
	_, err := frameText(relay.ServerFrame{Op: relay.OpMsg})
	require.Error(t, err, "a msg frame without its message")
}

// appendPlainReply knows every member of a frame: one added to ServerFrame must be added to it
// (or to what sends a reply through MarshalJSON) and here.
func TestPlainReplyKnowsEveryMember(t *testing.T) {
	var tags []string
	typ := reflect.TypeFor[relay.ServerFrame]()
	for i := range typ.NumField() {
		tags = append(tags, typ.Field(i).Tag.Get("json"))
	}
	require.Equal(t, []string{"op", "id,omitempty", "code", "desc,omitempty", "msgId,omitempty", "msgs,omitempty", "more,omitempty",
		"pushSettings,omitempty", "msg,omitempty", "reason,omitempty"}, tags)
}
