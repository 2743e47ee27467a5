package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/browsertest"
)

// TestConsoleTestPushInBrowser signs in to a live relay's console in headless Chromium, opens a
// user's page, sends a test push from it through fakefcm and reads FCM's answer: what a person
// checking "is this phone reachable?" does. A hostile title is shown as text, never run.
func TestConsoleTestPushInBrowser(t *testing.T) {
	bctx := browsertest.New(t, 60*time.Second)
	l := startLive(t, plainHTTP)
	p := l.phone("alice", "alice-phone")
	hostile := `"><img src=x onerror="window.pwned=1">`

	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(l.relay.URL+"/console/login"),
		chromedp.SendKeys(`input[name="key"]`, adminKey),
		chromedp.Submit(`input[name="key"]`),
		chromedp.WaitVisible(`nav`),
		chromedp.Navigate(fmt.Sprintf("%s/console/users", l.relay.URL)),
		chromedp.SendKeys(`input[name="user"]`, "alice"),
		chromedp.Submit(`input[name="user"]`),
		chromedp.WaitVisible(`table.devices`),
		chromedp.Click(`details.testpush summary`),
		chromedp.SendKeys(`details.testpush input[name="title"]`, hostile),
		chromedp.Click(`details.testpush button`),
		chromedp.WaitVisible(`section.result`),
	))
	result, err := chromedp.Run(bctx, chromedp.Text(`section.result`))
	require.NoError(t, err)
	require.Contains(t, result, "fcm-ok")
	require.Contains(t, result, "FCM accepted the push: it is on its way to the device.")
	require.Contains(t, result, hostile, "the title is shown as typed, as text")
	pwned, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.pwned === 1`))
	require.NoError(t, err)
	require.False(t, pwned)
	require.Equal(t, hostile, p.push().Notification.Title, "the phone got the test push")
}
