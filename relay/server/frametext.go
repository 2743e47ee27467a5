package server

import (
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
	w := jsonappend.Writer{B: b}
	w.Raw(`{"op":`)
	w.Str(f.Op)
	if f.ID != 0 {
		w.Raw(`,"id":`)
		w.Int(f.ID)
	}
	w.Raw(`,"code":`)
	w.Int(int64(f.Code))
	w.OptStr(`,"desc":`, f.Desc)
	w.OptStr(`,"msgId":`, f.MsgID)
	if f.More {
		w.Raw(`,"more":true`)
	}
	w.OptStr(`,"reason":`, f.Reason)
	w.Raw(`}`)
	return w.B, w.OK()
}
