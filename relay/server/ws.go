package server

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushlab/pushlab/relay"
)

// newUpgrader keeps per-connection memory small: it reads through the small buffer handleWS
// hands it at the hijack (ReadBufferSize 0 makes it take that one rather than make its own, and
// the HTTP server's 4 KiB one is freed with the handler), and write buffers are borrowed from a
// pool only while writing, so an idle connection holds no write buffer at all.
func newUpgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		WriteBufferPool: &sync.Pool{},
		WriteBufferSize: 4096,
		// App connections come from native apps and tools, not from browsers on other origins.
		CheckOrigin: func(*http.Request) bool { return true },
	}
}

// newReadBuffers lends read buffers to connections while they read, as the upgrader's
// WriteBufferPool lends write buffers while they write.
func newReadBuffers() *sync.Pool {
	return &sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}
}

// readBufferSize is a connection's read buffer. App frames are small; a larger one is read
// around the buffer, straight into the message. The upgrader takes a hijacked buffer only if it
// holds more than 256 bytes.
const readBufferSize = 512

// wsConn is one app connection. While it is idle, the server's poller waits for its bytes (or,
// without one, a goroutine of its own; see read); a reader goroutine runs only while frames wait
// to be read, a writer goroutine only while frames wait to be written.
type wsConn struct {
	id      relay.ConnID
	ws      *websocket.Conn
	br      *bufio.Reader   // ws reads through it: frames it holds are read before waiting again
	lent    *bufio.Reader   // the pooled reader whose buffer br holds while it reads (see borrow)
	pool    *sync.Pool      // the server's read buffers
	raw     syscall.RawConn // the plain socket, to wait until it has bytes to read; nil over TLS
	idle    *idlePoller     // the poller that waits for its bytes while it is idle; nil without
	timeout time.Duration

	mu      sync.Mutex
	queue   []relay.ServerFrame
	writing bool
	closing bool
	code    int
	reason  string
	done    chan struct{} // closed once the socket is closed
}

// maxQueuedFrames is how many frames may wait for a client that reads slowly; past it the
// connection is closed (1008), and the device syncs what it missed when it comes back.
const maxQueuedFrames = 512

// send queues a frame for writing.
func (c *wsConn) send(f relay.ServerFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if len(c.queue) >= maxQueuedFrames {
		c.queue = nil
		c.closing, c.code, c.reason = true, relay.ClosePolicy, "client too slow to read its frames"
		c.startWriter()
		return
	}
	c.queue = append(c.queue, f)
	c.startWriter()
}

// close writes what is queued, then a close frame, then closes the socket.
func (c *wsConn) close(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing, c.code, c.reason = true, code, reason
	c.startWriter()
}

// startWriter starts the writer goroutine if it is not running; c.mu is held.
func (c *wsConn) startWriter() {
	if !c.writing {
		c.writing = true
		go c.write()
	}
}

func (c *wsConn) write() {
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		closing := c.closing
		if len(batch) == 0 {
			c.writing = false
			if closing {
				c.mu.Unlock()
				msg := websocket.FormatCloseMessage(c.code, c.reason)
				_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
				c.closeSocket()
				c.signalDone()
				return
			}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		// One deadline for the whole batch: a client that cannot take it in time is dropped.
		_ = c.ws.SetWriteDeadline(time.Now().Add(c.timeout))
		for _, f := range batch {
			if err := c.writeFrame(f); err != nil {
				// The client cannot take its frames: drop the connection; the reader sees it go.
				c.mu.Lock()
				c.closing, c.queue, c.writing = true, nil, false
				c.mu.Unlock()
				c.closeSocket()
				c.signalDone()
				return
			}
		}
	}
}

