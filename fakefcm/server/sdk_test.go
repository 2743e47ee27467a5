package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/api/option"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/internal/duration"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of the Admin SDK's own HTTP transport, which tests cannot close.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// loopback runs a Server on a loopback port for tests that drive it with the real Admin SDK.
type loopback struct {
	srv  *Server
	base string
	cc   *control.Client
}

func startLoopback(t *testing.T, b fakefcm.Behaviour) *loopback {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	srv, err := New(Config{BaseURL: base, Core: fakefcm.Config{Seed: 7, Behaviour: b}})
	require.NoError(t, err)
	transport := &http.Transport{}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, hs.Close())
		transport.CloseIdleConnections()
	})
	return &loopback{srv: srv, base: base, cc: &control.Client{BaseURL: base, HTTP: &http.Client{Transport: transport}}}
}

func (l *loopback) project(t *testing.T, id string) control.ProjectCredentials {
	t.Helper()
	creds, err := l.cc.CreateProject(context.Background(), control.CreateProjectRequest{ProjectID: id, PackageNames: []string{"com.example.im"}})
	require.NoError(t, err)
	return creds
}

func (l *loopback) token(t *testing.T, creds control.ProjectCredentials) string {
	t.Helper()
	tok, err := l.cc.RegisterDevice(context.Background(), creds.SenderID, "com.example.im")
	require.NoError(t, err)
	return tok
}

// sdk returns the real firebase Admin SDK messaging client, authenticated with the issued
// service account (so OAuth runs through its token_uri) and pointed at this fakefcm.
func (l *loopback) sdk(t *testing.T, creds control.ProjectCredentials) *messaging.Client {
	t.Helper()
	ctx := context.Background()
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: creds.ProjectID},
		option.WithCredentialsJSON(creds.ServiceAccount), option.WithEndpoint(l.base+"/v1"))
	require.NoError(t, err)
	m, err := app.Messaging(ctx)
	require.NoError(t, err)
	return m
}

// phone is a device channel that acknowledges everything and hands frames to the test.
type phone struct {
	frames chan fakefcm.DeviceFrame
}

func (l *loopback) connect(t *testing.T, token string) *phone {
	t.Helper()
	ch, err := l.cc.Connect(context.Background(), token)
	require.NoError(t, err)
	p := &phone{frames: make(chan fakefcm.DeviceFrame, 64)}
	go func() {
		defer close(p.frames)
		for {
			f, err := ch.Receive()
			if err != nil {
				return
			}
			if f.Message != nil {
				_ = ch.Ack(f.Message.MessageID)
			}
			p.frames <- f
		}
	}()
	t.Cleanup(func() { ch.Close() })
	return p
}

// next waits for the phone's next frame; it fails the test after five seconds without one.
func (p *phone) next(t *testing.T) fakefcm.DeviceFrame {
	t.Helper()
	select {
	case f, ok := <-p.frames:
		require.True(t, ok, "device channel closed")
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame within 5s")
		return fakefcm.DeviceFrame{}
	}
}

