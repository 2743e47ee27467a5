package sender

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/testca"
	"github.com/pushlab/pushlab/relay"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// bench is a fakefcm on loopback with one project and a v1 and a legacy certificate for it.
type bench struct {
	fcm    *server.Listening
	cc     *control.Client
	creds  control.ProjectCredentials
	pool   *Pool
	v1     relay.Certificate
	legacy relay.Certificate
}

func newBench(t testing.TB, timeout time.Duration) *bench { return newBenchTLS(t, timeout, nil) }

// newBenchTLS is newBench with fakefcm serving TLS with a certificate of ca (https:// for the
// sends, the control API, and the service account's token_uri), and the pool and control client
// trusting ca alone. A nil ca serves plain HTTP.
func newBenchTLS(t testing.TB, timeout time.Duration, ca *testca.CA) *bench {
	t.Helper()
	var serverTLS *tls.Config
	var transport http.RoundTripper // nil: the pool's own, trusting the system roots
	hc := http.DefaultClient
	if ca != nil {
		serverTLS = ca.ServerConfig()
		transport = &http.Transport{TLSClientConfig: ca.ClientConfig()}
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientConfig()}}
	}
	fcm, err := server.ListenTLS("127.0.0.1:0", server.Config{Core: fakefcm.Config{Seed: 1}}, serverTLS)
	require.NoError(t, err)
	t.Cleanup(func() { fcm.Shutdown(context.Background()) })
	b := &bench{fcm: fcm, cc: &control.Client{BaseURL: fcm.URL, HTTP: hc}}
	b.creds, err = b.cc.CreateProject(context.Background(), control.CreateProjectRequest{ProjectID: "demo", PackageNames: []string{"com.example.im"}})
	require.NoError(t, err)
	b.pool = New(Config{Timeout: timeout, Transport: transport})
	b.v1 = relay.Certificate{ID: 1, SDKAppID: 1, Platform: "google", PackageName: "com.example.im",
		ServiceAccount: secret.New(string(b.creds.ServiceAccount)), Endpoint: fcm.URL}
	b.legacy = relay.Certificate{ID: 2, SDKAppID: 1, Platform: "google", PackageName: "com.example.im",
		ServerKey: secret.New(b.creds.ServerKey), Endpoint: fcm.URL}
	require.NoError(t, b.pool.Set(context.Background(), b.v1))
	require.NoError(t, b.pool.Set(context.Background(), b.legacy))
	return b
}

func (b *bench) token(t *testing.T) string {
	t.Helper()
	tok, err := b.cc.RegisterDevice(context.Background(), b.creds.SenderID, "com.example.im")
	require.NoError(t, err)
	return tok
}

func push(cert int64, tok string) relay.Push {
	return relay.Push{ID: 9, CertificateID: cert, Token: tok, Title: "bob", Body: "hi", CollapseKey: "c2c_bob",
		Data: map[string]string{"conv": "c2c_bob", "seq": "1"}, TTL: duration.Of(time.Hour), NotificationCount: 3}
}

func (b *bench) records(t *testing.T, tok string) []fakefcm.Record {
	t.Helper()
	recs, err := b.cc.Messages(context.Background(), fakefcm.RecordFilter{Token: tok})
	require.NoError(t, err)
	return recs
}

// TestSendThroughBothAPIs sends through the HTTP v1 API (the Admin SDK, OAuth through the service
// account's token_uri) and the legacy API, to a fakefcm on plain HTTP and on TLS, as to Google.
func TestSendThroughBothAPIs(t *testing.T) {
	for _, mode := range []string{"plain", "tls"} {
		t.Run(mode, func(t *testing.T) {
			var ca *testca.CA
			if mode == "tls" {
				ca = testca.New(t)
			}
			b := newBenchTLS(t, 5*time.Second, ca)
			if ca != nil {
				var sa struct {
					TokenURI string `json:"token_uri"`
				}
				require.NoError(t, json.Unmarshal(b.creds.ServiceAccount, &sa))
				require.True(t, strings.HasPrefix(b.fcm.URL, "https://"), b.fcm.URL)
				require.Equal(t, b.fcm.URL+"/token", sa.TokenURI, "OAuth over TLS too")
			}
			sendThroughBothAPIs(t, b)
		})
	}
}

func sendThroughBothAPIs(t *testing.T, b *bench) {
	for _, cert := range []relay.Certificate{b.v1, b.legacy} {
		tok := b.token(t)
		r := b.pool.Send(context.Background(), push(cert.ID, tok))
		require.Nil(t, r.Err, cert.API())
		require.NotEmpty(t, r.Name)
		recs := b.records(t, tok)
		require.Len(t, recs, 1)
		p := recs[0].Payload
		require.Equal(t, "hi", p.Notification.Body)
		require.Equal(t, "c2c_bob", p.CollapseKey)
		require.Equal(t, "high", p.Priority)
		require.Equal(t, int64(3600), p.TTLSeconds)
		if cert.API() == "v1" {
			require.Equal(t, 3, *p.Notification.NotificationCount)
		} else {
			require.Equal(t, "3", p.Data["badge"])
		}
	}
}

