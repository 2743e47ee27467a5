package server

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// usersBrowser is a cookie-keeping browser of the relay's console, signed in through its form.
type usersBrowser struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie
}

var usersCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signInUsersBrowser signs in with the admin key through the console's sign-in form.
func (b *bubble) signInUsersBrowser() *usersBrowser {
	b.t.Helper()
	ub := &usersBrowser{t: b.t, h: b.srv.Handler(), cookies: map[string]*http.Cookie{}}
	_, login := ub.get("/console/login")
	status, _, _ := ub.post("/console/login", url.Values{"key": {adminKey}, "csrf": {ub.csrf(login)}})
	require.Equal(b.t, http.StatusSeeOther, status)
	require.NotEmpty(b.t, ub.cookies)
	return ub
}

func (ub *usersBrowser) do(method, path string, form url.Values) (int, string, string) {
	ub.t.Helper()
	var body io.Reader = http.NoBody
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range ub.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	ub.h.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		ub.cookies[c.Name] = c
	}
	out, err := io.ReadAll(res.Body)
	require.NoError(ub.t, err)
	return res.StatusCode, string(out), res.Header.Get("Location")
}

func (ub *usersBrowser) get(path string) (int, string) {
	status, body, _ := ub.do(http.MethodGet, path, nil)
	return status, body
}

func (ub *usersBrowser) post(path string, form url.Values) (int, string, string) {
	return ub.do(http.MethodPost, path, form)
}

func (ub *usersBrowser) csrf(page string) string {
	ub.t.Helper()
	m := usersCSRF.FindStringSubmatch(page)
	require.NotNil(ub.t, m, "no csrf field in the page")
	return m[1]
}

// requireNoSecret checks that a page shows no key, secret or session cookie.
func (ub *usersBrowser) requireNoSecret(page string) {
	ub.t.Helper()
	for _, s := range []string{adminKey, appSecret, "PRIVATE KEY", "secret-material", "private_key"} {
		require.NotContains(ub.t, page, s)
	}
	for _, c := range ub.cookies {
		require.NotContains(ub.t, page, c.Value, "the session cookie is never shown")
	}
}

// startUsersRelay starts a provisioned relay whose log, at debug level, the test reads.
func startUsersRelay(t *testing.T) (*bubble, *lockedBuffer) {
	t.Helper()
	log := &lockedBuffer{}
	b := startRelay(t, relay.NewMemoryStore(), relay.Config{}, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	b.provision()
	return b, log
}

// loginWithToken logs a device in on a platform and reports an FCM token.
func (b *bubble) loginWithToken(user, dev, platform, token string) *client.Conn {
	b.t.Helper()
	c := b.dial()
	ctx := context.Background()
	sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: user, Expire: time.Now().Add(time.Hour).Unix()})
	require.NoError(b.t, c.Login(ctx, appID, user, sig, dev, platform))
	_, err := c.Do(ctx, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: certID, Token: token})
	require.NoError(b.t, err)
	return c
}

const phoneToken = "fcm-token-alice-phone-0123456789-abcdefghijklmnopqrstuvwxyz"

func TestConsoleUserPageShowsDevicesAndKicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, log := startUsersRelay(t)
		ctx := context.Background()
		phone := b.loginWithToken("alice", "alice-phone", "android", phoneToken)
		web := b.loginWithToken("alice", "alice-web", "web", "fcm-token-alice-web-0123456789")
		_, err := web.Do(ctx, relay.ClientFrame{Op: relay.OpBackground, Unread: 0})
		require.NoError(t, err)
		bob := b.launch("bob", "bob-phone")
		require.NoError(t, phone.Drop()) // killed: pushed from now on
		synctest.Wait()
		bob.send("alice", "are you there?")
		synctest.Wait()
		time.Sleep(7 * time.Second)
		_, err = web.Do(ctx, relay.ClientFrame{Op: relay.OpSync}) // the web app speaks; the phone is silent
		require.NoError(t, err)

		ub := b.signInUsersBrowser()
		status, page := ub.get("/console/users")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, fmt.Sprintf(`<option value="%d"`, appID))
		_, _, loc := ub.do(http.MethodGet, fmt.Sprintf("/console/users?app=%d&user=alice", appID), nil)
		require.Equal(t, fmt.Sprintf("/console/apps/%d/users/alice", appID), loc)

		status, page = ub.get(loc)
		require.Equal(t, http.StatusOK, status, page)
		var v relay.UserView
		_, body := b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/users/alice", appID), "")
		require.NoError(t, json.Unmarshal([]byte(body), &v))
		require.Len(t, v.Devices, 2)
		for _, want := range []string{
			"alice-phone", "alice-web", "android", "web",
			"logged in · app killed (no connection): messages are pushed",
			"logged in · connected · background",
			fmt.Sprintf("certificate %d", certID), fmt.Sprintf(`href="/console/apps/%d/certificates"`, appID),
			relay.ShortToken(phoneToken), "(7 s ago)", "(0 s ago)",
			fmt.Sprintf("minute 1/%d · hour 1/%d · bucket %d/%d", v.Devices[0].Caps.PerMinute, v.Devices[0].Caps.PerHour,
				v.Devices[0].Caps.Burst-1, v.Devices[0].Caps.Burst),
			fmt.Sprintf("Last seq %d", v.LastSeq),
			fmt.Sprintf(`href="/console/trace?sdkAppId=%d&amp;userId=alice"`, appID),
			"Send test push",
		} {
			require.Contains(t, page, want)
		}
		require.NotContains(t, page, phoneToken, "the whole token is never on the page")
		ub.requireNoSecret(page)
		_, bobPage := ub.get(fmt.Sprintf("/console/apps/%d/users/bob", appID))
		require.Contains(t, bobPage, "logged in · connected · foreground")

		// A kick needs the session's CSRF token.
		kick := fmt.Sprintf("/console/apps/%d/users/alice/kick", appID)
		status, _, _ = ub.post(kick, url.Values{"csrf": {"forged"}})
		require.Equal(t, http.StatusForbidden, status)
		status, _, _ = ub.post(kick, url.Values{})
		require.Equal(t, http.StatusForbidden, status)
		_, body = b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/users/alice", appID), "")
		require.Contains(t, body, `"loggedIn":true`, "no kick without the token")

		status, _, loc = ub.post(kick, url.Values{"csrf": {ub.csrf(page)}})
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, fmt.Sprintf("/console/apps/%d/users/alice", appID), loc)
		_, page = ub.get(loc)
		require.Contains(t, page, "Kicked 2 devices of alice")
		require.Equal(t, 2, strings.Count(page, "logged out (ended: kicked)"), page)
		require.Contains(t, log.String(), "console: signed in")
		ub.requireNoSecret(log.String())
	})
}

func TestConsoleTestPushShowsFCMsAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, log := startUsersRelay(t)
		b.loginWithToken("alice", "alice-phone", "android", phoneToken)
		ub := b.signInUsersBrowser()
		_, page := ub.get(fmt.Sprintf("/console/apps/%d/users/alice", appID))
		tok := ub.csrf(page)
		push := fmt.Sprintf("/console/apps/%d/users/alice/devices/alice-phone/test-push", appID)
		hostile := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`}

		status, _, _ := ub.post(push, url.Values{"title": {"hi"}})
		require.Equal(t, http.StatusForbidden, status, "a test push needs the session's CSRF token")
		require.Empty(t, b.sender.sent())

		status, page, _ = ub.post(push, url.Values{"csrf": {tok}, "title": {hostile[0]}, "body": {hostile[1]}})
		require.Equal(t, http.StatusOK, status, page)
		sent := b.sender.sent()
		require.Len(t, sent, 1)
		require.Equal(t, hostile[0], sent[0].Title, "the title reaches FCM as typed")
		for _, want := range []string{"fcm-ok", "FCM accepted the push: it is on its way to the device",
			fmt.Sprintf("projects/demo/messages/%d", sent[0].ID), relay.ShortToken(phoneToken), fmt.Sprint(certID),
			"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"} {
			require.Contains(t, page, want)
		}
		for _, h := range hostile {
			require.NotContains(t, page, h)
		}
		require.NotContains(t, page, phoneToken)
		ub.requireNoSecret(page)

		b.sender.mu.Lock()
		b.sender.answer = func(p relay.Push) relay.PushResult {
			return relay.PushResult{ID: p.ID, Err: &relay.PushError{Code: "UNREGISTERED", Message: "Requested entity was not found."}}
		}
		b.sender.mu.Unlock()
		status, page, _ = ub.post(push, url.Values{"csrf": {tok}})
		require.Equal(t, http.StatusOK, status, page)
		require.Contains(t, page, "fcm-UNREGISTERED")
		require.Contains(t, page, "The token is no longer valid: the app was uninstalled or its token changed. The relay dropped the binding")
		require.Contains(t, page, "binding removed: Requested entity was not found.")

		status, page, _ = ub.post(push, url.Values{"csrf": {tok}})
		require.Equal(t, http.StatusConflict, status, page)
		require.Contains(t, page, "No token reported")
		_, page = ub.get(fmt.Sprintf("/console/apps/%d/users/alice", appID))
		require.Contains(t, page, `<span class="muted">no token reported</span>`, "the binding is gone")
		require.Contains(t, log.String(), "console: signed in")
		ub.requireNoSecret(log.String())
	})
}

func TestConsoleUsersEscapeHostileIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, log := startUsersRelay(t)
		ub := b.signInUsersBrowser()
		for _, user := range []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, "a/b?c d", "x%2Fy#z"} {
			_, _, loc := ub.do(http.MethodGet, fmt.Sprintf("/console/users?app=%d&user=%s", appID, url.QueryEscape(user)), nil)
			require.Equal(t, fmt.Sprintf("/console/apps/%d/users/%s", appID, url.PathEscape(user)), loc, user)
			status, page := ub.get(loc)
			require.Equal(t, http.StatusNotFound, status, user)
			require.Contains(t, page, template.HTMLEscapeString(fmt.Sprintf("The relay knows no user %q in app %d", user, appID)), user)
			require.NotContains(t, page, "<script>alert(1)</script>")
			require.NotContains(t, page, `"><img`)
			ub.requireNoSecret(page)

			status, page, _ = ub.post(loc+"/devices/"+url.PathEscape(user)+"/test-push", url.Values{"csrf": {ub.csrf(page)}})
			require.Equal(t, http.StatusNotFound, status, user)
			require.NotContains(t, page, "<script>alert(1)</script>")
			require.NotContains(t, page, `"><img`)
		}
		status, page := ub.get("/console/apps/42/users/alice")
		require.Equal(t, http.StatusNotFound, status)
		require.Contains(t, page, "The relay has no app 42.")
		require.Contains(t, log.String(), "console: signed in")
		ub.requireNoSecret(log.String())
	})
}
