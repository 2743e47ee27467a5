package server

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/httpserver"
	"github.com/pushlab/pushlab/internal/memnet"
)

// bubble is a Server on an in-memory network inside a synctest bubble: fake time advances as
// soon as every goroutine is blocked, and synctest.Wait lets every request settle.
type bubble struct {
	srv    *Server
	ln     *memnet.Listener
	http   *http.Client
	cc     *control.Client
	creds  control.ProjectCredentials
	bearer string
}

const bubbleURL = "http://fakefcm.test"

func startBubble(t *testing.T, b fakefcm.Behaviour) *bubble {
	t.Helper()
	ln := memnet.Listen()
	srv, err := New(Config{BaseURL: bubbleURL, Core: fakefcm.Config{Seed: 3, Behaviour: b}})
	require.NoError(t, err)
	// The HTTP server Listen uses, so that its limits against slow clients are what tests meet.
	hs := httpserver.New(srv.Handler())
	go hs.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		// Shutdown, unlike Close, waits for connections to finish, which the bubble requires.
		require.NoError(t, hs.Shutdown(context.Background()))
		ln.Close()
	})
	client := ln.HTTPClient()
	bb := &bubble{srv: srv, ln: ln, http: client, cc: &control.Client{BaseURL: bubbleURL, HTTP: client, Dialer: &websocket.Dialer{NetDialContext: ln.Dial}}}
	bb.creds, err = bb.cc.CreateProject(context.Background(), control.CreateProjectRequest{ProjectID: "demo", SenderID: "4242", PackageNames: []string{"com.example.im"}})
	require.NoError(t, err)
	bb.bearer = bb.accessToken(t, time.Now(), time.Now().Add(time.Hour))
	return bb
}

// assertion signs a JWT-bearer assertion with the issued service account's key.
func (b *bubble) assertion(t *testing.T, iat, exp time.Time) string {
	t.Helper()
	var sa control.ServiceAccount
	require.NoError(t, json.Unmarshal(b.creds.ServiceAccount, &sa))
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": sa.ClientEmail, "scope": "https://www.googleapis.com/auth/cloud-platform",
		"aud": sa.TokenURI, "iat": iat.Unix(), "exp": exp.Unix(),
	})
	tok.Header["kid"] = sa.PrivateKeyID
	signed, err := tok.SignedString(key)
	require.NoError(t, err)
	return signed
}

// token runs the JWT-bearer grant and returns the answer's status and body.
func (b *bubble) token(t *testing.T, assertion string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion}}
	resp, err := b.http.PostForm(bubbleURL+"/token", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func (b *bubble) accessToken(t *testing.T, iat, exp time.Time) string {
	t.Helper()
	status, body := b.token(t, b.assertion(t, iat, exp))
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "Bearer", body["token_type"])
	require.EqualValues(t, 3599, body["expires_in"])
	return body["access_token"].(string)
}

// do sends a request and returns status, headers and body.
func (b *bubble) do(t *testing.T, method, path, auth, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, bubbleURL+path, strings.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := b.http.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(out)
}

func (b *bubble) send(t *testing.T, body string) (int, http.Header, string) {
	return b.do(t, http.MethodPost, "/v1/projects/demo/messages:send", "Bearer "+b.bearer, body)
}

func (b *bubble) device(t *testing.T) string {
	t.Helper()
	tok, err := b.cc.RegisterDevice(context.Background(), b.creds.SenderID, "com.example.im")
	require.NoError(t, err)
	return tok
}

func (b *bubble) fate(t *testing.T, tok string) []fakefcm.Fate {
	t.Helper()
	recs, err := b.cc.Messages(context.Background(), fakefcm.RecordFilter{Token: tok})
	require.NoError(t, err)
	var out []fakefcm.Fate
	for _, r := range recs {
		out = append(out, r.Fate)
	}
	return out
}

func TestDeviceChannelAckMakesDelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		ch, err := b.cc.Connect(context.Background(), tok)
		require.NoError(t, err)
		status, _, body := b.send(t, fmt.Sprintf(`{"message":{"token":%q,"notification":{"body":"hi"}}}`, tok))
		require.Equal(t, http.StatusOK, status, body)
		f, err := ch.Receive()
		require.NoError(t, err)
		require.Equal(t, "hi", f.Message.Notification.Body)
		synctest.Wait()
		require.Equal(t, []fakefcm.Fate{fakefcm.FateInFlight}, b.fate(t, tok), "not yet acknowledged")
		require.NoError(t, ch.Ack(f.Message.MessageID))
		synctest.Wait()
		require.Equal(t, []fakefcm.Fate{fakefcm.FateDelivered}, b.fate(t, tok))
		require.NoError(t, ch.Close())
	})
}