func TestAdminSDKSendReachesDeviceChannel(t *testing.T) {
	l := startLoopback(t, fakefcm.Behaviour{})
	creds := l.project(t, "demo")
	tok := l.token(t, creds)
	dev := l.connect(t, tok)
	client := l.sdk(t, creds)
	count := 3
	ttl := 90 * time.Second
	name, err := client.Send(context.Background(), &messaging.Message{
		Token:        tok,
		Notification: &messaging.Notification{Title: "bob", Body: "hi"},
		Data:         map[string]string{"conv": "c2c_bob"},
		Android: &messaging.AndroidConfig{Priority: "high", CollapseKey: "c2c_bob", TTL: &ttl,
			Notification: &messaging.AndroidNotification{NotificationCount: &count, ChannelID: "im", Sound: "ping",
				ClickAction: "com.example.im.OPEN_CHAT"}},
	})
	require.NoError(t, err)
	require.Regexp(t, `^projects/demo/messages/0:\d+%[0-9a-f]{16}$`, name)
	f := dev.next(t)
	require.Equal(t, fakefcm.DeliverMessage, f.Type)
	m := f.Message
	require.Equal(t, "bob", m.Notification.Title)
	require.Equal(t, "hi", m.Notification.Body)
	require.Equal(t, 3, *m.Notification.NotificationCount)
	require.Equal(t, []string{"im", "ping", "com.example.im.OPEN_CHAT"},
		[]string{m.Notification.ChannelID, m.Notification.Sound, m.Notification.ClickAction}, "the device channel shows the Android options")
	require.Equal(t, "c2c_bob", m.CollapseKey)
	require.Equal(t, "high", m.Priority)
	require.Equal(t, int64(90), m.TTLSeconds)
	require.Equal(t, creds.SenderID, m.From)

	recs, err := l.cc.Messages(context.Background(), fakefcm.RecordFilter{Token: tok})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, name, recs[0].Name)
	require.Equal(t, 1, recs[0].Attempts)
	require.Equal(t, "im", recs[0].Payload.Notification.ChannelID, "the record shows the channel")
	require.Equal(t, "com.example.im.OPEN_CHAT", recs[0].Payload.Notification.ClickAction)
}

// TestAdminSDKDataOnlyMessageHasNoNotification: a data-only message (the relay's silent push)
// reaches the device channel and the records with its data and no notification.
func TestAdminSDKDataOnlyMessageHasNoNotification(t *testing.T) {
	l := startLoopback(t, fakefcm.Behaviour{})
	creds := l.project(t, "demo")
	tok := l.token(t, creds)
	dev := l.connect(t, tok)
	client := l.sdk(t, creds)
	_, err := client.Send(context.Background(), &messaging.Message{Token: tok,
		Data:    map[string]string{"title": "bob", "body": "hi", "badge": "2"},
		Android: &messaging.AndroidConfig{Priority: "high", CollapseKey: "c2c_bob"}})
	require.NoError(t, err)
	m := dev.next(t).Message
	require.Nil(t, m.Notification)
	require.Equal(t, map[string]string{"title": "bob", "body": "hi", "badge": "2"}, m.Data)
	require.Equal(t, "high", m.Priority)
	recs, err := l.cc.Messages(context.Background(), fakefcm.RecordFilter{Token: tok})
	require.NoError(t, err)
	require.Nil(t, recs[0].Payload.Notification)
}

func TestAdminSDKDryRunDeliversNothing(t *testing.T) {
	l := startLoopback(t, fakefcm.Behaviour{})
	creds := l.project(t, "demo")
	tok := l.token(t, creds)
	client := l.sdk(t, creds)
	name, err := client.SendDryRun(context.Background(), &messaging.Message{Token: tok, Data: map[string]string{"a": "b"}})
	require.NoError(t, err)
	require.NotEmpty(t, name)
	recs, err := l.cc.Messages(context.Background(), fakefcm.RecordFilter{Token: tok})
	require.NoError(t, err)
	require.Equal(t, fakefcm.FateValidateOnly, recs[0].Fate)
}

