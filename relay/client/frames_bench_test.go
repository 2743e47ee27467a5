package client

import (
	"encoding/json"
	"io"
	"testing"

	"github.com/pushlab/pushlab/relay"
)

// BenchmarkSenderFrames is what a sender's client spends on the JSON of one send: its frame
// written and its reply read, by hand and one pass, and as before by an Encoder and UnmarshalJSON.
func BenchmarkSenderFrames(b *testing.B) {
	f := relay.ClientFrame{Op: relay.OpSend, ID: 12345, To: "load-1234", Text: "L3.9@1733500000123456789"}
	reply := []byte(`{"op":"reply","id":12345,"code":0,"msgId":"m-3-17"}` + "\n")
	b.Run("now", func(b *testing.B) {
		for b.Loop() {
			_, _ = sendFrameText(f)
			_, _ = decodeServerFrame(reply)
		}
	})
	b.Run("before", func(b *testing.B) {
		enc := json.NewEncoder(io.Discard)
		for b.Loop() {
			_ = enc.Encode(f)
			var r relay.ServerFrame
			_ = json.Unmarshal(reply, &r)
		}
	})
}
