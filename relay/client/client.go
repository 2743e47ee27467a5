// Package client is a Go client of the relay's app protocol (/v1/ws): what tests, the
// simulator's live mode and pushsim load use to act like an app.
package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushlab/pushlab/internal/wsmessage"
	"github.com/pushlab/pushlab/relay"
)

// Options tune a connection.
type Options struct {
	// Dialer opens the WebSocket; nil means a dialer with a 10-second handshake timeout that,
	// for wss://, trusts the system roots (read from SSL_CERT_FILE and SSL_CERT_DIR when set).
	Dialer *websocket.Dialer
	// Header is sent with the handshake.
	Header http.Header
	// Events is the capacity of the events channel; zero means 256.
	Events int
	// OnEvent, if set, takes every frame that is not a reply to a request, on the reader's
	// goroutine, instead of the events channel (which then stays empty): for load generators
	// that cannot afford a goroutine per connection to drain it. It must not block.
	OnEvent func(relay.ServerFrame)
}

// Conn is one app connection to the relay.
type Conn struct {
	ws     *websocket.Conn
	wmu    sync.Mutex
	nextID atomic.Int64

	mu      sync.Mutex
	pending map[int64]chan relay.ServerFrame
	err     error

	events  chan relay.ServerFrame
	onEvent func(relay.ServerFrame)
	done    chan struct{}
	closing chan struct{} // closed by Close and Drop: the reader stops waiting on events
	once    sync.Once
}

// ErrClosed is returned once the connection has ended; Err says why.
var ErrClosed = errors.New("relay connection closed")

// Dial connects to a relay's base URL ("http://127.0.0.1:4100", or "https://…" for a relay serving
// TLS, which is dialled as wss://) or WebSocket URL (ws:// or wss://).
func Dial(ctx context.Context, url string, opt Options) (*Conn, error) {
	d := opt.Dialer
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	}
	if !strings.HasSuffix(url, "/v1/ws") {
		url = strings.TrimSuffix(url, "/") + "/v1/ws"
	}
	url = "ws" + strings.TrimPrefix(strings.TrimPrefix(url, "ws"), "http")
	ws, resp, err := d.DialContext(ctx, url, opt.Header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial relay: %s: %w", resp.Status, err)
		}
		return nil, fmt.Errorf("dial relay: %w", err)
	}
	if opt.Events == 0 {
		opt.Events = 256
	}
	c := &Conn{ws: ws, pending: map[int64]chan relay.ServerFrame{}, events: make(chan relay.ServerFrame, opt.Events),
		done: make(chan struct{}), closing: make(chan struct{}), onEvent: opt.OnEvent}
	go c.read()
	return c, nil
}

// Events delivers what the relay sends unasked: msg, kicked and pong frames, and replies to
// frames that had no id. It is closed when the connection ends.
func (c *Conn) Events() <-chan relay.ServerFrame { return c.events }

// Done is closed when the connection ends.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err reports why the connection ended (a *websocket.CloseError for a close frame).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Conn) read() {
	defer close(c.events)
	defer close(c.done)
	var data []byte // each frame read into it in turn: decoding copies what it keeps
	for {
		var f relay.ServerFrame
		var err error
		data, err = wsmessage.ReadInto(c.ws, data)
		if err == nil {
			f, err = decodeServerFrame(data)
		}
		if err != nil {
			c.mu.Lock()
			c.err = err
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		if f.Op == relay.OpReply && f.ID != 0 {
			c.mu.Lock()
			ch, ok := c.pending[f.ID]
			delete(c.pending, f.ID)
			c.mu.Unlock()
			if ok {
				ch <- f
				continue
			}
		}
		if c.onEvent != nil {
			c.onEvent(f)
			continue
		}
		select {
		case c.events <- f:
		case <-c.closing:
			// Nobody reads events any more: drop them so that the reader can end.
		}
	}
}

// Request sends a frame with a fresh id and waits for its reply.
func (c *Conn) Request(ctx context.Context, f relay.ClientFrame) (relay.ServerFrame, error) {
	f.ID = c.nextID.Add(1)
	ch := make(chan relay.ServerFrame, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return relay.ServerFrame{}, fmt.Errorf("%w: %v", ErrClosed, c.err)
	}
	c.pending[f.ID] = ch
	c.mu.Unlock()
	if err := c.Send(f); err != nil {
		c.mu.Lock()
		delete(c.pending, f.ID)
		c.mu.Unlock()
		return relay.ServerFrame{}, err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return relay.ServerFrame{}, fmt.Errorf("%w before the reply to %s: %v", ErrClosed, f.Op, c.Err())
		}
		return r, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, f.ID)
		c.mu.Unlock()
		return relay.ServerFrame{}, ctx.Err()
	}
}

// Send writes a frame without waiting for anything (ack, ping).
func (c *Conn) Send(f relay.ClientFrame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	var err error
	if text, ok := sendFrameText(f); ok {
		err = c.ws.WriteMessage(websocket.TextMessage, text)
	} else {
		err = c.ws.WriteJSON(f)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Op, err)
	}
	return nil
}

// SendRaw writes bytes as one text frame, for tests of bad input.
func (c *Conn) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// Close closes the connection cleanly (a close frame, then the socket). To simulate a killed app
// whose connection just vanishes, use Drop.
func (c *Conn) Close() error {
	c.once.Do(func() { close(c.closing) })
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	err := c.ws.Close()
	<-c.done
	return err
}

// Drop closes the socket without a close frame, as a killed app's connection ends.
func (c *Conn) Drop() error {
	c.once.Do(func() { close(c.closing) })
	err := c.ws.Close()
	<-c.done
	return err
}

// Login logs in and returns the reply; a refusal comes back as an error naming its code.
func (c *Conn) Login(ctx context.Context, sdkAppID uint64, userID, userSig, deviceID, platform string) error {
	r, err := c.Request(ctx, relay.ClientFrame{Op: relay.OpLogin, SDKAppID: sdkAppID, UserID: userID, UserSig: userSig, DeviceID: deviceID, Platform: platform})
	return replyErr(r, err)
}

// ReplyError is a reply with a non-zero code.
type ReplyError struct {
	Code relay.Code
	Desc string
}

func (e *ReplyError) Error() string { return fmt.Sprintf("relay refused: %d: %s", e.Code, e.Desc) }

func replyErr(r relay.ServerFrame, err error) error {
	if err != nil {
		return err
	}
	if r.Code != relay.OK {
		return &ReplyError{Code: r.Code, Desc: r.Desc}
	}
	return nil
}

// Do sends a frame, waits for its reply and turns a refusal into a *ReplyError.
func (c *Conn) Do(ctx context.Context, f relay.ClientFrame) (relay.ServerFrame, error) {
	r, err := c.Request(ctx, f)
	return r, replyErr(r, err)
}
