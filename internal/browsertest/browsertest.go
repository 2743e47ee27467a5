// Package browsertest starts headless Chromium for the tests that drive pages in a real browser
// (the run report, the relay's console, pushsim's device lab).
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// SkipEnv, set to 1, skips the browser tests instead of failing them without Chromium.
const SkipEnv = "PUSHLAB_NO_BROWSER"

// Chromium finds Debian's chromium. Without it the test fails, unless PUSHLAB_NO_BROWSER=1 says
// to skip it.
func Chromium(t testing.TB) string {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skip(SkipEnv + "=1: this test needs a browser")
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run `apt-get install chromium` (as root, or with sudo), " +
		"or set " + SkipEnv + "=1 to skip the browser tests")
	return ""
}

// New starts a headless Chromium for the test and answers a browser context that lives until
// the test ends or timeout passes. Each call is a browser of its own: no cookies are shared.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	chromium := Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // containers and root: no user namespaces for the sandbox
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	return bctx
}
