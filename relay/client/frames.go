package client

import (
	"bytes"
	"encoding/json"

	"github.com/pushlab/pushlab/internal/jsonappend"
	"github.com/pushlab/pushlab/relay"
)

// serverFrameFields is ServerFrame's members without its JSON methods.
type serverFrameFields relay.ServerFrame

// msgFramePrefix starts every msg frame the relay writes (ServerFrame.MarshalJSON writes the op
// first).
const msgFramePrefix = `{"op":"msg"`

// decodeServerFrame reads a frame as relay.ServerFrame's UnmarshalJSON does. That reads every
// frame twice, its op first and then the frame; a reply, the frame a sender gets for every
// send, is read here in one pass, as UnmarshalJSON reads it in its second. A msg frame, known by
// its first member, goes straight to UnmarshalJSON, as does any frame that does not read that way.
func decodeServerFrame(data []byte) (relay.ServerFrame, error) {
	if !bytes.HasPrefix(data, []byte(msgFramePrefix)) {
		var p serverFrameFields
		if err := json.Unmarshal(data, &p); err == nil && p.Op != relay.OpMsg {
			return relay.ServerFrame(p), nil
		}
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
	w := jsonappend.Writer{B: make([]byte, 0, 64+len(f.To)+len(f.Text)+len(f.ClientMsgID))}
	w.Raw(`{"op":`)
	w.Str(f.Op)
	w.Raw(`,"id":`)
	w.Int(f.ID)
	w.OptStr(`,"to":`, f.To)
	w.OptStr(`,"text":`, f.Text)
	w.OptStr(`,"clientMsgId":`, f.ClientMsgID)
	w.Raw("}\n")
	return w.B, w.OK()
}
