package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/fcmwire"
)

// Config is what a Pool is built from.
type Config struct {
	// Timeout bounds one send attempt; zero means 10 s. A push that times out is reported as
	// TIMEOUT and retried by the relay (FCM may still deliver it: a possible duplicate).
	Timeout time.Duration
	// Transport carries the HTTP requests; nil means a transport tuned for many concurrent sends.
	Transport http.RoundTripper
	// Logger receives one line per certificate change; nil discards.
	Logger *slog.Logger
}

// Pool holds one FCM client per certificate and sends pushes through them. It is safe for
// concurrent use.
type Pool struct {
	cfg       Config
	transport http.RoundTripper

	mu    sync.RWMutex
	certs map[int64]*certClient
}

// certClient is one certificate's way to FCM.
type certClient struct {
	cert   relay.Certificate
	v1     *messaging.Client
	legacy *http.Client
}

// OAuth scopes the relay asks for with a service account.
var scopes = []string{"https://www.googleapis.com/auth/firebase.messaging", "https://www.googleapis.com/auth/cloud-platform"}

// New returns an empty Pool.
func New(cfg Config) *Pool {
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := cfg.Transport
	if t == nil {
		t = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
			ForceAttemptHTTP2:   true,
		}
	}
	return &Pool{cfg: cfg, transport: t, certs: map[int64]*certClient{}}
}

// Set builds (or rebuilds) the client of a certificate.
func (p *Pool) Set(ctx context.Context, cert relay.Certificate) error {
	p.mu.Lock()
	old := p.certs[cert.ID]
	p.mu.Unlock()
	if old != nil && old.cert.CredentialsDigest() == cert.CredentialsDigest() {
		// Only the status or the package changed: keep the client and its OAuth token.
		p.mu.Lock()
		p.certs[cert.ID] = &certClient{cert: cert, v1: old.v1, legacy: old.legacy}
		p.mu.Unlock()
		return nil
	}
	cc, _, err := p.build(ctx, cert)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.certs[cert.ID] = cc
	p.mu.Unlock()
	p.cfg.Logger.Info("certificate ready", "certificateId", cert.ID, "api", cert.API(), "endpoint", endpointName(cert.Endpoint))
	return nil
}

// build makes a certificate's client; for HTTP v1 it also returns the OAuth token source the
// client's requests take their tokens from.
func (p *Pool) build(ctx context.Context, cert relay.Certificate) (*certClient, oauth2.TokenSource, error) {
	cc := &certClient{cert: cert}
	var ts oauth2.TokenSource
	if cert.API() == "v1" {
		jwt, err := google.JWTConfigFromJSON([]byte(cert.ServiceAccount.Reveal()), scopes...)
		if err != nil {
			return nil, nil, fmt.Errorf("certificate %d: service account: %w", cert.ID, err)
		}
		// OAuth runs through the service account's token_uri (Google's, or a fakefcm's) on the
		// pool's transport. Sends go through noSDKRetry, which hands 503s straight back.
		oauthCtx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: p.transport, Timeout: p.cfg.Timeout})
		ts = jwt.TokenSource(oauthCtx)
		hc := &http.Client{Transport: &lastError{next: &oauth2.Transport{Source: ts, Base: &noSDKRetry{next: p.transport}}}}
		opts := []option.ClientOption{option.WithHTTPClient(hc)}
		if cert.Endpoint != "" {
			opts = append(opts, option.WithEndpoint(strings.TrimSuffix(cert.Endpoint, "/")+"/v1"))
		}
		app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: cert.ProjectID()}, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("certificate %d: firebase app: %w", cert.ID, err)
		}
		if cc.v1, err = app.Messaging(ctx); err != nil {
			return nil, nil, fmt.Errorf("certificate %d: firebase messaging: %w", cert.ID, err)
		}
	} else {
		cc.legacy = &http.Client{Transport: p.transport}
	}
	return cc, ts, nil
}

func endpointName(e string) string {
	if e == "" {
		return "Google"
	}
	return e
}

// Remove forgets a certificate's client.
func (p *Pool) Remove(id int64) {
	p.mu.Lock()
	delete(p.certs, id)
	p.mu.Unlock()
}

