package wsmessage

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// ReadInto reads messages small and large, text and binary, whole and in order into one array,
// and ends as ReadMessage ends: with the peer's close frame, and past the read limit.
func TestReadIntoReadsEachMessageWhole(t *testing.T) {
	msgs := []string{"", "small", strings.Repeat("x", 511), strings.Repeat("y", 512), strings.Repeat("z", 70_000), "after"}
	ws := dialPeer(t, func(ws *websocket.Conn) {
		for i, m := range msgs {
			kind := websocket.TextMessage
			if i%2 == 1 {
				kind = websocket.BinaryMessage
			}
			if ws.WriteMessage(kind, []byte(m)) != nil {
				return
			}
		}
		_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
		_, _, _ = ws.ReadMessage()
	})
	var buf []byte
	var err error
	for _, want := range msgs {
		buf, err = ReadInto(ws, buf)
		require.NoError(t, err)
		require.Equal(t, want, string(buf))
	}
	_, err = ReadInto(ws, buf)
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "bye", ce.Text)
}

// A message past the connection's read limit is an error, as with ReadMessage.
func TestReadIntoStopsAtTheReadLimit(t *testing.T) {
	ws := dialPeer(t, func(ws *websocket.Conn) {
		_ = ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 2000)))
		_, _, _ = ws.ReadMessage()
	})
	ws.SetReadLimit(1000)
	_, err := ReadInto(ws, nil)
	require.ErrorIs(t, err, websocket.ErrReadLimit)
}

// dialPeer connects to a WebSocket peer that runs write on its end of the connection, and closes
// both when the test ends.
func dialPeer(tb testing.TB, write func(ws *websocket.Conn)) *websocket.Conn {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		write(ws)
	}))
	tb.Cleanup(srv.Close)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(tb, err)
	tb.Cleanup(func() { ws.Close() })
	return ws
}