// TestAdminSDKErrorPredicates makes fakefcm answer each FCM error and checks that the SDK's
// matching Is… predicate fires — which needs Google's exact error body.
func TestAdminSDKErrorPredicates(t *testing.T) {
	l := startLoopback(t, fakefcm.Behaviour{})
	ctx := context.Background()
	creds := l.project(t, "demo")
	other := l.project(t, "other")
	client := l.sdk(t, creds)
	gone := l.token(t, creds)
	require.NoError(t, l.cc.Uninstall(ctx, gone))
	foreign := l.token(t, other)
	good := l.token(t, creds)

	fault := func(status int, retryAfter time.Duration) {
		require.NoError(t, l.cc.SetFaults(ctx, []fakefcm.FaultRule{{Token: good, Status: status, RetryAfter: duration.Of(retryAfter), Count: 1}}))
	}
	for _, tc := range []struct {
		name  string
		setup func()
		token string
		is    func(error) bool
	}{
		{"invalid argument", nil, "not-a-token", messaging.IsInvalidArgument},
		{"unregistered", nil, gone, both(messaging.IsUnregistered, messaging.IsRegistrationTokenNotRegistered)},
		{"sender id mismatch", nil, foreign, both(messaging.IsSenderIDMismatch, messaging.IsMismatchedCredential)},
		{"quota exceeded", func() { fault(429, time.Minute) }, good, both(messaging.IsQuotaExceeded, messaging.IsMessageRateExceeded)},
		{"internal", func() { fault(500, 0) }, good, messaging.IsInternal},
		// A Retry-After beyond the SDK's 2-minute cap stops its own retries of 503.
		{"unavailable", func() { fault(503, 3*time.Minute) }, good, both(messaging.IsUnavailable, messaging.IsServerUnavailable)},
		{"third-party auth", func() { fault(401, 0) }, good, both(messaging.IsThirdPartyAuthError, messaging.IsInvalidAPNSCredentials)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			_, err := client.Send(ctx, &messaging.Message{Token: tc.token, Notification: &messaging.Notification{Body: "x"}})
			require.Error(t, err)
			require.True(t, tc.is(err), "predicate did not fire for: %v", err)
		})
	}
}

// both checks a predicate and its deprecated alias.
func both(is, alias func(error) bool) func(error) bool {
	return func(err error) bool { return is(err) && alias(err) }
}

func TestAdminSDKRetriesUnavailableOnce(t *testing.T) {
	l := startLoopback(t, fakefcm.Behaviour{})
	ctx := context.Background()
	creds := l.project(t, "demo")
	tok := l.token(t, creds)
	require.NoError(t, l.cc.SetFaults(ctx, []fakefcm.FaultRule{{Status: 503, Count: 1}}))
	_, err := l.sdk(t, creds).Send(ctx, &messaging.Message{Token: tok, Data: map[string]string{"a": "b"}})
	require.NoError(t, err, "the SDK retries a 503 at once and the second try passes")
	recs, err := l.cc.Messages(ctx, fakefcm.RecordFilter{Token: tok})
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, fakefcm.FateRejected, recs[0].Fate)
	require.Equal(t, fakefcm.Unavailable, recs[0].Error)
}

func TestAdminSDKSendEachAndMulticast(t *testing.T) {
	l := startLoopback(t, fakefcm.Behaviour{})
	ctx := context.Background()
	creds := l.project(t, "demo")
	client := l.sdk(t, creds)
	toks := []string{l.token(t, creds), l.token(t, creds), l.token(t, creds)}
	require.NoError(t, l.cc.Uninstall(ctx, toks[1]))

	var msgs []*messaging.Message
	for _, tok := range toks {
		msgs = append(msgs, &messaging.Message{Token: tok, Data: map[string]string{"k": "v"}})
	}
	each, err := client.SendEach(ctx, msgs)
	require.NoError(t, err)
	require.Equal(t, 2, each.SuccessCount)
	require.True(t, messaging.IsUnregistered(each.Responses[1].Error))

	multi, err := client.SendEachForMulticast(ctx, &messaging.MulticastMessage{Tokens: toks, Notification: &messaging.Notification{Body: "m"}})
	require.NoError(t, err)
	require.Equal(t, 2, multi.SuccessCount)
	require.True(t, multi.Responses[0].Success)
	require.False(t, multi.Responses[1].Success)
}

// TestAdminSDKBatch drives the multipart batch endpoint with the SDK's SendAll and SendMulticast.
func TestAdminSDKBatch(t *testing.T) {
	l := startLoopback(t, fakefcm.Behaviour{})
	ctx := context.Background()
	creds := l.project(t, "demo")
	client := l.sdk(t, creds)
	toks := []string{l.token(t, creds), l.token(t, creds), "bogus"}
	dev := l.connect(t, toks[0])

	var msgs []*messaging.Message
	for i, tok := range toks {
		msgs = append(msgs, &messaging.Message{Token: tok, Notification: &messaging.Notification{Body: string(rune('a' + i))}})
	}
	//lint:ignore SA1019 SendAll is deprecated at Google but fakefcm serves the batch API it uses.
	all, err := client.SendAll(ctx, msgs) //nolint:staticcheck
	require.NoError(t, err)
	require.Equal(t, 2, all.SuccessCount)
	require.Equal(t, 1, all.FailureCount)
	require.Regexp(t, `^projects/demo/messages/`, all.Responses[0].MessageID)
	require.True(t, messaging.IsInvalidArgument(all.Responses[2].Error))
	require.Equal(t, "a", dev.next(t).Message.Notification.Body)

	multi, err := client.SendMulticast(ctx, &messaging.MulticastMessage{Tokens: toks[:2], Data: map[string]string{"x": "y"}}) //nolint:staticcheck
	require.NoError(t, err)
	require.Equal(t, 2, multi.SuccessCount)
}

