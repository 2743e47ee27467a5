package client

import (
	"encoding/json"
	"strconv"

	"github.com/pushlab/pushlab/internal/jsonappend"
	"github.com/pushlab/pushlab/relay"
)

// serverFrameFields is ServerFrame's members without its JSON methods.
type serverFrameFields relay.ServerFrame

// decodeServerFrame reads a frame as relay.ServerFrame's UnmarshalJSON does. That reads every
// frame twice, its op first and then the frame; a reply, the frame a sender gets for every
// send, is read here in one pass, as UnmarshalJSON reads it in its second, and only a msg frame
// (or one that does not read that way) goes through UnmarshalJSON.
func decodeServerFrame(data []byte) (relay.ServerFrame, error) {
	var p serverFrameFields
	if err := json.Unmarshal(data, &p); err == nil && p.Op != relay.OpMsg {
		return relay.ServerFrame(p), nil
	}
	var f relay.ServerFrame
	err := json.Unmarshal(data, &f)
	return f, err
}

// sendFrameText is a send frame with nothing but an op, id, recipient, text and client message
// ID — what a load generator's senders write, one frame per message — as a json.Encoder writes
// it (the JSON and a newline), written by hand; false for any other frame, or a string that is
// not valid UTF-8, which the Encoder then writes.
func sendFrameText(f relay.ClientFrame) ([]byte, bool) {
	rest := f
	rest.Op, rest.ID, rest.To, rest.Text, rest.ClientMsgID = "", 0, "", "", ""
	if rest != (relay.ClientFrame{}) {
		return nil, false
	}
	b := make([]byte, 0, 64+len(f.To)+len(f.Text)+len(f.ClientMsgID))
	ok := true
	str := func(s string) {
		var good bool
		if b, good = jsonappend.String(b, s); !good {
			ok = false
		}
	}
	b = append(b, `{"op":`...)
	str(f.Op)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, f.ID, 10)
	if f.To != "" {
		b = append(b, `,"to":`...)
		str(f.To)
	}
	if f.Text != "" {
		b = append(b, `,"text":`...)
		str(f.Text)
	}
	if f.ClientMsgID != "" {
		b = append(b, `,"clientMsgId":`...)
		str(f.ClientMsgID)
	}
	return append(b, "}\n"...), ok
}
