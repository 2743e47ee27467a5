package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/pushlab/pushlab/internal/httpserver"
)

// Listening is a Server serving HTTP on a TCP address: the embedded relay of tests and pushsim.
type Listening struct {
	*Server
	// URL is the relay's base URL, such as "http://127.0.0.1:40123".
	URL  string
	hs   *http.Server
	done chan error
	once sync.Once
	err  error
}

// Listen starts a relay on addr ("127.0.0.1:0" picks a free port).
func Listen(ctx context.Context, addr string, cfg Config) (*Listening, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("relay listen %s: %w", addr, err)
	}
	s, err := New(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	l := &Listening{Server: s, URL: "http://" + ln.Addr().String(), done: make(chan error, 1), hs: httpserver.New(s.Handler())}
	go func() { l.done <- l.hs.Serve(ln) }()
	return l, nil
}

// Shutdown stops the relay: connections are closed, requests in flight finish. Later calls
// return the first call's result.
func (l *Listening) Shutdown(ctx context.Context) error {
	l.once.Do(func() {
		l.Server.Close()
		l.err = l.hs.Shutdown(ctx)
		if serveErr := <-l.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
			l.err = serveErr
		}
	})
	return l.err
}