func (c *wsConn) writeFrame(f relay.ServerFrame) error {
	b, err := frameText(f)
	if err != nil {
		return err
	}
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// closeSocket closes the connection's socket. A closed socket leaves the poller without a word,
// so a connection parked in it is handed to a reader, which sees the end.
func (c *wsConn) closeSocket() {
	c.ws.Close()
	if c.idle != nil {
		c.idle.unpark(c)
	}
}

func (c *wsConn) signalDone() {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
}

// handleWS serves GET /v1/ws, the app's WebSocket.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	s.connMu.Lock()
	full := s.cfg.MaxConnections > 0 && len(s.conns) >= s.cfg.MaxConnections
	closing := s.closing
	s.connMu.Unlock()
	switch {
	case closing:
		http.Error(w, "relay shutting down", http.StatusServiceUnavailable)
		return
	case full:
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many connections: the relay takes at most its configured number; retry later", http.StatusServiceUnavailable)
		return
	}
	h := &smallReadBuffer{ResponseWriter: w}
	ws, err := s.upgrader.Upgrade(h, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	ws.SetReadLimit(relay.MaxFrameBytes)
	c := &wsConn{id: relay.ConnID(s.nextID.Add(1)), ws: ws, br: h.br, pool: s.readBuffers, timeout: s.cfg.WriteTimeout, done: make(chan struct{})}
	c.raw = plainSocket(ws.NetConn())
	s.connMu.Lock()
	if s.closing {
		s.connMu.Unlock()
		ws.Close()
		return
	}
	if c.raw != nil {
		c.idle = s.idlePoller()
	}
	s.conns[c.id] = c
	s.readers.Add(1)
	s.connMu.Unlock()
	// The connection is read on a goroutine of its own and the handler returns: net/http then
	// lets go of its per-request state and buffers, which an idle connection would otherwise keep.
	go s.serveConn(c)
}

// idlePoller returns the poller of idle connections, started with the first plain-socket
// connection (a relay that serves none, like one on an in-memory network, starts none); nil where
// there is none. s.connMu is held.
func (s *Server) idlePoller() *idlePoller {
	if !s.idleStarted {
		s.idleStarted = true
		p, err := newIdlePoller(func(c *wsConn) { go s.readParked(c) })
		if err != nil {
			// Still served: each idle connection keeps a goroutine that waits for its bytes.
			s.log.Warn("idle connections each keep a goroutine", "err", err)
		}
		if p != nil {
			s.idle = p
		}
	}
	return s.idle
}

// serveConn tells the core of a new connection and has it read until it ends: by the poller's
// readers when it has a poller, else on this goroutine.
func (s *Server) serveConn(c *wsConn) {
	s.metrics.connections.Inc()
	if !s.post(openEvent{id: c.id}) {
		s.endConn(c)
		return
	}
	if c.idle != nil {
		c.giveBackReadBuffer()
		s.park(c)
		return
	}
	s.read(c)
	s.endConn(c)
}

// endConn tells the core a connection is gone once nothing reads it any more, closes it, and
// waits until its socket is closed.
func (s *Server) endConn(c *wsConn) {
	s.post(closedEvent{id: c.id})
	s.connMu.Lock()
	delete(s.conns, c.id)
	s.connMu.Unlock()
	c.close(relay.CloseNormal, "")
	<-c.done
	s.metrics.connections.Dec()
	s.readers.Done()
}

// park leaves an idle connection to the poller, which calls readParked once it has bytes. If the
// poller cannot take it, it is read on this goroutine as without a poller.
func (s *Server) park(c *wsConn) {
	if !c.idle.park(c) {
		s.read(c)
		s.endConn(c)
	}
}

// readParked reads the frames waiting on a connection the poller woke, then parks it again; it
// runs on a goroutine of its own that ends then, taking its grown stack with it.
func (s *Server) readParked(c *wsConn) {
	c.borrowReadBuffer()
	more := s.readFrames(c)
	c.giveBackReadBuffer()
	if !more {
		s.endConn(c)
		return
	}
	s.park(c)
}

// read hands the connection's frames to the loop until it ends. An idle connection keeps only a
// goroutine parked in a shallow wait for its next bytes, which fits the smallest stack the runtime
// gives (2 KiB). Reading a frame runs deeper (the WebSocket framing, allocation, the post), and a
// goroutine's stack that has grown for it never shrinks back to 2 KiB while parked in a socket
// read; so the frames are read on a goroutine of their own that ends once they are read, taking
// its stack with it. Decoding happens on the loop.
func (s *Server) read(c *wsConn) {
	if c.raw == nil {
		// Over TLS, frames may wait decrypted in the TLS layer, where no socket peek sees them:
		// this goroutine reads them itself, and keeps its grown stack.
		for s.readFrames(c) {
		}
		return
	}
	for {
		c.giveBackReadBuffer()
		waitReadable(c.raw)
		c.borrowReadBuffer()
		more := make(chan bool, 1)
		go func() { more <- s.readFrames(c) }()
		if !<-more {
			return
		}
	}
}

// readFrames reads frames until the read buffer holds no more of them, and reports whether the
// connection goes on.
func (s *Server) readFrames(c *wsConn) bool {
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.close(relay.CloseTooBig, "frame over 64 KiB")
			}
			return false
		}
		if !s.post(frameEvent{id: c.id, data: data}) {
			return false
		}
		if c.br.Buffered() == 0 {
			return true
		}
	}
}

// giveBackReadBuffer puts the connection's read buffer, empty, back in the pool, so that an idle
// connection holds none. ws keeps its pointer to br, which stays a zero bufio.Reader until
// borrowReadBuffer: nothing reads from ws in between. A bufio.Reader has no way to swap its
// buffer, so its value is swapped with a pooled one.
func (c *wsConn) giveBackReadBuffer() {
	if c.br.Size() == 0 {
		return // given back already
	}
	if c.lent == nil {
		c.lent = new(bufio.Reader) // the first time: br's buffer came with the upgrade
	}
	*c.lent = *c.br
	c.lent.Reset(nil)
	*c.br = bufio.Reader{}
	c.pool.Put(c.lent)
	c.lent = nil
}

// borrowReadBuffer gives br a buffer from the pool, reading from the connection's socket.
func (c *wsConn) borrowReadBuffer() {
	c.lent = c.pool.Get().(*bufio.Reader)
	c.lent.Reset(c.ws.NetConn())
	*c.br = *c.lent
}

// smallReadBuffer hands the upgrader, at the hijack, a read buffer of readBufferSize bytes of
// its own in place of the HTTP server's 4 KiB one, and keeps it so that read can tell when it is
// empty.
type smallReadBuffer struct {
	http.ResponseWriter
	br *bufio.Reader
}

// Hijack takes over the connection; bytes sent before the handshake completed stay in the HTTP
// server's buffer, where the upgrader finds and refuses them.
func (h *smallReadBuffer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return conn, brw, err
	}
	h.br = bufio.NewReaderSize(conn, readBufferSize)
	return conn, bufio.NewReadWriter(h.br, brw.Writer), nil
}
