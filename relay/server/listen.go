package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/pushlab/pushlab/internal/httpserver"
)

// Listening is a Server serving HTTP on a TCP address: the embedded relay of tests and pushsim.
type Listening struct {
	*Server
	// URL is the relay's base URL, such as "http://127.0.0.1:40123" ("https://…" over TLS).
	URL     string
	serving *httpserver.Serving
}

// Listen starts a relay on addr ("127.0.0.1:0" picks a free port).
func Listen(ctx context.Context, addr string, cfg Config) (*Listening, error) {
	return ListenTLS(ctx, addr, cfg, nil)
}

// ListenTLS is Listen serving the app WebSocket and the admin API over TLS with tlsCfg
// (https:// and wss://); a nil tlsCfg serves plain HTTP.
func ListenTLS(ctx context.Context, addr string, cfg Config, tlsCfg *tls.Config) (*Listening, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("relay listen %s: %w", addr, err)
	}
	s, err := New(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	ln, url := httpserver.WithTLS(ln, tlsCfg)
	return &Listening{Server: s, URL: url, serving: httpserver.ServeLogged(ln, s.Handler(), s.Close, cfg.Logger)}, nil
}

// Shutdown stops the relay: connections are closed, requests in flight finish. Later calls
// return the first call's result.
func (l *Listening) Shutdown(ctx context.Context) error { return l.serving.Shutdown(ctx) }
