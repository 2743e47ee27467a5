package wsmessage

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// BenchmarkRead reads a push-sized message (a device channel's frame is about 400 bytes)
// with ReadInto and with gorilla's ReadMessage.
func BenchmarkRead(b *testing.B) {
	msg := []byte(strings.Repeat("m", 400))
	ws := dialPeer(b, func(ws *websocket.Conn) {
		for ws.WriteMessage(websocket.TextMessage, msg) == nil {
		}
	})
	var err error
	b.Run("ReadInto", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			if buf, err = ReadInto(ws, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadMessage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err = ws.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
