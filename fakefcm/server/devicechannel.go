package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/wsmessage"
)

// Close codes fakefcm ends device channels with.
const (
	websocketNormal    = websocket.CloseNormalClosure
	websocketGoingAway = websocket.CloseGoingAway
	websocketPolicy    = websocket.ClosePolicyViolation
)

// deviceChannelBuffer is how many frames may wait for a slow device before fakefcm gives up on
// its channel (the unacknowledged messages are delivered again when it reconnects).
const deviceChannelBuffer = 1024

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 4096,
	// Device channels come from simulated devices and tools, not browsers.
	CheckOrigin: func(*http.Request) bool { return true },
}

// deviceConn is one open device channel: a writer goroutine drains send; the HTTP handler's
// goroutine reads acknowledgements.
type deviceConn struct {
	token string
	ws    *websocket.Conn
	send  chan fakefcm.DeviceFrame

	once      sync.Once
	done      chan struct{} // closed by shutdown
	closeCode int
	closeText string
}

// enqueue hands a frame to the writer; a channel too slow to keep up is shut down.
func (c *deviceConn) enqueue(f fakefcm.DeviceFrame) {
	select {
	case c.send <- f:
	default:
		c.shutdown(websocketPolicy, "device too slow to read its messages")
	}
}

// shutdown asks the writer to close the channel with the given code; later calls do nothing.
func (c *deviceConn) shutdown(code int, text string) {
	c.once.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.done)
	})
}

// writeLoop writes frames and pings until shutdown, then closes the socket.
func (c *deviceConn) writeLoop(ping time.Duration) {
	ticker := time.NewTicker(ping)
	defer ticker.Stop()
	defer c.ws.Close()
	var text []byte // the frame being written, its array reused
	for {
		select {
		case f := <-c.send:
			var err error
			if text, err = appendDeviceFrame(text[:0], f); err != nil {
				return
			}
			_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.ws.WriteMessage(websocket.TextMessage, text); err != nil {
				return
			}
		case <-ticker.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)); err != nil {
				return
			}
		case <-c.done:
			msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			return
		}
	}
}

// handleConnect serves GET /fakefcm/v1/devices/{token}/connect: the device channel on which a
// device receives its messages as JSON frames and acknowledges them with {"ack": messageId}.
// A newer connection for the same token replaces the older one.
func (s *Server) handleConnect(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	var info fakefcm.DeviceInfo
	var known bool
	s.view(func() { info, known = s.core.Device(token) })
	switch {
	case !known:
		writeStatus(w, http.StatusNotFound, "NOT_FOUND", "fakefcm issued no such token: register the device first (POST /fakefcm/v1/devices).")
		return
	case !info.Registered:
		writeStatus(w, http.StatusGone, "NOT_FOUND", "This token is no longer registered ("+info.GoneReason+"): get a new one.")
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &deviceConn{token: token, ws: ws, send: make(chan fakefcm.DeviceFrame, deviceChannelBuffer), done: make(chan struct{})}
	var refused error
	accepted := false
	s.step(func(now time.Time) {
		if s.closing {
			return
		}
		accepted = true
		s.handlers.Add(1)
		if old := s.conns[token]; old != nil {
			old.shutdown(websocketNormal, "replaced by a newer connection")
		}
		s.conns[token] = c
		if refused = s.core.Connect(now, token); refused != nil {
			delete(s.conns, token)
		}
	})
	if !accepted {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocketGoingAway, "fakefcm shutting down"), time.Now().Add(time.Second))
		ws.Close()
		return
	}
	defer s.handlers.Done()
	if refused != nil {
		c.shutdown(websocketPolicy, refused.Error())
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(s.cfg.PingInterval)
	}()
	s.readAcks(c)
	c.shutdown(websocketNormal, "")
	<-writerDone
	s.step(func(now time.Time) {
		if s.conns[token] == c {
			delete(s.conns, token)
			s.core.Disconnect(now, token)
		}
	})
}

// readAcks reads a device's acknowledgements until its channel ends.
func (s *Server) readAcks(c *deviceConn) {
	deadline := 3 * s.cfg.PingInterval
	c.ws.SetReadLimit(64 << 10)
	_ = c.ws.SetReadDeadline(time.Now().Add(deadline))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(deadline)) })
	var data []byte // each frame read into it in turn: acks are copied out of it
	for {
		var err error
		if data, err = wsmessage.ReadInto(c.ws, data); err != nil {
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(deadline))
		ack, ok := plainAck(data)
		if !ok && json.Unmarshal(data, &ack) != nil || ack.Ack == "" {
			s.log.Debug("device channel: ignored a frame that is not an ack", "bytes", len(data))
			continue
		}
		s.step(func(now time.Time) {
			if err := s.core.Ack(now, c.token, ack.Ack); err != nil {
				s.log.Debug("device channel: ack refused", "err", err)
			}
		})
	}
}

// plainAck reads an acknowledgement written the plain way, {"ack":"ID"} (and perhaps a newline),
// whose ID has nothing to unescape; false for anything else, which encoding/json then reads.
func plainAck(data []byte) (fakefcm.DeviceAck, bool) {
	const head, tail = `{"ack":"`, `"}`
	data = bytes.TrimSuffix(data, []byte("\n"))
	if !bytes.HasPrefix(data, []byte(head)) || !bytes.HasSuffix(data, []byte(tail)) || len(data) < len(head)+len(tail) {
		return fakefcm.DeviceAck{}, false
	}
	id := data[len(head) : len(data)-len(tail)]
	if bytes.ContainsAny(id, "\"\\") || !utf8.Valid(id) || slices.ContainsFunc(id, func(c byte) bool { return c < 0x20 }) {
		return fakefcm.DeviceAck{}, false
	}
	return fakefcm.DeviceAck{Ack: string(id)}, true
}

// deliver carries out the core's deliveries on the device channels. It runs under s.mu, so each
// channel receives its frames in the order the core produced them.
func (s *Server) deliver(out []fakefcm.Delivery) {
	for _, d := range out {
		c := s.conns[d.Token]
		if c == nil {
			continue // the channel just went; the core requeues at Disconnect
		}
		switch d.Kind {
		case fakefcm.DeliverMessage, fakefcm.DeliverDeleted:
			c.enqueue(fakefcm.DeviceFrame{Type: d.Kind, Message: d.Message})
		case fakefcm.CloseChannel:
			delete(s.conns, d.Token)
			c.shutdown(websocketNormal, "token unregistered")
		}
	}
}
