package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/browsertest"
	"github.com/pushlab/pushlab/relay"
)

// forgedPostJS builds a form of the console's with a wrong CSRF token and submits it, as a
// page that is not the console's own would.
const forgedPostJS = `(() => {
  const f = document.createElement("form");
  f.method = "post";
  f.action = %q;
  const i = document.createElement("input");
  i.type = "hidden"; i.name = "csrf"; i.value = "forged-token";
  f.appendChild(i);
  document.body.appendChild(f);
  f.submit();
})()`

// TestConsoleInBrowser drives the console in headless Chromium against a real relay: sign in
// through the form, create an app, add a certificate, read its ID off the page and find it in
// the admin API; a post with a forged CSRF token is refused (403) and deletes nothing; after
// signing out the certificates page is the sign-in page, with no certificate on it.
// PUSHLAB_SCREENSHOT=1 saves the certificates page as out/console-certificates.png.
func TestConsoleInBrowser(t *testing.T) {
	bctx := browsertest.New(t, 60*time.Second)
	r := startRelay(t)
	const app, pkg = "1400000042", "com.example.browser"
	type css = chromedp.CSS
	load := func(what string, steps ...chromedp.Action[chromedp.Void]) int {
		t.Helper()
		res, err := chromedp.RunResponse(bctx, steps...)
		require.NoError(t, err, what)
		return int(res.Status)
	}
	path := func() string {
		t.Helper()
		loc, err := chromedp.Run(bctx, chromedp.Location())
		require.NoError(t, err)
		u, err := url.Parse(loc)
		require.NoError(t, err)
		return u.Path
	}

	require.Equal(t, http.StatusOK, load("open the console", chromedp.Navigate(r.URL+"/console/apps/"+app+"/certificates")))
	require.Equal(t, "/console/login", path(), "not signed in: the sign-in page")
	require.NoError(t, chromedp.Do(bctx, chromedp.SendKeys(css(`input[name="key"]`), adminKey)))
	require.Equal(t, http.StatusNotFound, load("sign in", chromedp.Click(css(`.login button[type="submit"]`))),
		"signed in, back to the page asked for: the app does not exist yet")

	require.Equal(t, http.StatusOK, load("apps", chromedp.Navigate(r.URL+"/console/apps")))
	require.NoError(t, chromedp.Do(bctx,
		chromedp.SetValue(css(`input[name="sdkAppId"]`), app),
		chromedp.SetValue(css(`input[name="name"]`), "Browser demo"),
		chromedp.SendKeys(css(`input[name="secretKey"]`), appSecret),
	))
	require.Equal(t, http.StatusOK, load("create the app", chromedp.Click(css(`form[action="/console/apps"] button[type="submit"]`))))
	require.Equal(t, "/console/apps/"+app+"/certificates", path())

	require.NoError(t, chromedp.Do(bctx,
		chromedp.SetValue(css(`input[name="packageName"]`), pkg),
		chromedp.SetValue(css(`input[name="senderId"]`), "987654321"),
		chromedp.Click(css(`input[name="api"][value="legacy"]`)),
		chromedp.SendKeys(css(`input[name="serverKey"]`), serverKey),
	))
	require.Equal(t, http.StatusOK, load("add the certificate", chromedp.Click(css(`form[action$="/certificates"] button[type="submit"]`))))
	shown, err := chromedp.Run(bctx, chromedp.Text(css(`.created .cert-id`)))
	require.NoError(t, err)
	id, err := strconv.ParseInt(strings.TrimSpace(shown), 10, 64)
	require.NoError(t, err, "the page shows the certificate ID %q", shown)
	var certs struct {
		Certificates []relay.CertificateView `json:"certificates"`
	}
	require.NoError(t, r.Admin.Do(context.Background(), http.MethodGet, "/admin/v1/apps/"+app+"/certificates", nil, &certs))
	require.Len(t, certs.Certificates, 1)
	require.Equal(t, certs.Certificates[0].ID, id, "the ID on the page is the relay's")
	require.Equal(t, pkg, certs.Certificates[0].PackageName)
	row := fmt.Sprintf(`tr[data-cert-id="%d"] `, id)
	badge, err := chromedp.Run(bctx, chromedp.Text(css(row+`.badge`)))
	require.NoError(t, err)
	require.Equal(t, certs.Certificates[0].Check.Status, badge, "the check status as the API says it")
	endpoint, err := chromedp.Run(bctx, chromedp.Text(css(row+`td:nth-child(5)`)))
	require.NoError(t, err)
	require.Equal(t, "Google", endpoint)

	if os.Getenv("PUSHLAB_SCREENSHOT") == "1" {
		shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		out := filepath.Join("..", "..", "out", "console-certificates.png")
		require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
		require.NoError(t, os.WriteFile(out, shot, 0o644))
		t.Logf("screenshot: %s", out)
	}

	deletePath := fmt.Sprintf("/console/apps/%s/certificates/%d/delete", app, id)
	require.Equal(t, http.StatusForbidden, load("a forged post", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(forgedPostJS, deletePath))))
	require.NoError(t, r.Admin.Do(context.Background(), http.MethodGet, "/admin/v1/apps/"+app+"/certificates", nil, &certs))
	require.Len(t, certs.Certificates, 1, "the forged post deleted nothing")

	require.Equal(t, http.StatusOK, load("certificates", chromedp.Navigate(r.URL+"/console/apps/"+app+"/certificates")))
	require.Equal(t, http.StatusOK, load("sign out", chromedp.Click(css(`.signout button`))))
	require.Equal(t, "/console/login", path())
	require.Equal(t, http.StatusOK, load("certificates after sign-out", chromedp.Navigate(r.URL+"/console/apps/"+app+"/certificates")))
	require.Equal(t, "/console/login", path(), "signed out: the sign-in page")
	body, err := chromedp.Run(bctx, chromedp.Text(css(`body`)))
	require.NoError(t, err)
	require.NotContains(t, body, pkg)
	require.NotContains(t, body, "987654321")
	n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll(".cert-id, table").length`))
	require.NoError(t, err)
	require.Zero(t, n, "no certificate data on the sign-in page")
}
