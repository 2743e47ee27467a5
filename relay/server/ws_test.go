package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

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