func TestUnacknowledgedMessageComesAgainAfterReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		ch, err := b.cc.Connect(context.Background(), tok)
		require.NoError(t, err)
		b.send(t, fmt.Sprintf(`{"message":{"token":%q,"data":{"n":"1"}}}`, tok))
		first, err := ch.Receive()
		require.NoError(t, err)
		require.NoError(t, ch.Close()) // the phone loses its connection before acknowledging
		synctest.Wait()
		require.Equal(t, []fakefcm.Fate{fakefcm.FatePending}, b.fate(t, tok))
		ch, err = b.cc.Connect(context.Background(), tok)
		require.NoError(t, err)
		again, err := ch.Receive()
		require.NoError(t, err)
		require.Equal(t, first.Message.MessageID, again.Message.MessageID)
		require.NoError(t, ch.Ack(again.Message.MessageID))
		synctest.Wait()
		require.Equal(t, []fakefcm.Fate{fakefcm.FateDelivered}, b.fate(t, tok))
		require.NoError(t, ch.Close())
	})
}

func TestDeliveryLatencyRunsOnTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{Latency: duration.Of(2 * time.Second)})
		tok := b.device(t)
		ch, err := b.cc.Connect(context.Background(), tok)
		require.NoError(t, err)
		start := time.Now()
		b.send(t, fmt.Sprintf(`{"message":{"token":%q,"data":{"n":"1"}}}`, tok))
		_, err = ch.Receive()
		require.NoError(t, err)
		require.Equal(t, 2*time.Second, time.Since(start))
		require.NoError(t, ch.Close())
	})
}

// TestEarlierWakeUpWakesTheLoop: while the driver loop waits for a later wake-up (a pending
// message's TTL), a send whose delivery is due sooner is delivered on time.
func TestEarlierWakeUpWakesTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{Latency: duration.Of(2 * time.Second)})
		away, tok := b.device(t), b.device(t)
		status, _, body := b.send(t, fmt.Sprintf(`{"message":{"token":%q,"android":{"ttl":"60s"}}}`, away))
		require.Equal(t, http.StatusOK, status, body)
		synctest.Wait() // the loop now waits for the TTL, a minute away
		ch, err := b.cc.Connect(context.Background(), tok)
		require.NoError(t, err)
		start := time.Now()
		b.send(t, fmt.Sprintf(`{"message":{"token":%q,"data":{"n":"1"}}}`, tok))
		_, err = ch.Receive()
		require.NoError(t, err)
		require.Equal(t, 2*time.Second, time.Since(start))
		require.NoError(t, ch.Close())
	})
}

func TestFaultLatencyHoldsTheAnswerButDeliversAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		require.NoError(t, b.cc.SetFaults(context.Background(), []fakefcm.FaultRule{{Latency: duration.Of(30 * time.Second)}}))
		ch, err := b.cc.Connect(context.Background(), tok)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, bubbleURL+"/v1/projects/demo/messages:send",
			strings.NewReader(fmt.Sprintf(`{"message":{"token":%q,"data":{"n":"1"}}}`, tok)))
		req.Header.Set("Authorization", "Bearer "+b.bearer)
		_, err = b.http.Do(req)
		require.ErrorIs(t, err, context.DeadlineExceeded, "the sender times out…")
		f, err := ch.Receive()
		require.NoError(t, err, "…yet the device gets the message: a duplicate waiting to happen")
		require.NotNil(t, f.Message)
		require.NoError(t, ch.Close())
	})
}

func TestAccessTokenExpiresAfterAnHour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		body := fmt.Sprintf(`{"message":{"token":%q,"data":{"n":"1"}}}`, tok)
		status, _, _ := b.send(t, body)
		require.Equal(t, http.StatusOK, status)
		time.Sleep(time.Hour)
		status, _, answer := b.send(t, body)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Contains(t, answer, "invalid authentication credentials")
	})
}

func TestTokenEndpointChecksTheAssertion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		now := time.Now()
		status, body := b.token(t, b.assertion(t, now.Add(-2*time.Hour), now.Add(-time.Hour)))
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"], "expired")
		status, body = b.token(t, b.assertion(t, now, now.Add(3*time.Hour)))
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", body["error"], "too long-lived")
		signed := b.assertion(t, now, now.Add(time.Hour))
		forged := signed[:len(signed)-4] + "AAAA"
		status, body = b.token(t, forged)
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "Invalid JWT Signature.", body["error_description"])
	})
}