func TestOAuthRefusesForeignAndBadAssertions(t *testing.T) {
	l := startLoopback(t, fakefcm.Behaviour{})
	creds := l.project(t, "demo")
	var sa control.ServiceAccount
	require.NoError(t, json.Unmarshal(creds.ServiceAccount, &sa))
	require.Equal(t, l.base+"/token", sa.TokenURI)
	require.Equal(t, "service_account", sa.Type)

	for _, tc := range []struct {
		name, body string
		status     int
		errCode    string
	}{
		{"wrong grant", "grant_type=password", 400, "unsupported_grant_type"},
		{"no assertion", "grant_type=" + jwtBearerGrant, 400, "invalid_request"},
		{"garbage", "grant_type=" + jwtBearerGrant + "&assertion=a.b.c", 400, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(l.base+"/token", "application/x-www-form-urlencoded", strings.NewReader(tc.body))
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			var oe oauthError
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&oe))
			require.Equal(t, tc.errCode, oe.Error)
		})
	}

	// Without a valid access token the SDK's send is refused as unauthenticated.
	req, err := http.NewRequest(http.MethodPost, l.base+"/v1/projects/demo/messages:send", strings.NewReader(`{"message":{"token":"x"}}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer ya29.forged")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	var st fakefcm.StatusBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	require.Equal(t, "UNAUTHENTICATED", st.Error.Status)
	require.Empty(t, st.Error.Details, "auth errors carry no FcmError")
}

func TestAccessTokenOfOneProjectCannotSendForAnother(t *testing.T) {
	l := startLoopback(t, fakefcm.Behaviour{})
	demo := l.project(t, "demo")
	l.project(t, "other")
	// An SDK client authenticated as demo but configured with project "other".
	app, err := firebase.NewApp(context.Background(), &firebase.Config{ProjectID: "other"},
		option.WithCredentialsJSON(demo.ServiceAccount), option.WithEndpoint(l.base+"/v1"))
	require.NoError(t, err)
	client, err := app.Messaging(context.Background())
	require.NoError(t, err)
	_, err = client.Send(context.Background(), &messaging.Message{Token: "x", Data: map[string]string{"a": "b"}})
	require.Error(t, err)
	var fe interface{ Error() string }
	require.True(t, errors.As(err, &fe))
	require.Contains(t, err.Error(), "Permission 'cloudmessaging.messages.create' denied")
}

func TestMetricsCountSendsAndDeliveries(t *testing.T) {
	l := startLoopback(t, fakefcm.Behaviour{})
	creds := l.project(t, "demo")
	tok := l.token(t, creds)
	dev := l.connect(t, tok)
	client := l.sdk(t, creds)
	_, err := client.Send(context.Background(), &messaging.Message{Token: tok, Data: map[string]string{"a": "b"}})
	require.NoError(t, err)
	dev.next(t)
	_, err = client.Send(context.Background(), &messaging.Message{Token: "bogus", Data: map[string]string{"a": "b"}})
	require.Error(t, err)
	resp, err := http.Get(l.base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	body := string(b)
	require.Contains(t, body, "fakefcm_messages_accepted_total 1")
	require.Contains(t, body, `fakefcm_messages_rejected_total{code="INVALID_ARGUMENT"} 1`)
	require.Contains(t, body, "fakefcm_devices_registered 1")
	require.NotContains(t, body, creds.ServerKey)
}
