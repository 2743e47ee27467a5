// Package wsmessage reads WebSocket messages into a buffer the reader keeps, for connections
// that read one small frame per push: gorilla's ReadMessage gathers each message with
// io.ReadAll, a fresh buffer (512 bytes, then grown) per message.
package wsmessage

import (
	"io"

	"github.com/gorilla/websocket"
)

// ReadInto reads the next data message into buf's array (grown when it is too small) and
// returns it, valid until the next call with the same array. Errors are ReadMessage's.
func ReadInto(ws *websocket.Conn, buf []byte) ([]byte, error) {
	buf = buf[:0]
	_, r, err := ws.NextReader()
	if err != nil {
		return buf, err
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
