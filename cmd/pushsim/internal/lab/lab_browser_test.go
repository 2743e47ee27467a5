package lab_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/browsertest"
	"github.com/pushlab/pushlab/scenarios"
)

// The round a person plays in the lab, in headless Chromium: two phones, alice's app killed, bob
// sends, alice's phone shows the notification with its badge, alice relaunches and the message
// comes by sync; the person ticks both, saves the session, and the saved scenario passes in the
// virtual world. PUSHLAB_SCREENSHOT=1 saves the page as out/lab-screenshot.png.
func TestLabRoundInBrowser(t *testing.T) {
	bctx := browsertest.New(t, 60*time.Second)
	tl := startLab(t)
	console := chromedp.Console(bctx)

	// wait polls a predicate of the page on every change of the DOM.
	wait := func(what, expr string) {
		t.Helper()
		_, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("waiting for %s: %v\nthe page says:\n%s", what, err, text)
		}
	}
	phone := func(id string) string { return fmt.Sprintf(`article[data-phone=%q]`, id) }
	// clickIn clicks in the page itself: the phones are drawn anew on every change, so a node
	// found by one call might be gone by the next.
	clickIn := func(sel string) {
		t.Helper()
		require.NoError(t, chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).click()`, sel))))
	}
	click := func(id, action string) {
		t.Helper()
		clickIn(phone(id) + fmt.Sprintf(` button[data-action=%q]`, action))
		wait(action+" to land", `document.body.dataset.busy === "0"`)
	}
	state := func(id string) string {
		return fmt.Sprintf(`(document.querySelector('%s [data-state]') || {textContent: ""}).textContent`, phone(id))
	}

	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(tl.URL), chromedp.WaitVisible("#add-phone")))
	for _, user := range []string{"alice", "bob"} {
		require.NoError(t, chromedp.Do(bctx, chromedp.SetValue("#new-user", user), chromedp.Click("#create-phone")))
		wait(user+"'s phone", fmt.Sprintf(`document.querySelector('%s') !== null`, phone(user+"-phone")))
		for _, a := range []string{"install", "launch", "login", "reportToken"} {
			click(user+"-phone", a)
		}
		wait(user+" logged in", state(user+"-phone")+`.startsWith("foreground, logged in")`)
	}

	click("alice-phone", "kill")
	wait("alice killed", state("alice-phone")+`.startsWith("not running")`)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.SetValue("#send-from", "bob-phone"), chromedp.SetValue("#send-to", "alice"),
		chromedp.SetValue("#send-text", "see you at 8"), chromedp.Click("#send-button")))
	notification := phone("alice-phone") + ` li.notification`
	wait("alice's notification", fmt.Sprintf(`[...document.querySelectorAll('%s')].some(li => li.textContent.includes("bob: see you at 8") && li.querySelector('[data-badge="1"]'))`, notification))
	wait("the relay's trace reason", fmt.Sprintf(`[...document.querySelectorAll('%s .reasons')].some(r => r.textContent.includes("pushed"))`, notification))

	click("alice-phone", "relaunch")
	synced := phone("alice-phone") + ` li.synced`
	wait("alice's synced message", fmt.Sprintf(`[...document.querySelectorAll('%s')].some(li => li.textContent.includes("bob: see you at 8"))`, synced))

	// Tick both, as the person expects them.
	for _, item := range []string{notification, synced} {
		clickIn(item + ` input[name="on"]`)
		wait("the tick to hold", fmt.Sprintf(`document.querySelector('%s input[name="on"]').checked && document.body.dataset.busy === "0"`, item))
	}
	require.NoError(t, chromedp.Do(bctx, chromedp.Click("#save-scenario")))
	wait("the scenario", `document.getElementById("scenario-yaml").value.includes("steps:")`)
	saved, err := chromedp.Run(bctx, chromedp.Value("#scenario-yaml"))
	require.NoError(t, err)
	require.Contains(t, saved, "push:")
	require.Contains(t, saved, "synced:")

	if os.Getenv("PUSHLAB_SCREENSHOT") == "1" {
		shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		out := filepath.Join("..", "..", "..", "..", "out", "lab-screenshot.png")
		require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
		require.NoError(t, os.WriteFile(out, shot, 0o644))
		t.Logf("screenshot: %s", out)
	}

	sc, err := scenarios.Parse("lab-session.yaml", []byte(saved))
	require.NoError(t, err, saved)
	out := scenarios.Run(context.Background(), sc, scenarios.Options{Seed: 1})
	require.True(t, out.Passed, "the saved session replays in the virtual world:\n%s\nerror: %s\nexpectations: %+v\nsteps: %+v", saved, out.Error, out.Expectations, out.Steps)
	require.Len(t, out.Expectations, 2)

	// No error on the console, no uncaught exception.
	require.NoError(t, chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](`console.info("lab test: console read up to here")`)))
	var problems []string
	for m, err := range console {
		require.NoError(t, err)
		if m.Type == chromedp.ConsoleInfo && m.Text == "lab test: console read up to here" {
			break
		}
		if m.Type == chromedp.ConsoleError || m.IsException() {
			problems = append(problems, m.URL+": "+m.String())
		}
	}
	require.Empty(t, problems, "console errors and uncaught exceptions")
}
