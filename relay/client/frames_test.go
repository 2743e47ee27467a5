package client

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// decodeServerFrame reads every frame, and refuses every text, as ServerFrame's UnmarshalJSON.
func TestDecodeServerFrameReadsAsUnmarshalJSON(t *testing.T) {
	texts := []string{
		`{"op":"reply","id":12345,"code":0,"msgId":"m-3-17"}` + "\n",
		`{"op":"reply","id":7,"code":5003,"desc":"busy"}`,
		`{"op":"reply","id":8,"code":0,"msgs":[{"seq":1,"msgId":"a","from":"bob","conv":"c2c:bob","text":"hi","time":1}],"more":true}`,
		`{"op":"reply","id":9,"code":0,"pushSettings":{"enabled":true}}`,
		`{"op":"msg","seq":9,"msgId":"m-9","from":"alice","conv":"group:t","text":"x","time":17,"group":"t"}`,
		`{"op":"kicked","reason":"logged in elsewhere"}`,
		`{"op":"pong"}`,
		`{"op":"msg","seq":"not a number"}`,
		`{"op":7}`,
		`{"op":"reply","id":"seven"}`,
		`not json`,
		`{"id":3,"op":"reply","op":"msg","seq":4}`,
	}
	for _, text := range texts {
		var want relay.ServerFrame
		wantErr := json.Unmarshal([]byte(text), &want)
		got, err := decodeServerFrame([]byte(text))
		require.Equal(t, wantErr != nil, err != nil, text)
		if wantErr == nil {
			require.Empty(t, cmp.Diff(want, got), text)
		}
	}
}

// A send frame written by hand is what a json.Encoder writes for it; any other frame is left
// to the Encoder.
func TestSendFrameTextIsWhatAnEncoderWrites(t *testing.T) {
	frames := []relay.ClientFrame{
		{Op: relay.OpSend, ID: 12345, To: "load-17", Text: "L3.9@1733500000123456789"},
		{Op: relay.OpSend, ID: -1, To: "<b>&amp;</b>", Text: "tab\tnl\n\x00 \u2028 \"q\" \\ 中文", ClientMsgID: "c-1"},
		{},
		{Op: relay.OpPing},
	}
	for _, f := range frames {
		var want strings.Builder
		require.NoError(t, json.NewEncoder(&want).Encode(f))
		got, ok := sendFrameText(f)
		require.True(t, ok, f)
		require.Equal(t, want.String(), string(got))
	}
	yes := true
	for _, f := range []relay.ClientFrame{
		{Op: relay.OpSend, ID: 1, To: "a", Text: "t", OnlineOnly: true},
		{Op: relay.OpSend, ID: 1, Group: "g", Text: "t"},
		{Op: relay.OpSend, ID: 1, To: "a", OfflinePush: &relay.OfflinePush{Title: "x"}},
		{Op: relay.OpSetPushSettings, ID: 1, Enabled: &yes},
		{Op: relay.OpLogin, ID: 1, SDKAppID: 1, UserID: "u"},
		{Op: relay.OpSend, ID: 1, To: "a", Text: "not utf-8 \xff"},
	} {
		_, ok := sendFrameText(f)
		require.False(t, ok, f)
	}
}
