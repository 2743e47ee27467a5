package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/pushlab/pushlab/internal/httpserver"
)

// Listening is a Server serving HTTP on a TCP address: the embedded fakefcm of tests, demos and
// pushsim's live mode.
type Listening struct {
	*Server
	// URL is the address the server answers at, such as "http://127.0.0.1:40123" ("https://…"
	// over TLS).
	URL     string
	serving *httpserver.Serving
}

// Listen starts a Server on addr ("127.0.0.1:0" picks a free port). cfg.BaseURL defaults to the
// listening address.
func Listen(addr string, cfg Config) (*Listening, error) {
	return ListenTLS(addr, cfg, nil)
}

// ListenTLS is Listen serving over TLS with tlsCfg (https://, wss:// for device channels); the
// service accounts it issues then name an https:// token_uri. A nil tlsCfg serves plain HTTP.
func ListenTLS(addr string, cfg Config, tlsCfg *tls.Config) (*Listening, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakefcm listen %s: %w", addr, err)
	}
	ln, url := httpserver.WithTLS(ln, tlsCfg)
	if cfg.BaseURL == "" {
		cfg.BaseURL = url
	}
	srv, err := New(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return &Listening{Server: srv, URL: cfg.BaseURL, serving: httpserver.ServeLogged(ln, srv.Handler(), srv.Close, cfg.Logger)}, nil
}

// Shutdown closes device channels, stops accepting requests and waits for those in flight.
// Later calls return the first call's result.
func (l *Listening) Shutdown(ctx context.Context) error { return l.serving.Shutdown(ctx) }
