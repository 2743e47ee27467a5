package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// TestMaxConnectionsRefusesTheNextOne: with MaxConnections n, the (n+1)th WebSocket is refused
// with 503 and a Retry-After, and a place that frees up is taken again.
func TestMaxConnectionsRefusesTheNextOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{}, func(c *Config) { c.MaxConnections = 2 })
		dialer := &websocket.Dialer{NetDialContext: b.ln.Dial}
		first, second := b.dial(), b.dial()
		synctest.Wait()

		ws, resp, err := dialer.Dial("ws://relay.test/v1/ws", nil)
		require.ErrorIs(t, err, websocket.ErrBadHandshake)
		require.Nil(t, ws)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Equal(t, "5", resp.Header.Get("Retry-After"))
		resp.Body.Close()

		status, _ := b.admin("GET", "/admin/v1/apps", "")
		require.Equal(t, http.StatusOK, status, "the admin API is not a connection")

		require.NoError(t, first.Close())
		synctest.Wait()
		third := b.dial()
		synctest.Wait()
		_, resp, err = dialer.Dial("ws://relay.test/v1/ws", nil)
		require.Error(t, err)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		resp.Body.Close()
		second.Close()
		third.Close()
	})
}

// TestSlowClientIsClosedWith1008: a client that stops reading while its frames pile up past 512
// is closed with 1008 once the frames already on their way have been written; it does not hold
// the relay's memory.
func TestSlowClientIsClosedWith1008(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{FramesPerSecond: 1_000_000, FrameBurst: 1_000_000})
		b.provision()
		alice := b.launch("alice", "alice-phone") // nobody reads her events: she stops reading
		bob := b.launch("bob", "bob-phone")
		go func() {
			for range bob.conn.Events() { // bob reads his own echoes
			}
		}()
		const sent = 1000
		text := strings.Repeat("x", 15_000)
		for range sent {
			bob.send("alice", text)
		}

		got := 0
		for f := range alice.conn.Events() {
			require.Equal(t, relay.OpMsg, f.Op)
			got++
		}
		var ce *websocket.CloseError
		require.True(t, errors.As(alice.conn.Err(), &ce), "closed with a close frame: %v", alice.conn.Err())
		require.Equal(t, relay.ClosePolicy, ce.Code)
		require.Equal(t, "client too slow to read its frames", ce.Text)
		require.Less(t, got, sent, "the frames queued past the limit were dropped")
		require.Greater(t, got, 0)
		bob.conn.Close()
	})
}

// heldConn is a client's socket whose writes can be held back and then sent in one write, so
// that several WebSocket frames reach the relay in one segment, or a frame in two.
type heldConn struct {
	net.Conn
	hold    bool
	pending []byte
}

func (h *heldConn) Write(p []byte) (int, error) {
	if h.hold {
		h.pending = append(h.pending, p...)
		return len(p), nil
	}
	return h.Conn.Write(p)
}

// flush writes the first n held bytes (all of them if n is larger) in one write.
func (h *heldConn) flush(n int) error {
	n = min(n, len(h.pending))
	_, err := h.Conn.Write(h.pending[:n])
	h.pending = h.pending[n:]
	return err
}

// TestFramesArrivingTogetherOrSplitAreAllRead: over a real socket, where an idle connection waits
// for its next bytes outside the WebSocket reader, frames that arrive in one segment are all
// read (those left in the read buffer too), and so is a frame larger than the read buffer that
// arrives in two parts, and a whole frame with the start of the next. Both ways of waiting are
// run: in the idle poller (Linux), and on a goroutine of the connection's own (other systems,
// TLS, or a poller that could not start).
func TestFramesArrivingTogetherOrSplitAreAllRead(t *testing.T) {
	for _, poller := range []bool{true, false} {
		t.Run(fmt.Sprintf("poller=%v", poller), func(t *testing.T) { framesTogetherOrSplit(t, poller) })
	}
}

func framesTogetherOrSplit(t *testing.T, poller bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Listen(ctx, "127.0.0.1:0", Config{
		Core:  relay.Config{FramesPerSecond: 1_000_000, FrameBurst: 1_000_000},
		Store: relay.NewMemoryStore(), Sender: &fakeSender{}, AdminKey: secret.New(adminKey),
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, l.Shutdown(context.Background())) }()
	if !poller {
		l.connMu.Lock()
		l.idleStarted = true // as if the poller could not start: each connection waits on its own
		l.connMu.Unlock()
	}

	var held *heldConn
	dialer := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		held = &heldConn{Conn: c}
		return held, err
	}}
	ws, _, err := dialer.DialContext(ctx, "ws"+strings.TrimPrefix(l.URL, "http")+"/v1/ws", nil)
	require.NoError(t, err)
	defer ws.Close()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(20*time.Second)))
	pongs := func(n int) {
		t.Helper()
		for range n {
			var f relay.ServerFrame
			require.NoError(t, ws.ReadJSON(&f))
			require.Equal(t, relay.OpPong, f.Op)
		}
	}

	const together = 60 // about 1.5 KiB of frames: more than the read buffer holds at once
	held.hold = true
	for i := range together {
		require.NoError(t, ws.WriteJSON(relay.ClientFrame{Op: relay.OpPing, ID: int64(i + 1)}))
	}
	require.NoError(t, held.flush(len(held.pending)))
	pongs(together)
	l.connMu.Lock()
	waitsInPoller := l.idle != nil
	l.connMu.Unlock()
	require.Equal(t, poller && runtime.GOOS == "linux", waitsInPoller, "the way the connection waits")

	require.NoError(t, ws.WriteJSON(relay.ClientFrame{Op: relay.OpPing, ID: 100, Text: strings.Repeat("x", 3*readBufferSize)}))
	require.NoError(t, held.flush(readBufferSize/2))
	require.NoError(t, held.flush(len(held.pending)))
	pongs(1)

	// A whole frame with the start of the next, then the rest of it.
	require.NoError(t, ws.WriteJSON(relay.ClientFrame{Op: relay.OpPing, ID: 102}))
	first := len(held.pending)
	require.NoError(t, ws.WriteJSON(relay.ClientFrame{Op: relay.OpPing, ID: 103}))
	require.NoError(t, held.flush(first+4))
	pongs(1)
	require.NoError(t, held.flush(len(held.pending)))
	pongs(1)

	held.hold = false
	require.NoError(t, ws.WriteJSON(relay.ClientFrame{Op: relay.OpPing, ID: 101}))
	pongs(1)
}
