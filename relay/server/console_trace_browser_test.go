package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/browsertest"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// tracePageFacts is what a person sees of the trace page, as the browser lays it out.
type tracePageFacts struct {
	// Rows are the table's rows: their reason badge and their words.
	Rows []struct{ Reason, Words string }
	// Checklist are the checklist's items as shown; Beside says it is laid out to the right
	// of the table.
	Checklist []string
	Beside    bool
	Path      string
}

const tracePageFactsJS = `(() => {
  const table = document.querySelector("#trace"), aside = document.querySelector("aside.checklist");
  const t = table.getBoundingClientRect(), a = aside.getBoundingClientRect();
  return {
    Rows: [...table.querySelectorAll("tbody tr")].map(tr => ({
      Reason: tr.querySelector("code.reason").innerText,
      Words: tr.querySelector("td.words").innerText,
    })),
    Checklist: [...aside.querySelectorAll("li")].map(li => li.innerText.replace(/\s+/g, " ").trim()),
    Beside: a.width > 0 && a.height > 0 && a.left >= t.right,
    Path: location.pathname + location.search,
  };
})()`

// TestConsoleTraceInBrowser: in headless Chromium, a person signs in through the form, filters
// the trace by a user who got a push, and reads the pushed and fcm-ok rows in plain words with
// the checklist beside them.
func TestConsoleTraceInBrowser(t *testing.T) {
	bctx := browsertest.New(t, 60*time.Second)
	// The traffic runs on a relay in a bubble (virtual time); the store it leaves is served by a
	// relay on loopback for the browser, on a clock that goes on from the bubble's (else the
	// trace's retention would find the bubble's entries years old).
	store := relay.NewMemoryStore()
	var end time.Time
	synctest.Test(t, func(t *testing.T) {
		_, alice, bob := startWithOnePush(t, store)
		bob.conn.Close()
		alice.conn.Close()
		end = time.Now()
	})
	wall := time.Now()
	l, err := Listen(context.Background(), "127.0.0.1:0", Config{Store: store, Sender: &fakeSender{}, AdminKey: secret.New(adminKey),
		Clock: func() time.Time { return end.Add(time.Since(wall)) }})
	require.NoError(t, err)
	t.Cleanup(func() { l.Shutdown(context.Background()) })

	console := chromedp.Console(bctx)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(l.URL+"/console/trace"),
		chromedp.WaitVisible(`input[name="key"]`),
		chromedp.SendKeys(`input[name="key"]`, adminKey),
		chromedp.Submit(`input[name="key"]`),
		chromedp.WaitVisible(`form.filters input[name="userId"]`),
		chromedp.SendKeys(`form.filters input[name="userId"]`, "alice"),
		chromedp.Submit(`form.filters input[name="userId"]`),
		// The filtered page, not the one the form was typed in: only the server writes the
		// value attribute.
		chromedp.WaitVisible(`form.filters input[name="userId"][value="alice"]`),
		chromedp.WaitVisible(`#trace tbody tr`),
	))
	facts, err := chromedp.Run(bctx, chromedp.Evaluate[tracePageFacts](tracePageFactsJS))
	require.NoError(t, err)

	require.Contains(t, facts.Path, "userId=alice", "the filter form's query")
	require.Len(t, facts.Rows, 2)
	require.Equal(t, relay.ReasonFCMOK, facts.Rows[0].Reason, "newest first")
	require.Contains(t, facts.Rows[0].Words, "FCM accepted the push as projects/demo/messages/1")
	require.Equal(t, relay.ReasonPushed, facts.Rows[1].Reason)
	require.Contains(t, facts.Rows[1].Words, "pushed: the device was logged in with its connection gone, so the relay handed the message to FCM")
	require.True(t, facts.Beside, "the checklist is beside the table")
	require.Len(t, facts.Checklist, 5)
	require.Contains(t, facts.Checklist[1], fmt.Sprintf("Token reported? yes bound: alice-phone → certificate %d", certID))
	require.Contains(t, facts.Checklist[4], "fcm-ok at")

	// Everything the page said is before a message of the test's own.
	const done = "pushlab console test: console read up to here"
	require.NoError(t, chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf("console.info(%q)", done))))
	var problems []string
	for m, err := range console {
		require.NoError(t, err, "reading the console")
		if m.Type == chromedp.ConsoleInfo && m.Text == done {
			break
		}
		// The console serves no icon (the layout names none), and Chromium asks for one anyway.
		if (m.Type == chromedp.ConsoleError || m.IsException()) && !strings.HasSuffix(m.URL, "/favicon.ico") {
			problems = append(problems, fmt.Sprintf("%s:%d: %s", m.URL, m.Line+1, m))
		}
	}
	require.Empty(t, problems, "console errors (a refused style or script among them) and uncaught exceptions")
}
