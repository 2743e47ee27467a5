package httpserver

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// InProcess is an http.RoundTripper that serves each request with Handler, without a socket (it
// works inside a testing/synctest bubble too): the handler sees the request as a server would
// hand it over, from RemoteAddr (a documentation address when empty).
type InProcess struct {
	Handler    http.Handler
	RemoteAddr string
}

// RoundTrip serves req and answers what the handler wrote.
func (t InProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.RemoteAddr, r.RequestURI = t.RemoteAddr, req.URL.RequestURI()
	if r.RemoteAddr == "" {
		r.RemoteAddr = "192.0.2.1:1234"
	}
	rec := &recorder{header: http.Header{}}
	t.Handler.ServeHTTP(rec, r)
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
