// Package memnet is an in-memory network for shell tests: a net.Listener whose connections are
// buffered in-memory pipes (grpc's bufconn), so that HTTP servers and WebSocket clients run
// inside a testing/synctest bubble, where fake time advances as soon as every goroutine is
// blocked. The pipes buffer writes as a TCP socket would, so a peer that does not read for a
// while does not stall its writer.
package memnet

import (
	"context"
	"net"
	"net/http"

	"google.golang.org/grpc/test/bufconn"
)

// bufferSize is how many bytes each direction of a connection holds before writes block.
const bufferSize = 1 << 20

// Listener is an in-memory net.Listener. Dial connects to it.
type Listener struct {
	*bufconn.Listener
}

// Listen returns a new in-memory listener.
func Listen() *Listener {
	return &Listener{Listener: bufconn.Listen(bufferSize)}
}

// Dial connects to the listener; it has the signature of net.Dialer.DialContext.
func (l *Listener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	return l.DialContext(ctx)
}

// HTTPClient returns an HTTP client whose every connection goes to the listener.
func (l *Listener) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: l.Dial, DisableKeepAlives: true}}
}
