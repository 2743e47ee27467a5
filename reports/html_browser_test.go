package reports_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/browsertest"
	"github.com/pushlab/pushlab/reports"
)

// pageFacts is what the page shows, as the browser lays it out.
type pageFacts struct {
	// Failing expectation items on the page, those laid out visibly, and those whose every
	// enclosing <details> is open.
	Items, Visible, InOpenDetails int
	ScenarioID                    string
	FirstIsFailed                 bool
	// Lanes of the failing scenario's timeline; FailLabels its failure labels that have a size.
	Lanes      []string
	FailLabels []string
	// PassedOpen counts passing scenarios shown open; PassedTimelineVisible says whether the
	// passing scenario's timeline can be seen.
	PassedOpen            int
	PassedTimelineVisible bool
}

const pageFactsJS = `(() => {
  const want = %q;
  const items = [...document.querySelectorAll("details.scenario li.failed-expectation")]
    .filter(li => li.textContent.includes(want));
  const visible = el => {
    const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    return el.offsetParent !== null && r.width > 0 && r.height > 0 && cs.visibility !== "hidden" &&
      el.checkVisibility({contentVisibilityAuto: true, opacityProperty: true, visibilityProperty: true});
  };
  const allOpen = el => {
    for (let d = el.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) {
      if (!d.open) return false;
    }
    return el.closest("details") !== null;
  };
  const scenario = items.length ? items[0].closest("details.scenario") : null;
  const svg = scenario ? scenario.querySelector("svg.timeline") : null;
  const passed = document.querySelector("details.scenario:not(.failed) svg.timeline");
  return {
    Items: items.length,
    Visible: items.filter(visible).length,
    InOpenDetails: items.filter(allOpen).length,
    ScenarioID: scenario ? scenario.id : "",
    FirstIsFailed: document.querySelector("details.scenario").classList.contains("failed"),
    Lanes: svg ? [...svg.querySelectorAll("[data-lane]")].map(g => g.getAttribute("data-lane")) : [],
    FailLabels: svg ? [...svg.querySelectorAll("[data-failed-expectation]")]
      .filter(t => { const b = t.getBBox(); return b.width > 0 && b.height > 0; })
      .map(t => t.textContent) : [],
    PassedOpen: [...document.querySelectorAll("details.scenario:not(.failed)")].filter(d => d.open).length,
    PassedTimelineVisible: passed ? passed.checkVisibility({contentVisibilityAuto: true}) : true,
  };
})()`

// consoleDone marks the end of the page's console output for the test.
const consoleDone = "pushlab report test: console read up to here"

// TestReportInBrowser opens the report of a failing and a passing scenario in headless Chromium
// and checks what a person would see: no console errors, the failure visible without a click,
// and the failing scenario's timeline with one lane per device plus the relay and fakefcm.
// PUSHLAB_SCREENSHOT=1 saves the page as out/report-screenshot.png.
func TestReportInBrowser(t *testing.T) {
	bctx := browsertest.New(t, 60*time.Second)
	r := twoScenarioReport(t)
	page, err := reports.HTML(r)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), reports.HTMLFile)
	require.NoError(t, os.WriteFile(file, page, 0o644))

	// Subscribe before loading the page, so no message is missed.
	console := chromedp.Console(bctx)
	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate("file://"+file),
		chromedp.WaitVisible("#failures"),
		chromedp.WaitVisible("details.scenario.failed svg.timeline"),
	))
	facts, err := chromedp.Run(bctx, chromedp.Evaluate[pageFacts](fmt.Sprintf(pageFactsJS, failingExpect)))
	require.NoError(t, err)

	require.True(t, facts.FirstIsFailed, "the failing scenario comes first")
	require.Equal(t, 1, facts.Items, "the failing expectation is listed in its scenario")
	require.Equal(t, 1, facts.Visible, "the failing expectation is laid out visibly")
	require.Equal(t, 1, facts.InOpenDetails, "the failing scenario is open without a click")
	require.Equal(t, []string{"relay", "fakefcm", "device:alice-phone", "device:bob-phone"}, facts.Lanes,
		"one lane per device of the failing scenario, plus the relay and fakefcm")
	require.Len(t, facts.FailLabels, 1, "the failed expectation is marked on the timeline")
	require.Contains(t, facts.FailLabels[0], "step 4: "+failingExpect)
	require.Zero(t, facts.PassedOpen, "passing scenarios are collapsed")
	require.False(t, facts.PassedTimelineVisible, "a collapsed scenario's timeline is out of sight")

	if os.Getenv("PUSHLAB_SCREENSHOT") == "1" {
		shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		out := filepath.Join("..", "out", "report-screenshot.png")
		require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
		require.NoError(t, os.WriteFile(out, shot, 0o644))
		t.Logf("screenshot: %s", out)
	}

	// Read the console up to a message of the test's own: everything the page said is before it.
	require.NoError(t, chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf("console.info(%q)", consoleDone))))
	var problems []string
	for m, err := range console {
		require.NoError(t, err, "reading the console")
		if m.Type == chromedp.ConsoleInfo && m.Text == consoleDone {
			break
		}
		if m.Type == chromedp.ConsoleError || m.IsException() {
			problems = append(problems, fmt.Sprintf("%s:%d: %s", m.URL, m.Line+1, m))
		}
	}
	require.Empty(t, problems, "console errors and uncaught exceptions")
}
