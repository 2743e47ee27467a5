package wsmessage

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// BenchmarkRead reads a push-sized message (a device channel's frame is about 400 bytes)
// with ReadInto and with gorilla's ReadMessage.
func BenchmarkRead(b *testing.B) {
	msg := []byte(strings.Repeat("m", 400))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for ws.WriteMessage(websocket.TextMessage, msg) == nil {
		}
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
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