// A pool that does not trust fakefcm's CA (the system roots alone) sends nothing: each API
// fails on the certificate, as the relay's log and trace then say — the TLS test above passes
// because of the CA it was given, not in spite of it.
func TestSendOverTLSNeedsTheCA(t *testing.T) {
	b := newBenchTLS(t, 5*time.Second, testca.New(t))
	// The Admin SDK retries network errors until the deadline: keep it short.
	untrusting := New(Config{Timeout: 1500 * time.Millisecond})
	require.NoError(t, untrusting.Set(context.Background(), b.v1))
	require.NoError(t, untrusting.Set(context.Background(), b.legacy))
	tok := b.token(t)
	for _, cert := range []relay.Certificate{b.v1, b.legacy} {
		r := untrusting.Send(context.Background(), push(cert.ID, tok))
		require.NotNil(t, r.Err, cert.API())
		require.Contains(t, r.Err.Message, "certificate signed by unknown authority", cert.API())
	}
	require.Empty(t, b.records(t, tok), "nothing reached fakefcm")
}

func TestErrorsInTheRelaysTerms(t *testing.T) {
	b := newBench(t, 5*time.Second)
	ctx := context.Background()
	other, err := b.cc.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "other"})
	require.NoError(t, err)
	foreign, err := b.cc.RegisterDevice(ctx, other.SenderID, "com.example.im")
	require.NoError(t, err)
	gone := b.token(t)
	require.NoError(t, b.cc.Uninstall(ctx, gone))
	good := b.token(t)
	for _, cert := range []relay.Certificate{b.v1, b.legacy} {
		for _, tc := range []struct {
			name  string
			tok   string
			fault *fakefcm.FaultRule
			code  string
			bad   bool
			retry time.Duration
		}{
			{"unregistered", gone, nil, "UNREGISTERED", false, 0},
			{"malformed token", "garbage", nil, "INVALID_ARGUMENT", true, 0},
			{"sender mismatch", foreign, nil, "SENDER_ID_MISMATCH", false, 0},
			{"quota", good, &fakefcm.FaultRule{Status: 429, RetryAfter: duration.Of(30 * time.Second)}, "QUOTA_EXCEEDED", false, 30 * time.Second},
			{"unavailable", good, &fakefcm.FaultRule{Status: 503, RetryAfter: duration.Of(7 * time.Second)}, "UNAVAILABLE", false, 7 * time.Second},
			{"unavailable without Retry-After", good, &fakefcm.FaultRule{Status: 503}, "UNAVAILABLE", false, 0},
			{"internal", good, &fakefcm.FaultRule{Status: 500}, "INTERNAL", false, 0},
		} {
			t.Run(cert.API()+"/"+tc.name, func(t *testing.T) {
				before := len(b.records(t, tc.tok))
				if tc.fault != nil {
					tc.fault.Count = 1
					require.NoError(t, b.cc.SetFaults(ctx, []fakefcm.FaultRule{*tc.fault}))
				}
				r := b.pool.Send(ctx, push(cert.ID, tc.tok))
				require.NotNil(t, r.Err)
				require.Equal(t, tc.code, r.Err.Code, r.Err.Message)
				require.Equal(t, tc.bad, r.Err.TokenInvalid)
				require.Equal(t, tc.retry, r.Err.RetryAfter)
				if tc.tok != "garbage" {
					require.Len(t, b.records(t, tc.tok), before+1, "one attempt: the SDK's own 503 retries are bypassed")
				}
			})
		}
	}
}

func TestBadCredentialsAndTimeouts(t *testing.T) {
	b := newBench(t, 300*time.Millisecond)
	ctx := context.Background()
	tok := b.token(t)

	badKey := b.legacy
	badKey.ID, badKey.ServerKey = 3, secret.New("AAAA-not-a-key")
	require.NoError(t, b.pool.Set(ctx, badKey))
	r := b.pool.Send(ctx, push(3, tok))
	require.Equal(t, relay.ErrCodeUnauthenticated, r.Err.Code)

	require.NoError(t, b.cc.SetFaults(ctx, []fakefcm.FaultRule{{Latency: duration.Of(2 * time.Second)}}))
	r = b.pool.Send(ctx, push(b.v1.ID, tok))
	require.NotNil(t, r.Err)
	require.Equal(t, relay.ErrCodeTimeout, r.Err.Code)
	require.NoError(t, b.cc.ClearFaults(ctx))

	r = b.pool.Send(ctx, push(99, tok))
	require.Equal(t, relay.ErrCodeUnauthenticated, r.Err.Code, "unknown certificate")
}