// Send sends one push and reports FCM's answer in the relay's terms.
func (p *Pool) Send(ctx context.Context, push relay.Push) relay.PushResult {
	p.mu.RLock()
	cc, ok := p.certs[push.CertificateID]
	p.mu.RUnlock()
	if !ok {
		return relay.PushResult{ID: push.ID, Err: &relay.PushError{Code: relay.ErrCodeUnauthenticated, Message: fmt.Sprintf("certificate %d has no FCM client", push.CertificateID)}}
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	if cc.v1 != nil {
		last := &errBox{}
		name, err := cc.v1.Send(context.WithValue(ctx, lastErrorKey{}, last), sdkMessage(fcmwire.NewV1Message(cc.cert, push)))
		if err != nil {
			e := v1Error(ctx, err)
			if le := last.get(); le != nil && (e.Code == relay.ErrCodeTimeout || e.Code == relay.ErrCodeNetwork) && !strings.Contains(e.Message, le.Error()) {
				e.Message += " (last attempt: " + le.Error() + ")"
			}
			return relay.PushResult{ID: push.ID, Err: e}
		}
		return relay.PushResult{ID: push.ID, Name: name}
	}
	name, perr := legacySend(ctx, cc, push)
	return relay.PushResult{ID: push.ID, Name: name, Err: perr}
}

// v1Error maps an Admin SDK error to the relay's terms.
func v1Error(ctx context.Context, err error) *relay.PushError {
	e := &relay.PushError{Message: err.Error()}
	switch {
	case messaging.IsUnregistered(err):
		e.Code = "UNREGISTERED"
	case messaging.IsInvalidArgument(err):
		e.Code = "INVALID_ARGUMENT"
		e.TokenInvalid = strings.Contains(err.Error(), "registration token")
	case messaging.IsSenderIDMismatch(err):
		e.Code = "SENDER_ID_MISMATCH"
	case messaging.IsQuotaExceeded(err):
		e.Code = "QUOTA_EXCEEDED"
	case messaging.IsUnavailable(err):
		e.Code = "UNAVAILABLE"
	case messaging.IsInternal(err):
		e.Code = "INTERNAL"
	case messaging.IsThirdPartyAuthError(err):
		e.Code = "THIRD_PARTY_AUTH_ERROR"
	case errorutils.IsUnauthenticated(err), errorutils.IsPermissionDenied(err), errorutils.IsNotFound(err):
		e.Code = relay.ErrCodeUnauthenticated
	case ctx.Err() != nil || errorutils.IsDeadlineExceeded(err):
		e.Code = relay.ErrCodeTimeout
	default:
		e.Code = relay.ErrCodeNetwork
	}
	if resp := errorutils.HTTPResponse(err); resp != nil {
		e.RetryAfter = retryAfter(resp.Header)
	}
	return e
}

// maxRetryAfterSecs caps a Retry-After read from FCM.
const maxRetryAfterSecs = 24 * 60 * 60

// retryHeader carries FCM's own Retry-After past the Admin SDK (see noSDKRetry).
const retryHeader = "X-Pushlab-Retry-After"

// retryAfter reads FCM's Retry-After (seconds or an HTTP date is not needed: FCM sends seconds).
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if _, ok := h[retryHeader]; ok {
		v = h.Get(retryHeader) // FCM's own value, possibly none, behind noSDKRetry's
	}
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs < 0 {
		return 0
	}
	// A day is far past any retry policy's patience; larger values would overflow a Duration.
	return time.Duration(min(secs, maxRetryAfterSecs)) * time.Second
}

// noSDKRetry hands every 503 straight back to the relay, whose retry policy is the one that
// counts: the Admin SDK retries 503s itself (four times, honouring Retry-After up to two minutes)
// unless Retry-After asks for longer than that, so the transport keeps FCM's value in its own
// header and answers the SDK with a Retry-After it will not wait for.
type noSDKRetry struct{ next http.RoundTripper }

func (t *noSDKRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusServiceUnavailable {
		resp.Header.Set(retryHeader, resp.Header.Get("Retry-After"))
		resp.Header.Set("Retry-After", "86400")
	}
	return resp, err
}

// lastError keeps the latest failed round trip's error (OAuth's included) in the errBox its
// request's context carries: the Admin SDK retries network errors until the send's deadline and
// then reports the deadline alone, which would hide why every attempt failed (an FCM endpoint
// whose TLS certificate the relay does not trust, a refused connection).
type lastError struct{ next http.RoundTripper }

// lastErrorKey is the context key of a send's errBox.
type lastErrorKey struct{}

// errBox holds the latest error of one send's attempts; they may run on several goroutines.
type errBox struct {
	mu  sync.Mutex
	err error
}

func (b *errBox) get() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (t *lastError) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if b, ok := req.Context().Value(lastErrorKey{}).(*errBox); ok && err != nil {
		b.mu.Lock()
		b.err = err
		b.mu.Unlock()
	}
	return resp, err
}

// legacyAnswer is the legacy API's answer.
type legacyAnswer struct {
	Results []struct {
		MessageID string `json:"message_id"`
		Error     string `json:"error"`
	} `json:"results"`
}

// legacyPost posts a body to the certificate's legacy /fcm/send API (Google's when the
// certificate names no endpoint) with its server key, and reads the answer (up to 1 MiB).
func legacyPost(ctx context.Context, cc *certClient, body []byte) (*http.Response, []byte, error) {
	endpoint := "https://fcm.googleapis.com"
	if cc.cert.Endpoint != "" {
		endpoint = strings.TrimSuffix(cc.cert.Endpoint, "/")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/fcm/send", bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "key="+cc.cert.ServerKey.Reveal())
	resp, err := cc.legacy.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, answer, nil
}

// legacySend posts a push to the legacy /fcm/send API.
func legacySend(ctx context.Context, cc *certClient, push relay.Push) (string, *relay.PushError) {
	resp, body, err := legacyPost(ctx, cc, fcmwire.LegacyBody(cc.cert, push))
	if err != nil {
		code := relay.ErrCodeNetwork
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			code = relay.ErrCodeTimeout
		}
		return "", &relay.PushError{Code: code, Message: err.Error()}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return "", &relay.PushError{Code: relay.ErrCodeUnauthenticated, Message: "the legacy API refused the server key (401)"}
	case resp.StatusCode >= 500:
		code := "UNAVAILABLE"
		if resp.StatusCode != http.StatusServiceUnavailable {
			code = "INTERNAL"
		}
		return "", &relay.PushError{Code: code, RetryAfter: retryAfter(resp.Header), Message: fmt.Sprintf("legacy API answered %d", resp.StatusCode)}
	case resp.StatusCode != http.StatusOK:
		return "", &relay.PushError{Code: "INVALID_ARGUMENT", Message: fmt.Sprintf("legacy API answered %d: %.200s", resp.StatusCode, body)}
	}
	var ans legacyAnswer
	if err := json.Unmarshal(body, &ans); err != nil || len(ans.Results) != 1 {
		return "", &relay.PushError{Code: "INTERNAL", Message: fmt.Sprintf("legacy API answer not understood: %.200s", body)}
	}
	r := ans.Results[0]
	if r.Error == "" {
		return r.MessageID, nil
	}
	e := fcmwire.LegacyError(r.Error)
	e.RetryAfter = retryAfter(resp.Header)
	return "", e
}
