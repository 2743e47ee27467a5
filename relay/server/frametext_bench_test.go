package server

import (
	"testing"

	"github.com/pushlab/pushlab/relay"
)

// BenchmarkFrameText is the text of a send's reply, the frame the relay writes for every send.
func BenchmarkFrameText(b *testing.B) {
	f := relay.ServerFrame{Op: relay.OpReply, ID: 12345, MsgID: "m-3-17"}
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			_, _ = frameText(f)
		}
	})
	b.Run("MarshalJSON", func(b *testing.B) {
		for b.Loop() {
			t, _ := f.MarshalJSON()
			_ = append(t, '\n')
		}
	})
}
