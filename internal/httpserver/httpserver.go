// Package httpserver holds what every pushlab listener shares, embedded or in a binary: limits
// that keep slow or stalled clients from holding the server's resources, and the one path that
// serves a handler until Shutdown.
package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
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

// WithTLS returns the listener to serve on and the base URL clients reach it at: ln itself and
// "http://ADDR" when cfg is nil, else ln behind TLS with cfg and "https://ADDR" (WebSocket
// clients then use wss://).
func WithTLS(ln net.Listener, cfg *tls.Config) (net.Listener, string) {
	if cfg == nil {
		return ln, "http://" + ln.Addr().String()
	}
	return tls.NewListener(ln, cfg), "https://" + ln.Addr().String()
}

// Serving is an HTTP server running on a listener until Shutdown.
type Serving struct {
	hs       *http.Server
	stop     func() error
	done     chan struct{}
	serveErr error // why serving ended before Shutdown; written before done is closed
	once     sync.Once
	err      error
}

// Serve serves h on ln behind New's limits. stop, if not nil, runs first at Shutdown: it closes
// what the handler holds open that net/http does not track (hijacked WebSockets).
func Serve(ln net.Listener, h http.Handler, stop func() error) *Serving {
	return ServeLogged(ln, h, stop, nil)
}

// ServeLogged is Serve with net/http's own complaints — a failed TLS handshake, an accept error,
// a handler's panic — written to log as warnings, so that a binary's stderr stays JSON lines;
// a nil log leaves them to the standard logger.
func ServeLogged(ln net.Listener, h http.Handler, stop func() error, log *slog.Logger) *Serving {
	s := &Serving{hs: New(h), stop: stop, done: make(chan struct{})}
	if log != nil {
		s.hs.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	}
	go func() {
		if err := s.hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = err
		}
		close(s.done)
	}()
	return s
}

// Done is closed when serving has ended: on its own, because the listener failed, or through
// Shutdown. A binary waits on it with its signals so that a dead listener ends the process.
func (s *Serving) Done() <-chan struct{} { return s.done }

// Err reports why serving ended on its own (the listener's error); it is nil while serving goes
// on and when Shutdown ended it.
func (s *Serving) Err() error {
	select {
	case <-s.done:
		return s.serveErr
	default:
		return nil
	}
}

// Shutdown runs stop, stops accepting requests and waits for those in flight and for the
// serving goroutine; if serving had ended on its own, its error is returned. Later calls return
// the first call's result.
func (s *Serving) Shutdown(ctx context.Context) error {
	s.once.Do(func() {
		var stopErr error
		if s.stop != nil {
			stopErr = s.stop()
		}
		shutErr := s.hs.Shutdown(ctx)
		<-s.done
		if s.serveErr != nil {
			shutErr = s.serveErr
		}
		s.err = errors.Join(stopErr, shutErr)
	})
	return s.err
}
