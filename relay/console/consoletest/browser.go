// Package consoletest is what the relay console's tests share: a browser without JavaScript
// that signs in through the console's form and posts its forms with the session's CSRF token,
// and the checks that no page holds a secret.
package consoletest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/pushlab/pushlab/internal/httpserver"

	"github.com/stretchr/testify/require"
)

// CookieName is the console's session cookie.
const CookieName = "pushlab_console"

// Browser is a person at a console: it keeps the session cookie, does not follow redirects on
// its own (Do shows them; Get and Post follow them), and remembers every page it was answered.
type Browser struct {
	t    testing.TB
	base string
	hc   *http.Client
	// Pages are every body the browser was answered, in order.
	Pages []string
}

// Response is one answer: the response (its body read) and the body as text.
type Response struct {
	*http.Response
	Page string
}

// Location is where a redirect sends the browser; empty for any other answer.
func (r Response) Location() string { return r.Header.Get("Location") }

// New makes a browser of the console at base (such as "http://127.0.0.1:1234"), over rt (nil:
// the default transport).
func New(t testing.TB, base string, rt http.RoundTripper) *Browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &Browser{t: t, base: strings.TrimSuffix(base, "/"), hc: &http.Client{Transport: rt, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// InProcess is a browser of a handler, called in-process (no socket: it runs inside a
// testing/synctest bubble); requests come from remote.
func InProcess(t testing.TB, h http.Handler, remote string) *Browser {
	return New(t, "http://console.test", httpserver.InProcess{Handler: h, RemoteAddr: remote})
}

// Do makes one request (a form, when form is not nil, is posted url-encoded) and answers it
// as it came, a redirect included.
func (b *Browser) Do(method, path string, form url.Values) Response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.hc.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	page, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	b.Pages = append(b.Pages, string(page))
	return Response{Response: res, Page: string(page)}
}

// Open fetches a page without following a redirect, and answers its status and body.
func (b *Browser) Open(path string) (int, string) {
	b.t.Helper()
	res := b.Do(http.MethodGet, path, nil)
	return res.StatusCode, res.Page
}

// Get fetches a page, following redirects, and answers the last status and body.
func (b *Browser) Get(path string) (int, string) {
	b.t.Helper()
	return b.follow(b.Do(http.MethodGet, path, nil))
}

// Post submits a form, following the redirect after it, and answers the last status and body.
func (b *Browser) Post(path string, form url.Values) (int, string) {
	b.t.Helper()
	return b.follow(b.Do(http.MethodPost, path, form))
}

// follow follows a response's redirects, as a browser does after a form (with GET).
func (b *Browser) follow(res Response) (int, string) {
	b.t.Helper()
	for range 10 {
		loc := res.Location()
		if res.StatusCode/100 != 3 || loc == "" {
			return res.StatusCode, res.Page
		}
		u, err := res.Request.URL.Parse(loc)
		require.NoError(b.t, err)
		require.Equal(b.t, res.Request.URL.Host, u.Host, "a console redirect stays on the console's origin")
		res = b.Do(http.MethodGet, u.RequestURI(), nil)
	}
	b.t.Fatalf("more than 10 redirects from %s", res.Request.URL)
	return 0, ""
}

// SignIn signs in with key through the sign-in form, requires that it succeeds, and answers the
// CSRF token of the page it lands on.
func (b *Browser) SignIn(key string) string {
	b.t.Helper()
	res := b.SignInAs(key)
	require.Equal(b.t, http.StatusSeeOther, res.StatusCode, res.Page)
	require.NotEmpty(b.t, b.Cookie(), "a session cookie")
	status, page := b.follow(res)
	require.Equal(b.t, http.StatusOK, status, page)
	return CSRF(b.t, page)
}

// SignInAs fills in the sign-in form with key and answers the form's answer, unfollowed.
func (b *Browser) SignInAs(key string) Response {
	b.t.Helper()
	login := b.Do(http.MethodGet, "/console/login", nil)
	return b.Do(http.MethodPost, "/console/login", url.Values{"key": {key}, "csrf": {CSRF(b.t, login.Page)}})
}

// Cookie answers the session cookie's value, empty when there is none.
func (b *Browser) Cookie() string {
	u, err := url.Parse(b.base + "/console/")
	require.NoError(b.t, err)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == CookieName {
			return c.Value
		}
	}
	return ""
}

// csrfField is a form's CSRF field, as the console's templates write it.
func csrfField() *regexp.Regexp { return regexp.MustCompile(`name="csrf" value="([^"]+)"`) }

// CSRF reads the token a page's forms carry; a page without one fails the test.
func CSRF(t testing.TB, page string) string {
	t.Helper()
	m := csrfField().FindStringSubmatch(page)
	require.NotNil(t, m, "no csrf field in the page")
	return m[1]
}

// RequireNone requires that text holds none of secrets (empty ones are skipped: a cookie not
// yet set).
func RequireNone(t testing.TB, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" {
			require.NotContains(t, text, s)
		}
	}
}
