package server

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/oauth2/google"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/internal/httpserver"
	"github.com/pushlab/pushlab/internal/proccpu"
)

// BenchmarkV1SendHandler measures one HTTP v1 send through the handler, without the network,
// beside the trivial JSON handler pushsim bench compares fakefcm's raw sends with.
func BenchmarkV1SendHandler(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	srv, err := New(Config{BaseURL: base, Core: fakefcm.Config{Seed: 1}})
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	defer func() { _ = srv.Close(); _ = hs.Close() }()
	ctx := context.Background()
	cc := &control.Client{BaseURL: base}
	creds, err := cc.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := cc.RegisterDevice(ctx, creds.SenderID, "com.example.im")
	if err != nil {
		b.Fatal(err)
	}
	conf, err := google.JWTConfigFromJSON(creds.ServiceAccount, "https://www.googleapis.com/auth/firebase.messaging")
	if err != nil {
		b.Fatal(err)
	}
	at, err := conf.TokenSource(ctx).Token()
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"message":{"token":"` + tok + `","notification":{"title":"bob","body":"hi alice"},"data":{"conv":"c2c_bob","seq":"42"},"android":{"priority":"high","collapse_key":"c2c_bob"}}}`)
	trivial := httpserver.Baseline()
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"fakefcm", srv.Handler()}, {"trivial", trivial}} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodPost, "/v1/projects/bench/messages:send", bytes.NewReader(body))
				r.Header.Set("Authorization", "Bearer "+at.AccessToken)
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code, w.Body.String())
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is this process's CPU time so far, in nanoseconds.
func cpuTime() int64 {
	d, _ := proccpu.Self()
	return int64(d)
}
