//go:build linux

package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// tcpRelay is a relay served over loopback TCP, so that its connections are plain sockets that
// wait in the idle poller (the in-memory network of the other shell tests has no sockets).
type tcpRelay struct {
	t   *testing.T
	srv *Server
	url string // http://127.0.0.1:port
}

// startTCPRelay serves a relay on a loopback port; the test's cleanup closes it unless the test
// did.
func startTCPRelay(t *testing.T) *tcpRelay {
	t.Helper()
	l, err := Listen(context.Background(), "127.0.0.1:0", Config{Store: relay.NewMemoryStore(), Sender: &fakeSender{}, AdminKey: secret.New(adminKey)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Shutdown(context.Background())) })
	return &tcpRelay{t: t, srv: l.Server, url: l.URL}
}

// dial opens a WebSocket without the client package, so that the test writes raw bytes.
func (r *tcpRelay) dial() *websocket.Conn {
	r.t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(r.url, "http")+"/v1/ws", nil)
	require.NoError(r.t, err)
	r.t.Cleanup(func() { ws.Close() })
	// A bound on a broken relay, not a speed: every answer comes at once.
	require.NoError(r.t, ws.SetReadDeadline(time.Now().Add(30*time.Second)))
	return ws
}

// parked is how many connections wait in the poller.
func (r *tcpRelay) parked() int {
	p := r.poller()
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// poller is the relay's idle poller, which its first connection started.
func (r *tcpRelay) poller() *idlePoller {
	r.srv.connMu.Lock()
	defer r.srv.connMu.Unlock()
	require.NotNil(r.t, r.srv.idle, "Linux relays wait for idle connections with the poller")
	return r.srv.idle
}

// waitParked waits until n connections wait in the poller: a reader parks its connection just
// after handing its last frame to the loop, so the answer can come first.
func (r *tcpRelay) waitParked(n int) {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return r.parked() == n }, 30*time.Second, time.Millisecond, "connections in the poller")
}

// connections is how many connections the shell holds.
func (r *tcpRelay) connections() int {
	r.srv.connMu.Lock()
	defer r.srv.connMu.Unlock()
	return len(r.srv.conns)
}

// pingFrame is a client's ping as a WebSocket frame on the wire: text, final, masked with a zero
// key (so the payload reads as is).
func pingFrame(id int) []byte {
	payload := fmt.Sprintf(`{"op":"ping","id":%d}`, id)
	return append([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
}

// pong reads the next frame and requires a pong.
func pong(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	_, data, err := ws.ReadMessage()
	require.NoError(t, err)
	require.Contains(t, string(data), `"op":"pong"`)
}

// TestIdleConnectionsWaitInThePoller: connections that have sent their frames wait in the
// poller, with no goroutine of their own, and each is read again when its next frame comes.
func TestIdleConnectionsWaitInThePoller(t *testing.T) {
	r := startTCPRelay(t)
	const n = 20
	var conns []*websocket.Conn
	for i := range n {
		ws := r.dial()
		_, err := ws.NetConn().Write(pingFrame(i))
		require.NoError(t, err)
		pong(t, ws)
		conns = append(conns, ws)
	}
	r.waitParked(n)
	for round := range 3 {
		for i, ws := range conns {
			_, err := ws.NetConn().Write(pingFrame(round*n + i))
			require.NoError(t, err)
		}
		for _, ws := range conns {
			pong(t, ws)
		}
		r.waitParked(n)
	}
}

// TestFramesTogetherOrSplitAreAllRead: frames that arrive in one segment are all read before the
// connection waits again (the poller sees no new bytes for those left in the read buffer), and a
// frame that arrives in pieces is read once it is whole.
func TestFramesTogetherOrSplitAreAllRead(t *testing.T) {
	r := startTCPRelay(t)
	ws := r.dial()
	raw := ws.NetConn()

	var together []byte
	for i := range 5 {
		together = append(together, pingFrame(i)...)
	}
	_, err := raw.Write(together)
	require.NoError(t, err)
	for range 5 {
		pong(t, ws)
	}
	r.waitParked(1)

	// One frame in three pieces, the connection idle between them.
	f := pingFrame(10)
	for _, piece := range [][]byte{f[:1], f[1:9], f[9:]} {
		_, err := raw.Write(piece)
		require.NoError(t, err)
	}
	pong(t, ws)
	r.waitParked(1)

	// A whole frame with the start of the next, then the rest of it.
	next := pingFrame(12)
	_, err = raw.Write(append(pingFrame(11), next[:4]...))
	require.NoError(t, err)
	pong(t, ws)
	_, err = raw.Write(next[4:])
	require.NoError(t, err)
	pong(t, ws)
	r.waitParked(1)
}

// TestIdleConnectionClosedByEitherSide: a parked connection that the relay closes (a kick) or
// that the peer closes ends in the shell and the core, though its socket no longer wakes the
// poller.
func TestIdleConnectionClosedByEitherSide(t *testing.T) {
	r := startTCPRelay(t)
	admin := &client.Admin{BaseURL: r.url, Key: adminKey}
	ctx := context.Background()
	require.NoError(t, admin.PutApp(ctx, relay.AppConfig{SDKAppID: appID, SecretKey: secret.New(appSecret), LoginPolicy: relay.PolicyMulti}))
	login := func(user string) *client.Conn {
		c, err := client.Dial(ctx, r.url, client.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { c.Drop() })
		sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: user, Expire: time.Now().Add(time.Hour).Unix()})
		require.NoError(t, c.Login(ctx, appID, user, sig, user+"-phone", "android"))
		return c
	}
	alice, bob := login("alice"), login("bob")
	r.waitParked(2)

	require.NoError(t, admin.Kick(ctx, appID, "alice"))
	<-alice.Done()
	var ce *websocket.CloseError
	require.True(t, errors.As(alice.Err(), &ce), "closed with a close frame: %v", alice.Err())
	require.Equal(t, relay.CloseNormal, ce.Code)
	require.Eventually(t, func() bool { return r.connections() == 1 }, 30*time.Second, time.Millisecond, "alice's connection ended in the shell")
	require.Equal(t, 1, r.parked())

	require.NoError(t, bob.Drop()) // the peer goes without a close frame
	require.Eventually(t, func() bool { return r.connections() == 0 }, 30*time.Second, time.Millisecond, "bob's connection ended in the shell")
	require.Equal(t, 0, r.parked())
	v, err := admin.User(ctx, appID, "bob")
	require.NoError(t, err)
	require.False(t, v.Devices[0].Online, "the core knows bob is gone")
}

// TestCloseWithIdleConnections: closing the relay closes its parked connections (going away),
// waits for them and stops the poller's goroutine (TestMain finds no goroutine left).
func TestCloseWithIdleConnections(t *testing.T) {
	r := startTCPRelay(t)
	var conns []*websocket.Conn
	for i := range 10 {
		ws := r.dial()
		_, err := ws.NetConn().Write(pingFrame(i))
		require.NoError(t, err)
		pong(t, ws)
		conns = append(conns, ws)
	}
	r.waitParked(10)
	require.NoError(t, r.srv.Close())
	for _, ws := range conns {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		require.True(t, errors.As(err, &ce), "closed with a close frame: %v", err)
		require.Equal(t, relay.CloseGoingAway, ce.Code)
	}
	<-r.poller().done
	require.Zero(t, r.connections())
}