func TestBadInputGetsGooglesErrorShape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		auth := "Bearer " + b.bearer
		big := `{"message":{"token":"t","data":{"k":"` + strings.Repeat("x", 1<<20) + `"}}}`
		for _, tc := range []struct {
			name, method, path, auth, body string
			status                         int
			rpcStatus                      string
		}{
			{"malformed json", "POST", "/v1/projects/demo/messages:send", auth, `{"message":`, 400, "INVALID_ARGUMENT"},
			{"body over 1 MiB", "POST", "/v1/projects/demo/messages:send", auth, big, 413, "INVALID_ARGUMENT"},
			{"wrong method", "GET", "/v1/projects/demo/messages:send", auth, "", 405, "UNIMPLEMENTED"},
			{"unknown project", "POST", "/v1/projects/nope/messages:send", auth, `{"message":{"token":"t"}}`, 403, "PERMISSION_DENIED"},
			{"missing auth", "POST", "/v1/projects/demo/messages:send", "", `{"message":{"token":"t"}}`, 401, "UNAUTHENTICATED"},
			{"unknown path", "GET", "/v2/nothing", "", "", 404, "NOT_FOUND"},
			{"batch without multipart", "POST", "/v1", auth, `{}`, 400, "INVALID_ARGUMENT"},
			{"control: bad json", "POST", "/fakefcm/v1/projects", "", `{`, 400, "INVALID_ARGUMENT"},
			{"control: unknown sender", "POST", "/fakefcm/v1/devices", "", `{"senderId":"1","packageName":"com.example.im"}`, 400, "INVALID_ARGUMENT"},
			{"control: duplicate project", "POST", "/fakefcm/v1/projects", "", `{"projectId":"demo"}`, 409, "ALREADY_EXISTS"},
			{"control: bad fault", "PUT", "/fakefcm/v1/faults", "", `{"rules":[{"status":418}]}`, 400, "INVALID_ARGUMENT"},
			{"control: bad behaviour", "PUT", "/fakefcm/v1/behaviour", "", `{"loss":2}`, 400, "INVALID_ARGUMENT"},
			{"control: unknown verb", "POST", "/fakefcm/v1/devices/abc:explode", "", ``, 404, "NOT_FOUND"},
		} {
			// t.Run cannot be called inside a synctest bubble: the case name goes in the messages.
			status, hdr, body := b.do(t, tc.method, tc.path, tc.auth, tc.body)
			require.Equal(t, tc.status, status, "%s: %s", tc.name, body)
			require.Contains(t, hdr.Get("Content-Type"), "application/json", tc.name)
			var st fakefcm.StatusBody
			require.NoError(t, json.Unmarshal([]byte(body), &st), "%s: %s", tc.name, body)
			require.Equal(t, tc.status, st.Error.Code, tc.name)
			require.Equal(t, tc.rpcStatus, st.Error.Status, tc.name)
			require.NotEmpty(t, st.Error.Message, tc.name)
		}
	})
}

func TestRetryAfterHeaderOnQuotaExceeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		require.NoError(t, b.cc.SetFaults(context.Background(), []fakefcm.FaultRule{{Status: 429, RetryAfter: duration.Of(90 * time.Second)}}))
		status, hdr, body := b.send(t, fmt.Sprintf(`{"message":{"token":%q}}`, tok))
		require.Equal(t, http.StatusTooManyRequests, status)
		require.Equal(t, "90", hdr.Get("Retry-After"))
		require.Contains(t, body, `"errorCode":"QUOTA_EXCEEDED"`)
	})
}

// TestBatchPartCarriesRetryAfter: a part refused for quota carries its Retry-After and its JSON
// Content-Type in its own header, in http.Header.Write's form.
func TestBatchPartCarriesRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		require.NoError(t, b.cc.SetFaults(context.Background(), []fakefcm.FaultRule{{Status: 429, RetryAfter: duration.Of(90 * time.Second)}}))
		body := batchBody("B", batchPartRequest("/v1/projects/demo/messages:send", "", fmt.Sprintf(`{"message":{"token":%q}}`, tok)))
		req, _ := http.NewRequest(http.MethodPost, bubbleURL+"/v1", strings.NewReader(body))
		req.Header.Set("Content-Type", "multipart/mixed; boundary=B")
		req.Header.Set("Authorization", "Bearer "+b.bearer)
		resp, err := b.http.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
		require.Contains(t, string(out), "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json; charset=UTF-8\r\nRetry-After: 90\r\nContent-Length: ")
	})
}

func TestLegacyAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		key := "key=" + b.creds.ServerKey
		good, gone := b.device(t), b.device(t)
		require.NoError(t, b.cc.Uninstall(context.Background(), gone))

		status, _, body := b.do(t, "POST", "/fcm/send", "key=wrong", `{"to":"x"}`)
		require.Equal(t, http.StatusUnauthorized, status)
		require.NotContains(t, body, b.creds.ServerKey)

		status, _, body = b.do(t, "POST", "/fcm/send", key, `{"to":`)
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, body, "JSON_PARSING_ERROR")

		status, _, body = b.do(t, "POST", "/fcm/send", key, fmt.Sprintf(
			`{"registration_ids":[%q,%q,"bogus"],"notification":{"title":"t","body":"b"},"time_to_live":60}`, good, gone))
		require.Equal(t, http.StatusOK, status, body)
		var resp fakefcm.LegacyResponse
		require.NoError(t, json.Unmarshal([]byte(body), &resp))
		require.Equal(t, 1, resp.Success)
		require.Equal(t, 2, resp.Failure)
		require.NotEmpty(t, resp.Results[0].MessageID)
		require.Equal(t, "NotRegistered", resp.Results[1].Error)
		require.Equal(t, "InvalidRegistration", resp.Results[2].Error)

		status, _, body = b.do(t, "POST", "/fcm/send", key, fmt.Sprintf(`{"to":%q,"dry_run":true}`, good))
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, "fake_message_id")

		require.NoError(t, b.cc.SetFaults(context.Background(), []fakefcm.FaultRule{{API: fakefcm.APILegacy, Status: 503, RetryAfter: duration.Of(7 * time.Second), Count: 1}}))
		status, hdr, _ := b.do(t, "POST", "/fcm/send", key, fmt.Sprintf(`{"to":%q}`, good))
		require.Equal(t, http.StatusServiceUnavailable, status, "one target, server error: the whole request fails")
		require.Equal(t, "7", hdr.Get("Retry-After"))

		status, _, body = b.do(t, "POST", "/fcm/send", key, `{"to":"/topics/news","data":{"a":"b"}}`)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `"message_id":`)
	})
}

func TestUninstallClosesTheDeviceChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		ch, err := b.cc.Connect(context.Background(), tok)
		require.NoError(t, err)
		require.NoError(t, b.cc.Uninstall(context.Background(), tok))
		_, err = ch.Receive()
		require.ErrorIs(t, err, control.ErrChannelClosed)
		_, err = b.cc.Connect(context.Background(), tok)
		require.ErrorContains(t, err, "410")
		ch.Close()
	})
}

func TestForceStopHoldsUntilReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		ch, err := b.cc.Connect(context.Background(), tok)
		require.NoError(t, err)
		require.NoError(t, b.cc.ForceStop(context.Background(), tok))
		b.send(t, fmt.Sprintf(`{"message":{"token":%q,"data":{"n":"1"}}}`, tok))
		synctest.Wait()
		require.Equal(t, []fakefcm.Fate{fakefcm.FatePending}, b.fate(t, tok))
		require.NoError(t, ch.Close())
		ch, err = b.cc.Connect(context.Background(), tok) // relaunch
		require.NoError(t, err)
		f, err := ch.Receive()
		require.NoError(t, err)
		require.Equal(t, "1", f.Message.Data["n"])
		fresh, err := b.cc.RefreshToken(context.Background(), tok)
		require.NoError(t, err)
		require.NotEqual(t, tok, fresh)
		ch.Close()
	})
}

func TestOversizedBatchSendsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		var body strings.Builder
		for range maxBatchParts + 1 {
			part := fmt.Sprintf(`{"message":{"token":%q,"data":{"a":"b"}}}`, tok)
			fmt.Fprintf(&body, "--B\r\nContent-Type: application/http\r\n\r\nPOST /v1/projects/demo/messages:send HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s\r\n", len(part), part)
		}
		body.WriteString("--B--\r\n")
		req, _ := http.NewRequest(http.MethodPost, bubbleURL+"/v1", strings.NewReader(body.String()))
		req.Header.Set("Content-Type", "multipart/mixed; boundary=B")
		req.Header.Set("Authorization", "Bearer "+b.bearer)
		resp, err := b.http.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Empty(t, b.fate(t, tok), "a batch refused as a whole delivers none of its parts")
	})
}

