package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

const testKey = "console-test-admin-key-0123456789"

// appsOnly is an admin API that knows one app.
type appsOnly struct{}

func (appsOnly) Do(_ context.Context, method, path string, _, out any) error {
	if method == http.MethodGet && path == "/admin/v1/apps" {
		*out.(*struct {
			Apps []relay.AppView `json:"apps"`
		}) = struct {
			Apps []relay.AppView `json:"apps"`
		}{Apps: []relay.AppView{{SDKAppID: 1400000001, Name: "secret-app-name"}}}
		return nil
	}
	return &clientError{}
}

type clientError struct{}

func (clientError) Error() string { return "not in this test" }

// browser is a cookie-keeping client of a console, on a clock the test moves.
type browser struct {
	t       *testing.T
	c       *Console
	now     *time.Time
	cookies map[string]*http.Cookie
	remote  string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	c, err := New(Config{AdminKey: secret.New(testKey), API: appsOnly{}, Now: func() time.Time { return now }})
	require.NoError(t, err)
	return &browser{t: t, c: c, now: &now, cookies: map[string]*http.Cookie{}, remote: "192.0.2.7:5555"}
}

func (b *browser) do(method, path string, form url.Values) *http.Response {
	b.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = b.remote
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.c.ServeHTTP(rec, req)
	res := rec.Result()
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return res
}

func bodyOf(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf reads the CSRF token a page's forms carry.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	require.NotNil(t, m, "no csrf field in the page")
	return m[1]
}

func (b *browser) signIn(key string) *http.Response {
	b.t.Helper()
	tok := csrfOf(b.t, bodyOf(b.t, b.do(http.MethodGet, "/console/login", nil)))
	return b.do(http.MethodPost, "/console/login", url.Values{"key": {key}, "csrf": {tok}})
}

func TestWithoutSessionEveryPageRedirectsAndShowsNoData(t *testing.T) {
	b := newBrowser(t)
	for _, p := range []string{"/console/", "/console/apps", "/console/apps/1400000001/certificates", "/console/trace?userId=alice", "/console/nowhere"} {
		res := b.do(http.MethodGet, p, nil)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, p)
		loc, err := url.Parse(res.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "/console/login", loc.Path, p)
		require.NotContains(t, bodyOf(t, res), "secret-app-name", p)
	}
	res := b.do(http.MethodPost, "/console/logout", url.Values{"csrf": {"x"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
}

func TestSignInSetsAStrictHttpOnlyCookieAndShowsPages(t *testing.T) {
	b := newBrowser(t)
	res := b.signIn(testKey)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/console/apps", res.Header.Get("Location"))
	c := b.cookies[cookieName]
	require.NotNil(t, c)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Equal(t, "/console/", c.Path)
	require.Equal(t, int(DefaultSessionTTL/time.Second), c.MaxAge)
	require.NotContains(t, c.Value, testKey)

	page := bodyOf(t, b.do(http.MethodGet, "/console/apps", nil))
	require.Contains(t, page, "secret-app-name")
	require.NotContains(t, page, testKey)
	require.NotContains(t, page, c.Value, "the session ID is never on a page")

	*b.now = b.now.Add(DefaultSessionTTL)
	res = b.do(http.MethodGet, "/console/apps", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "the session expired")
}

func TestSignInNeedsTheFormsToken(t *testing.T) {
	b := newBrowser(t)
	res := b.do(http.MethodPost, "/console/login", url.Values{"key": {testKey}})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res = b.do(http.MethodPost, "/console/login", url.Values{"key": {testKey}, "csrf": {"1765022400.forged"}})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Empty(t, b.cookies)

	tok := csrfOf(t, bodyOf(t, b.do(http.MethodGet, "/console/login", nil)))
	*b.now = b.now.Add(loginTokenTTL + time.Second)
	res = b.do(http.MethodPost, "/console/login", url.Values{"key": {testKey}, "csrf": {tok}})
	require.Equal(t, http.StatusForbidden, res.StatusCode, "a sign-in form older than an hour")
}

func TestFailedSignInsAreRateLimitedPerAddress(t *testing.T) {
	b := newBrowser(t)
	for i := range loginBurst {
		require.Equal(t, http.StatusUnauthorized, b.signIn("wrong-key-"+string(rune('a'+i))).StatusCode, "attempt %d", i)
	}
	res := b.signIn(testKey)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "limited: not even the right key is tried")
	require.Equal(t, "12", res.Header.Get("Retry-After"))
	require.Empty(t, b.cookies)

	other := newBrowser(t)
	other.c, other.now = b.c, b.now
	other.remote = "198.51.100.9:1"
	require.Equal(t, http.StatusSeeOther, other.signIn(testKey).StatusCode, "another address is not limited")

	*b.now = b.now.Add(loginRefill)
	require.Equal(t, http.StatusSeeOther, b.signIn(testKey).StatusCode, "one more try after the refill")
}

func TestFormsNeedTheSessionsCSRFToken(t *testing.T) {
	b := newBrowser(t)
	b.signIn(testKey)
	page := bodyOf(t, b.do(http.MethodGet, "/console/apps", nil))
	tok := csrfOf(t, page)

	res := b.do(http.MethodPost, "/console/logout", url.Values{"csrf": {"forged"}})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res = b.do(http.MethodPost, "/console/logout", nil)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Equal(t, http.StatusOK, b.do(http.MethodGet, "/console/apps", nil).StatusCode, "still signed in")

	res = b.do(http.MethodPost, "/console/logout", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Empty(t, b.cookies, "the cookie is cleared")
	res = b.do(http.MethodGet, "/console/apps", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.NotContains(t, bodyOf(t, res), "secret-app-name")
}

func TestSignInGoesBackToConsolePagesOnly(t *testing.T) {
	for next, want := range map[string]string{
		"/console/trace?userId=alice": "/console/trace?userId=alice",
		"//evil.example/console/":     "/console/apps",
		"https://evil.example/":       "/console/apps",
		"/console/..//evil.example":   "/console/apps",
	} {
		b := newBrowser(t)
		tok := csrfOf(t, bodyOf(t, b.do(http.MethodGet, "/console/login", nil)))
		res := b.do(http.MethodPost, "/console/login", url.Values{"key": {testKey}, "csrf": {tok}, "next": {next}})
		require.Equal(t, want, res.Header.Get("Location"), next)
	}
}

func TestPagesCarrySecurityHeaders(t *testing.T) {
	b := newBrowser(t)
	res := b.do(http.MethodGet, "/console/login", nil)
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	res = b.do(http.MethodGet, "/console/static/console.css", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, bodyOf(t, res), "--accent")
}
