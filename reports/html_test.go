package reports

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// parseHTML renders the report and parses the page as a browser would.
func parseHTML(t *testing.T, r *Report) *html.Node {
	t.Helper()
	out, err := HTML(r)
	require.NoError(t, err)
	doc, err := html.Parse(bytes.NewReader(out))
	require.NoError(t, err)
	return doc
}

// walk calls fn on every element under n, in document order.
func walk(n *html.Node, fn func(*html.Node)) {
	if n.Type == html.ElementNode {
		fn(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	return slices.Contains(strings.Fields(v), class)
}

// text is the text under n.
func text(n *html.Node) string {
	var b strings.Builder
	var rec func(*html.Node)
	rec = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			rec(c)
		}
	}
	rec(n)
	return b.String()
}

func find(doc *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	walk(doc, func(n *html.Node) {
		if match(n) {
			out = append(out, n)
		}
	})
	return out
}

func TestHTMLFetchesNothing(t *testing.T) {
	doc := parseHTML(t, SampleReport())
	cssURL := regexp.MustCompile(`(?i)url\(\s*['"]?([^)'"]*)`)
	walk(doc, func(n *html.Node) {
		switch n.DataAtom {
		case atom.Link, atom.Img, atom.Iframe, atom.Object, atom.Embed, atom.Video, atom.Audio, atom.Source, atom.Base:
			t.Errorf("<%s> element: the page must not load anything", n.Data)
		}
		for _, a := range n.Attr {
			key := strings.ToLower(a.Key)
			if a.Namespace != "" {
				key = a.Namespace + ":" + key
			}
			val := strings.TrimSpace(strings.ToLower(a.Val))
			switch key {
			case "src", "srcset", "action", "formaction", "poster", "data", "background", "xlink:href", "xlink href":
				t.Errorf("<%s %s=%q>: the page must not load anything", n.Data, a.Key, a.Val)
			case "href":
				if !strings.HasPrefix(val, "#") {
					t.Errorf("<%s href=%q>: only links within the page", n.Data, a.Val)
				}
			case "style":
				for _, m := range cssURL.FindAllStringSubmatch(val, -1) {
					if !strings.HasPrefix(m[1], "#") {
						t.Errorf("<%s style=%q>: loads %s", n.Data, a.Val, m[1])
					}
				}
			}
			if strings.HasPrefix(val, "http:") || strings.HasPrefix(val, "https:") || strings.HasPrefix(val, "//") {
				t.Errorf("<%s %s=%q>: an external address", n.Data, a.Key, a.Val)
			}
		}
		if n.DataAtom == atom.Style || n.DataAtom == atom.Script {
			body := strings.ToLower(text(n))
			require.NotContains(t, body, "@import", "<%s> imports", n.Data)
			require.NotContains(t, body, "http:", "<%s> names an address", n.Data)
			require.NotContains(t, body, "https:", "<%s> names an address", n.Data)
			require.NotContains(t, body, "fetch(", "<%s> fetches", n.Data)
			for _, m := range cssURL.FindAllStringSubmatch(body, -1) {
				require.True(t, strings.HasPrefix(m[1], "#"), "<%s> loads %s", n.Data, m[1])
			}
		}
	})
}

func TestHTMLPutsFailuresFirstAndOpen(t *testing.T) {
	r := SampleReport()
	doc := parseHTML(t, r)

	scenarios := find(doc, func(n *html.Node) bool { return n.DataAtom == atom.Details && hasClass(n, "scenario") })
	require.Len(t, scenarios, len(r.Scenarios))
	var names []string
	for _, d := range scenarios {
		summary := summaryOf(d)
		names = append(names, text(summary))
		_, open := attr(d, "open")
		require.Equal(t, hasClass(d, "failed"), open, "failed scenarios open, passed ones collapsed: %s", text(summary))
	}
	// Failed ones first, each group in the run's order.
	require.Contains(t, names[0], sampleFailing)
	require.Contains(t, names[1], sampleSetup)
	require.Contains(t, names[2], sampleStepError)
	require.Contains(t, names[3], samplePassing)

	// The summary's list of failures comes before any scenario and names the failed
	// expectation and what was seen.
	failures := find(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == "failures" })
	require.Len(t, failures, 1)
	require.Contains(t, text(failures[0]), "expected "+sampleFailedText)
	require.Contains(t, text(failures[0]), "seen: "+sampleSeen)
	require.Contains(t, text(failures[0]), "certificate 6768: <refused>")
	require.Contains(t, text(failures[0]), "2002 UserSig forged")
	all := find(doc, func(n *html.Node) bool { return n == failures[0] || n == scenarios[0] })
	require.Equal(t, failures[0], all[0], "failures are listed before the scenarios")

	// In the scenario table too.
	rows := find(doc, func(n *html.Node) bool {
		return n.DataAtom == atom.Tr && n.Parent != nil && hasAncestorID(n, "scenario-table")
	})
	require.Contains(t, text(rows[1]), sampleFailing, "first row after the header")
	require.Contains(t, text(rows[len(rows)-1]), samplePassing)
}

// summaryOf is the summary of a details element.
func summaryOf(details *html.Node) *html.Node {
	for c := details.FirstChild; c != nil; c = c.NextSibling {
		if c.DataAtom == atom.Summary {
			return c
		}
	}
	return &html.Node{}
}

func hasAncestorID(n *html.Node, id string) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if v, _ := attr(p, "id"); v == id {
			return true
		}
	}
	return false
}