func TestLegacyWithoutTargetsAnswersMissingRegistration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		status, _, body := b.do(t, "POST", "/fcm/send", "key="+b.creds.ServerKey, `{"data":{"a":"b"}}`)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `"error":"MissingRegistration"`)
		status, _, _ = b.do(t, "POST", "/fcm/send", "key="+b.creds.ServerKey, `{"to":`)
		require.Equal(t, http.StatusBadRequest, status)
		recs, err := b.cc.Messages(context.Background(), fakefcm.RecordFilter{Project: "demo"})
		require.NoError(t, err)
		require.Len(t, recs, 2, "refusals leave records too")
		require.Equal(t, fakefcm.FateRejected, recs[1].Fate)
	})
}

func TestANewConnectionReplacesTheOldOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		old, err := b.cc.Connect(context.Background(), tok)
		require.NoError(t, err)
		b.send(t, fmt.Sprintf(`{"message":{"token":%q,"data":{"n":"1"}}}`, tok))
		first, err := old.Receive()
		require.NoError(t, err)
		// The phone's old connection went half-open; it connects again without acknowledging.
		fresh, err := b.cc.Connect(context.Background(), tok)
		require.NoError(t, err)
		_, err = old.Receive()
		require.ErrorIs(t, err, control.ErrChannelClosed, "the old connection is closed")
		again, err := fresh.Receive()
		require.NoError(t, err)
		require.Equal(t, first.Message.MessageID, again.Message.MessageID)
		require.NoError(t, fresh.Ack(again.Message.MessageID))
		synctest.Wait()
		require.Equal(t, []fakefcm.Fate{fakefcm.FateDelivered}, b.fate(t, tok))
		fresh.Close()
		old.Close()
	})
}

func TestBehaviourCanBeChangedAtRunTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		status, _, body := b.do(t, "PUT", "/fakefcm/v1/behaviour", "", `{"latncy":"1s"}`)
		require.Equal(t, http.StatusBadRequest, status, "unknown fields are refused: %s", body)
		status, _, body = b.do(t, "PUT", "/fakefcm/v1/behaviour", "", `{"latency":"2s","throttles":{"mode":"reject"}}`)
		require.Equal(t, http.StatusOK, status, body)
		var got fakefcm.Behaviour
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		require.Equal(t, 2*time.Second, got.Latency.D())
		require.Equal(t, fakefcm.ThrottleReject, got.Throttles.Mode)
		require.Equal(t, fakefcm.DefaultDevicePerMinute, got.Throttles.DevicePerMinute, "defaults are filled in")
	})
}

func TestSlowDeviceChannelIsShutDown(t *testing.T) {
	c := &deviceConn{send: make(chan fakefcm.DeviceFrame, 1), done: make(chan struct{})}
	c.enqueue(fakefcm.DeviceFrame{Type: fakefcm.DeliverDeleted})
	select {
	case <-c.done:
		t.Fatal("shut down with room left")
	default:
	}
	c.enqueue(fakefcm.DeviceFrame{Type: fakefcm.DeliverDeleted})
	<-c.done
	require.Equal(t, websocketPolicy, c.closeCode)
}

// TestFaultRulesAddedOverHTTPKeepTheCountsInForce: PUT replaces the rules, POST adds one after
// them without giving back what they have spent, GET lists them with their match counts.
func TestFaultRulesAddedOverHTTPKeepTheCountsInForce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		body := fmt.Sprintf(`{"message":{"token":%q,"data":{"k":"v"}}}`, tok)
		ctx := context.Background()
		require.NoError(t, b.cc.SetFaults(ctx, []fakefcm.FaultRule{{Status: 503, Count: 2}}))
		status, _, _ := b.send(t, body)
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.NoError(t, b.cc.AddFaults(ctx, []fakefcm.FaultRule{{Status: 500, Token: "someone-else"}}))
		rules, err := b.cc.Faults(ctx)
		require.NoError(t, err)
		require.Len(t, rules, 2)
		require.Equal(t, 1, rules[0].Matched, "the 503 rule keeps its count")
		status, _, _ = b.send(t, body)
		require.Equal(t, http.StatusServiceUnavailable, status, "its second and last answer")
		status, _, resp := b.send(t, body)
		require.Equal(t, http.StatusOK, status, resp)
		status, _, resp = b.do(t, http.MethodPost, "/fakefcm/v1/faults", "", `{"rules":[{"status":418}]}`)
		require.Equal(t, http.StatusBadRequest, status, resp)
	})
}
