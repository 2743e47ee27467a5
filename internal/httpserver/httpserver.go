// Package httpserver holds the HTTP server settings every pushlab listener shares: limits that
// keep slow or stalled clients from holding the server's resources.
package httpserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// New is the HTTP server for h, with limits against slow clients: headers must arrive within
// 10 s and the whole request, body included, within 30 s (a client that stalls is answered or
// cut off, whichever fits, and holds nothing longer); an idle keep-alive connection is closed
// after 2 min. Handlers may take longer than that to answer (net/http stops the read deadline
// once the body has been read), and an upgraded WebSocket is no longer under them.
func New(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
}

// Serving is an HTTP server running on a listener until Shutdown.
type Serving struct {
	hs   *http.Server
	stop func() error
	done chan error
	once sync.Once
	err  error
}

// Serve serves h on ln behind New's limits. stop, if not nil, runs first at Shutdown: it closes
// what the handler holds open that net/http does not track (hijacked WebSockets).
func Serve(ln net.Listener, h http.Handler, stop func() error) *Serving {
	s := &Serving{hs: New(h), stop: stop, done: make(chan error, 1)}
	go func() { s.done <- s.hs.Serve(ln) }()
	return s
}

// Shutdown runs stop, stops accepting requests and waits for those in flight and for the
// serving goroutine. Later calls return the first call's result.
func (s *Serving) Shutdown(ctx context.Context) error {
	s.once.Do(func() {
		var stopErr error
		if s.stop != nil {
			stopErr = s.stop()
		}
		shutErr := s.hs.Shutdown(ctx)
		if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
			shutErr = serveErr
		}
		s.err = errors.Join(stopErr, shutErr)
	})
	return s.err
}
