package console_test

import (
	"fmt"
	"maps"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// hostile are inputs that would run script if a page printed them raw; escaped are what
// html/template makes of them, in text and in quoted attributes.
var (
	hostile = []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`}
	escaped = []string{`&lt;script&gt;alert(1)&lt;/script&gt;`, `&#34;&gt;&lt;img src=x onerror=alert(1)&gt;`}
	raw     = []string{`<script>alert(`, `<img src=x`}
)

// TestHostileInputInEveryFieldIsEscaped posts each hostile input into each field of each apps
// and certificates form — whether the relay keeps the value (an app's name, a sender ID) or
// refuses it and the page says why — and requires every page to show it escaped, never raw.
func TestHostileInputInEveryFieldIsEscaped(t *testing.T) {
	r := startRelay(t)
	p := newPerson(t, r.URL)
	tok := p.SignIn(adminKey)
	app := func(id int) url.Values {
		return url.Values{"csrf": {tok}, "sdkAppId": {fmt.Sprint(id)}, "name": {"Demo"}, "secretKey": {appSecret}, "loginPolicy": {"multi"}}
	}
	cert := url.Values{"csrf": {tok}, "packageName": {"com.example.im"}, "api": {"legacy"}, "serverKey": {serverKey}}
	_, page := p.Post("/console/apps", app(1400000001))
	require.Contains(t, page, "App 1400000001 created")
	_, page = p.Post("/console/apps/1400000001/certificates", cert)
	require.Contains(t, page, "Certificate 1 created")

	forms := []struct {
		path   string
		base   url.Values
		fields []string
		// secret fields are write-only: refused or kept, never shown.
		secret []string
	}{
		{"/console/apps", app(0), []string{"sdkAppId", "name", "loginPolicy", "perMinute", "perHour", "burst", "refill"}, []string{"secretKey"}},
		{"/console/apps/1400000001", app(1400000001), []string{"name", "loginPolicy", "perMinute", "perHour", "burst", "refill"}, []string{"secretKey"}},
		{"/console/apps/1400000001/certificates", cert, []string{"id", "packageName", "senderId", "endpoint", "channelId", "api"}, []string{"serverKey"}},
		{"/console/apps/1400000001/certificates/1", cert, []string{"packageName", "senderId", "endpoint", "channelId", "api"}, nil},
	}
	next := 1400000100
	for _, f := range forms {
		for _, field := range append(f.fields, f.secret...) {
			for i, h := range hostile {
				form := maps.Clone(f.base)
				if f.path == "/console/apps" && field != "sdkAppId" {
					next++
					form.Set("sdkAppId", fmt.Sprint(next))
				}
				form.Set(field, h)
				status, page := p.Post(f.path, form)
				what := fmt.Sprintf("POST %s with %s=%s → %d", f.path, field, h, status)
				for _, s := range raw {
					require.NotContains(t, page, s, what)
				}
				if !strings.Contains(strings.Join(f.secret, " "), field) {
					require.Contains(t, page, escaped[i], what)
				}
			}
		}
	}
	for _, path := range []string{"/console/apps", "/console/apps/1400000001", "/console/apps/1400000001/certificates",
		"/console/apps/1400000001/certificates/1", "/console/apps/1400000001/delete", "/console/apps/1400000001/certificates/1/delete",
		"/console/apps/" + url.PathEscape(hostile[1]) + "/certificates"} {
		_, page := p.Get(path)
		for _, s := range raw {
			require.NotContains(t, page, s, path)
		}
	}
	_, page = p.Get("/console/apps")
	require.Contains(t, page, escaped[0], "a hostile app name is kept and shown, escaped")
}
