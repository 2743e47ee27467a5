package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/console"
)

// newConsole makes the console the relay serves at /console/. It calls the admin API through
// the relay's own handler, in-process: the same routes, checks and answers as a remote client.
func (s *Server) newConsole(h http.Handler) (*console.Console, error) {
	api := &client.Admin{BaseURL: "http://relay.in-process", Key: s.cfg.AdminKey.Reveal(),
		HTTP: &http.Client{Transport: inProcess{h}}}
	c, err := console.New(console.Config{AdminKey: s.cfg.AdminKey, API: api, Now: s.clock, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("relay server: %w", err)
	}
	return c, nil
}

// inProcess is an http.RoundTripper that serves a request with a handler, without a socket.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := &recorder{header: http.Header{}}
	t.h.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)), StatusCode: rec.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(&rec.body), ContentLength: int64(rec.body.Len()), Request: req,
	}, nil
}

// recorder is the response an in-process handler writes.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
