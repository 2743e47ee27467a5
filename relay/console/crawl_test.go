package console_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/console/consoletest"
)

// crawlLimit bounds the pages the crawler visits; the console of one app, one certificate pair
// and a few users has far fewer.
const crawlLimit = 300

// Full FCM tokens of the crawl's devices: pages may show them shortened, never whole.
const (
	alicePhoneToken = "fcm-token-crawl-alice-phone-0123456789-abcdefghijklmnopqrstuvwxyz"
	aliceWebToken   = "fcm-token-crawl-alice-web-0123456789-abcdefghijklmnopqrstuvwxyz"
	bobToken        = "fcm-token-crawl-bob-phone-0123456789-abcdefghijklmnopqrstuvwxyz"
)

// TestCrawlEveryConsolePage signs in, makes through the forms an app, a service-account and a
// legacy certificate, and gives it users with devices and traffic (logins, bindings, a push, a
// test push, a kick); then it follows every same-origin link under /console/ from the apps
// page, breadth-first, with GET only. Every page must answer 200 with the console's CSP and
// Cache-Control: no-store, every post form must carry the session's CSRF token, and no page —
// nor any page the forms answered — may hold the admin key, the app secret, a line of the
// private key, the server key, the session cookie or a whole FCM token.
func TestCrawlEveryConsolePage(t *testing.T) {
	r := startRelay(t)
	sa, keyLine := serviceAccount(t)
	p := newPerson(t, r.URL)
	tok := p.SignIn(adminKey)
	const app = "1400000001"

	for _, f := range []struct {
		path string
		form url.Values
	}{
		{"/console/apps", url.Values{"sdkAppId": {app}, "name": {"Crawl"}, "secretKey": {appSecret}, "loginPolicy": {"multi"}}},
		{"/console/apps/" + app + "/certificates", url.Values{"id": {"1"}, "packageName": {"com.example.im"}, "api": {"v1"},
			"serviceAccount": {sa}, "endpoint": {"http://127.0.0.1:1"}}},
		{"/console/apps/" + app + "/certificates", url.Values{"id": {"2"}, "packageName": {"com.example.legacy"}, "api": {"legacy"},
			"serverKey": {serverKey}, "endpoint": {"http://127.0.0.1:1"}}},
	} {
		f.form.Set("csrf", tok)
		status, page := p.Post(f.path, f.form)
		require.Equal(t, http.StatusOK, status, page)
	}

	// alice: a phone whose app was killed and a web app in the background, both bound; bob
	// online and bound, writing to alice (a push).
	phone := dialDevice(t, r.URL, "alice", "alice-phone", "android", alicePhoneToken)
	web := dialDevice(t, r.URL, "alice", "alice-web", "web", aliceWebToken)
	_, err := web.Do(context.Background(), relay.ClientFrame{Op: relay.OpBackground})
	require.NoError(t, err)
	require.NoError(t, phone.Drop())
	bob := dialDevice(t, r.URL, "bob", "bob-phone", "android", bobToken)
	_, err = bob.Do(context.Background(), relay.ClientFrame{Op: relay.OpSend, To: "alice", Text: "are you there?"})
	require.NoError(t, err)
	status, page := p.Post("/console/apps/"+app+"/users/bob/devices/bob-phone/test-push", url.Values{"csrf": {tok}, "title": {"crawl"}})
	require.Less(t, status, 500, page)
	require.Contains(t, page, "Test push to")
	status, page = p.Post("/console/apps/"+app+"/users/alice/kick", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Kicked 2 devices of alice")

	visited := crawl(t, p, "/console/apps")
	for _, want := range []string{"/console/apps/" + app + "/certificates/2/delete", "/console/trace",
		"/console/trace?sdkAppId=" + app + "&userId=alice",
		"/console/apps/" + app + "/users/alice", "/console/apps/" + app + "/users/bob"} {
		require.Contains(t, visited, want, "the crawl reached every kind of page")
	}

	cookie := p.Cookie()
	require.NotEmpty(t, cookie)
	secrets := []string{adminKey, appSecret, keyLine, "PRIVATE KEY", serverKey, cookie, alicePhoneToken, aliceWebToken, bobToken}
	for i, page := range p.Pages {
		for _, s := range secrets {
			require.NotContains(t, page, s, "page %d of %d", i, len(p.Pages))
		}
	}
}

// dialDevice logs a device of user in to the relay at base and reports its FCM token for
// certificate 2 (legacy: FCM at a closed port answers at once).
func dialDevice(t *testing.T, base, user, device, platform, token string) *client.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := client.Dial(ctx, base, client.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: 1400000001, UserID: user, Expire: time.Now().Add(time.Hour).Unix()})
	require.NoError(t, c.Login(ctx, 1400000001, user, sig, device, platform))
	_, err = c.Do(ctx, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: 2, Token: token})
	require.NoError(t, err)
	return c
}

var (
	hrefAttr = regexp.MustCompile(`href="([^"]*)"`)
	formTag  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	postAttr = regexp.MustCompile(`(?i)\bmethod="post"`)
	csrfAttr = regexp.MustCompile(`<input type="hidden" name="csrf" value="([^"]+)">`)
)

// crawl visits every console page reachable from start through links, breadth-first, and
// checks each; it answers the paths visited, in order. Static files (the style sheet and the
// script) are fetched too: they carry the CSP, and hold no data, so they may be cached.
func crawl(t *testing.T, p *consoletest.Browser, start string) []string {
	t.Helper()
	queue, seen := []string{start}, map[string]bool{start: true}
	var visited []string
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		require.Less(t, len(visited), crawlLimit, "the crawl is bounded")
		visited = append(visited, path)
		res := p.Do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, "GET %s: %s", path, res.Page)
		require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'self'", "GET %s", path)
		if strings.HasPrefix(path, "/console/static/") {
			continue
		}
		require.Equal(t, "no-store", res.Header.Get("Cache-Control"), "GET %s", path)
		for _, f := range formTag.FindAllStringSubmatch(res.Page, -1) {
			if postAttr.MatchString(f[1]) {
				require.Regexp(t, csrfAttr, f[2], "GET %s: a post form without the session's CSRF token: <form%s>", path, f[1])
			}
		}
		for _, m := range hrefAttr.FindAllStringSubmatch(res.Page, -1) {
			next, ok := consoleLink(t, res.Request.URL, html.UnescapeString(m[1]))
			if ok && !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	require.True(t, slices.Contains(visited, "/console/static/console.css"))
	return visited
}

// consoleLink resolves a link of a page at base and answers its path and query when it is a
// console page on the same origin to GET (sign-out is a form, never a link, and is skipped).
func consoleLink(t *testing.T, base *url.URL, href string) (string, bool) {
	t.Helper()
	u, err := base.Parse(href)
	require.NoError(t, err, "href %q", href)
	if u.Scheme != base.Scheme || u.Host != base.Host || !strings.HasPrefix(u.Path, "/console/") || u.Path == "/console/logout" {
		return "", false
	}
	return fmt.Sprint(u.RequestURI()), true
}
