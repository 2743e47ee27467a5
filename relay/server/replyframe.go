package server

import (
	"strconv"

	"github.com/pushlab/pushlab/internal/jsonappend"
	"github.com/pushlab/pushlab/relay"
)

// frameText is a frame as the app reads it: its JSON and a newline, as a json.Encoder writes
// it. A plain reply — every send's, and most others' — is written by hand (appendPlainReply);
// any other frame by its MarshalJSON, which already writes compact JSON with HTML escaped, so
// an Encoder would only parse and copy it again.
func frameText(f relay.ServerFrame) ([]byte, error) {
	if f.Op == relay.OpReply && len(f.Msgs) == 0 && f.PushSettings == nil && f.Msg == nil {
		if b, ok := appendPlainReply(make([]byte, 0, 128), f); ok {
			return append(b, '\n'), nil
		}
	}
	b, err := f.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// appendPlainReply appends a reply without messages, push settings or a message as
// ServerFrame.MarshalJSON writes it, byte for byte: the relay writes one for every send, and a
// reflective encoder costs several times the text. False when a string is not valid UTF-8,
// which encoding/json would repair.
func appendPlainReply(b []byte, f relay.ServerFrame) ([]byte, bool) {
	ok := true
	str := func(s string) {
		var good bool
		if b, good = jsonappend.String(b, s); !good {
			ok = false
		}
	}
	b = append(b, `{"op":`...)
	str(f.Op)
	if f.ID != 0 {
		b = append(b, `,"id":`...)
		b = strconv.AppendInt(b, f.ID, 10)
	}
	b = append(b, `,"code":`...)
	b = strconv.AppendInt(b, int64(f.Code), 10)
	if f.Desc != "" {
		b = append(b, `,"desc":`...)
		str(f.Desc)
	}
	if f.MsgID != "" {
		b = append(b, `,"msgId":`...)
		str(f.MsgID)
	}
	if f.More {
		b = append(b, `,"more":true`...)
	}
	if f.Reason != "" {
		b = append(b, `,"reason":`...)
		str(f.Reason)
	}
	return append(b, '}'), ok
}
