package console

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/console/consoletest"
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

// browser is a browser of a console on a clock the test moves.
type browser struct {
	*consoletest.Browser
	c   *Console
	now *time.Time
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	c, err := New(Config{AdminKey: secret.New(testKey), API: appsOnly{}, Now: func() time.Time { return now }})
	require.NoError(t, err)
	return &browser{Browser: consoletest.InProcess(t, c, "192.0.2.7:5555"), c: c, now: &now}
}

// cookieOf answers the session cookie a response sets, nil for none.
func cookieOf(res consoletest.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

func TestWithoutSessionEveryPageRedirectsAndShowsNoData(t *testing.T) {
	b := newBrowser(t)
	for _, p := range []string{"/console/", "/console/apps", "/console/apps/1400000001/certificates", "/console/trace?userId=alice", "/console/nowhere"} {
		res := b.Do(http.MethodGet, p, nil)
		require.Equal(t, http.StatusSeeOther, res.StatusCode, p)
		loc, err := url.Parse(res.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "/console/login", loc.Path, p)
		require.NotContains(t, res.Page, "secret-app-name", p)
	}
	res := b.Do(http.MethodPost, "/console/logout", url.Values{"csrf": {"x"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
}

func TestSignInSetsAStrictHttpOnlyCookieAndShowsPages(t *testing.T) {
	b := newBrowser(t)
	res := b.SignInAs(testKey)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/console/apps", res.Header.Get("Location"))
	c := cookieOf(res)
	require.NotNil(t, c)
	require.Equal(t, c.Value, b.Cookie(), "the browser keeps it")
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Equal(t, "/console/", c.Path)
	require.Equal(t, int(DefaultSessionTTL/time.Second), c.MaxAge)
	require.NotContains(t, c.Value, testKey)

	page := b.Do(http.MethodGet, "/console/apps", nil).Page
	require.Contains(t, page, "secret-app-name")
	require.NotContains(t, page, testKey)
	require.NotContains(t, page, c.Value, "the session ID is never on a page")

	*b.now = b.now.Add(DefaultSessionTTL)
	res = b.Do(http.MethodGet, "/console/apps", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "the session expired")
}

func TestSignInNeedsTheFormsToken(t *testing.T) {
	b := newBrowser(t)
	res := b.Do(http.MethodPost, "/console/login", url.Values{"key": {testKey}})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res = b.Do(http.MethodPost, "/console/login", url.Values{"key": {testKey}, "csrf": {"1765022400.forged"}})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Empty(t, b.Cookie())

	tok := consoletest.CSRF(t, b.Do(http.MethodGet, "/console/login", nil).Page)
	*b.now = b.now.Add(loginTokenTTL + time.Second)
	res = b.Do(http.MethodPost, "/console/login", url.Values{"key": {testKey}, "csrf": {tok}})
	require.Equal(t, http.StatusForbidden, res.StatusCode, "a sign-in form older than an hour")
}

func TestFailedSignInsAreRateLimitedPerAddress(t *testing.T) {
	b := newBrowser(t)
	for i := range loginBurst {
		require.Equal(t, http.StatusUnauthorized, b.SignInAs("wrong-key-"+string(rune('a'+i))).StatusCode, "attempt %d", i)
	}
	res := b.SignInAs(testKey)
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "limited: not even the right key is tried")
	require.Equal(t, "12", res.Header.Get("Retry-After"))
	require.Empty(t, b.Cookie())

	other := consoletest.InProcess(t, b.c, "198.51.100.9:1")
	require.Equal(t, http.StatusSeeOther, other.SignInAs(testKey).StatusCode, "another address is not limited")

	*b.now = b.now.Add(loginRefill)
	require.Equal(t, http.StatusSeeOther, b.SignInAs(testKey).StatusCode, "one more try after the refill")
}

func TestFormsNeedTheSessionsCSRFToken(t *testing.T) {
	b := newBrowser(t)
	b.SignInAs(testKey)
	page := b.Do(http.MethodGet, "/console/apps", nil).Page
	tok := consoletest.CSRF(t, page)

	res := b.Do(http.MethodPost, "/console/logout", url.Values{"csrf": {"forged"}})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res = b.Do(http.MethodPost, "/console/logout", nil)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Equal(t, http.StatusOK, b.Do(http.MethodGet, "/console/apps", nil).StatusCode, "still signed in")

	res = b.Do(http.MethodPost, "/console/logout", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, -1, cookieOf(res).MaxAge)
	require.Empty(t, b.Cookie(), "the cookie is cleared")
	res = b.Do(http.MethodGet, "/console/apps", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.NotContains(t, res.Page, "secret-app-name")
}

func TestSignInGoesBackToConsolePagesOnly(t *testing.T) {
	for next, want := range map[string]string{
		"/console/trace?userId=alice": "/console/trace?userId=alice",
		"//evil.example/console/":     "/console/apps",
		"https://evil.example/":       "/console/apps",
		"/console/..//evil.example":   "/console/apps",
		"/console/\t/evil.example":    "/console/apps",
		"/console/\\evil.example":     "/console/apps",
	} {
		b := newBrowser(t)
		tok := consoletest.CSRF(t, b.Do(http.MethodGet, "/console/login", nil).Page)
		res := b.Do(http.MethodPost, "/console/login", url.Values{"key": {testKey}, "csrf": {tok}, "next": {next}})
		require.Equal(t, want, res.Header.Get("Location"), next)
	}
}

func TestPagesCarrySecurityHeaders(t *testing.T) {
	b := newBrowser(t)
	res := b.Do(http.MethodGet, "/console/login", nil)
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	res = b.Do(http.MethodGet, "/console/static/console.css", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.Page, "--accent")
}