func TestHTMLShowsSeedAndReplayCommand(t *testing.T) {
	doc := parseHTML(t, SampleReport())
	replay := find(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == "replay" })
	require.Len(t, replay, 1)
	require.Equal(t, sampleReplay, text(replay[0]))
	seed := find(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == "seed" })
	require.Len(t, seed, 1)
	require.Equal(t, "7", text(seed[0]))
}

func TestHTMLTimelineHasALanePerDeviceAndMarksTheFailure(t *testing.T) {
	r := SampleReport()
	doc := parseHTML(t, r)
	for _, s := range r.Scenarios {
		details := find(doc, func(n *html.Node) bool {
			return n.DataAtom == atom.Details && hasClass(n, "scenario") && strings.Contains(text(summaryOf(n)), s.Name)
		})
		require.Len(t, details, 1, s.Name)
		svgs := find(details[0], func(n *html.Node) bool { return n.DataAtom == atom.Svg && hasClass(n, "timeline") })
		require.Len(t, svgs, 1, s.Name)
		var lanes []string
		for _, n := range find(svgs[0], func(n *html.Node) bool { _, ok := attr(n, "data-lane"); return ok }) {
			v, _ := attr(n, "data-lane")
			lanes = append(lanes, v)
		}
		want := []string{"relay", "fakefcm"}
		for _, d := range s.Devices {
			want = append(want, "device:"+d.ID)
		}
		require.Equal(t, want, lanes, s.Name)

		marks := find(svgs[0], func(n *html.Node) bool { _, ok := attr(n, "data-failed-expectation"); return ok })
		failed := 0
		for _, e := range s.Expectations {
			if !e.Held {
				failed++
			}
		}
		require.Len(t, marks, failed, "one label per failed expectation: %s", s.Name)
		for _, m := range marks {
			require.Contains(t, text(m), "step 7: "+shorten(sampleFailedText, 80))
		}
	}
}

func TestHTMLEscapesWhatScenariosSay(t *testing.T) {
	r := SampleReport()
	doc := parseHTML(t, r)
	// The failed expectation says "<b>hi</b>": text on the page, never markup.
	require.Empty(t, find(doc, func(n *html.Node) bool { return n.DataAtom == atom.B && text(n) == "hi" }))
	items := find(doc, func(n *html.Node) bool { return hasClass(n, "failed-expectation") })
	require.NotEmpty(t, items)
	require.True(t, slices.ContainsFunc(items, func(n *html.Node) bool { return strings.Contains(text(n), `"<b>hi</b>"`) }))
	// And in the SVG's tooltips.
	titles := find(doc, func(n *html.Node) bool { return n.Data == "title" && strings.Contains(text(n), "FAILED: step 7") })
	require.NotEmpty(t, titles)
	require.Contains(t, text(titles[0]), `"<b>hi</b>"`)
}

func TestHTMLOfAnEmptyRun(t *testing.T) {
	r := &Report{Schema: SchemaVersion, Run: Run{Replay: "pushsim run x"}}
	Complete(r)
	doc := parseHTML(t, r)
	require.Empty(t, find(doc, func(n *html.Node) bool { return n.DataAtom == atom.Details }))
}

// A broken invariant shows among the failures at the top, in its scenario's oracle table and as
// a mark with a label on the device's lane; a scenario the oracle watched without finding
// anything says so, and one it could not watch says why.
func TestHTMLShowsBrokenInvariants(t *testing.T) {
	r := SampleReport()
	doc := parseHTML(t, r)
	scenario := func(name string) *html.Node {
		d := find(doc, func(n *html.Node) bool {
			return n.DataAtom == atom.Details && hasClass(n, "scenario") && strings.Contains(text(summaryOf(n)), name)
		})
		require.Len(t, d, 1, name)
		return d[0]
	}
	byAttr := func(root *html.Node, name, class string) []*html.Node {
		return find(root, func(n *html.Node) bool {
			_, ok := attr(n, name)
			return ok && (class == "" || hasClass(n, class))
		})
	}
	want := "during step 4 (line 14), alice-phone, at 320ms: invariant broken: " + sampleInvariant + " — " + sampleEvidence

	top := find(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == "failures" })
	require.Len(t, top, 1)
	listed := byAttr(top[0], "data-violation", "")
	require.Len(t, listed, 1)
	require.Equal(t, want, text(listed[0]))

	failing := scenario(sampleFailing)
	rows := find(failing, func(n *html.Node) bool { _, ok := attr(n, "data-violation"); return ok && n.DataAtom == atom.Tr })
	require.Len(t, rows, 1)
	for _, w := range []string{"14:5", "320ms", "alice-phone", sampleInvariant, sampleEvidence} {
		require.Contains(t, text(rows[0]), w)
	}
	svg := find(failing, func(n *html.Node) bool { return n.DataAtom == atom.Svg && hasClass(n, "timeline") })[0]
	require.Len(t, find(svg, func(n *html.Node) bool { return n.Data == "path" && hasClass(n, "violation") }), 1)
	labels := byAttr(svg, "data-violation", "fail-label")
	require.Len(t, labels, 1)
	require.Contains(t, text(labels[0]), "⚠ "+sampleInvariant)

	require.Len(t, find(scenario(samplePassing), func(n *html.Node) bool { return hasClass(n, "oracle-held") }), 1)
	notRun := find(scenario(sampleStepError), func(n *html.Node) bool { return hasClass(n, "oracle-not-run") })
	require.Len(t, notRun, 1)
	require.Equal(t, "Not run: "+sampleNoTap, text(notRun[0]))

	figure := find(doc, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == "oracle-figure" })
	require.Len(t, figure, 1)
	require.Equal(t, "1invariants broken (the oracle watched 2 of 3 scenarios)", text(figure[0]))
}
