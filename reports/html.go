package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"slices"
	"strings"
)

// HTML renders the report as one self-contained page: inline CSS and SVG, nothing fetched, no
// script needed. The summary comes first, failures first; then each scenario, failed ones open,
// with its swimlane timeline.
func HTML(r *Report) ([]byte, error) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, newHTMLView(r)); err != nil {
		return nil, fmt.Errorf("render html: %w", err)
	}
	return buf.Bytes(), nil
}

//go:embed report.html.tmpl
var pageSource string

//go:embed swimlane.css
var swimlaneCSS string

// page is the report's template, parsed once; executing it does not change it.
var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"swimlaneCSS": func() template.CSS { return template.CSS(swimlaneCSS) },
	"clock":       clock,
	"eventText":   eventText,
	"pct":         func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"msf":         boundText,
	"opt": func(v *int64) string {
		if v == nil {
			return "–"
		}
		return clock(*v)
	},
}).Parse(pageSource))

// Swimlane renders a scenario's swimlane timeline alone — its SVG, after the arrow markers it
// refers to — for a page other than the report that draws a session in the report's visual
// language (pushsim's device lab). SwimlaneCSS is its stylesheet.
func Swimlane(s *Scenario) (template.HTML, error) {
	pushes := s.Pushes
	if pushes == nil {
		pushes = LinkPushes(s)
	}
	var buf bytes.Buffer
	buf.WriteString(`<svg width="0" height="0" style="position:absolute" aria-hidden="true" focusable="false"><defs>`)
	if err := page.ExecuteTemplate(&buf, "arrowDefs", nil); err != nil {
		return "", fmt.Errorf("render swimlane: %w", err)
	}
	buf.WriteString(`</defs></svg>`)
	if err := page.ExecuteTemplate(&buf, "timeline", buildTimeline(s, pushes)); err != nil {
		return "", fmt.Errorf("render swimlane: %w", err)
	}
	return template.HTML(buf.String()), nil //nolint:gosec // rendered by html/template, which escaped it
}

// SwimlaneCSS is the stylesheet of the swimlanes (the report's own).
func SwimlaneCSS() template.CSS { return template.CSS(swimlaneCSS) }

// htmlView is what the page shows, in the order it shows it.
type htmlView struct {
	Run    Run
	Totals Totals
	Failed bool
	// Scenarios are failed ones first, then in the run's order.
	Scenarios []scenarioView
	Histogram histogramChart
	Reasons   barChart
	Fates     barChart
	// OracleRan and OracleScenarios count the scenarios the invariant oracle watched and those
	// that have its outcome at all (run or not).
	OracleRan, OracleScenarios int
}

// scenarioView is one scenario with what the page derives from it.
type scenarioView struct {
	*Scenario
	// ID anchors the scenario on the page; Open says its details start open.
	ID     string
	Open   bool
	Wall   string
	Failed []Expectation
	Errors []Step
	// Violations are the invariant oracle's findings with the place of their steps.
	Violations []violationView
	Pushes     []Push
	Timeline   timeline
	Reasons    barChart
	Devices    []deviceView
}

// violationView is a broken invariant with where its step is in the file and when it was found.
type violationView struct {
	Violation
	Line, Column int
	When         string
}

// deviceView is a device's events with the lane they are drawn in.
type deviceView struct {
	Device
	Lane string
}

func newHTMLView(r *Report) htmlView {
	v := htmlView{Run: r.Run, Totals: r.Totals, Failed: r.Totals.Failed > 0,
		Histogram: buildHistogram(r.Totals.LatencyHistogram),
		Reasons:   buildBars(r.Totals.Reasons, reasonClass),
		Fates:     buildBars(r.Totals.Fates, fateClass)}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		pushes := s.Pushes
		if pushes == nil {
			pushes = LinkPushes(s) // a report not completed
		}
		sv := scenarioView{Scenario: s, ID: fmt.Sprintf("s%d", i+1), Open: !s.Passed, Pushes: pushes,
			Timeline: buildTimeline(s, pushes), Reasons: buildBars(s.Totals.Reasons, reasonClass)}
		if w, ok := r.Run.ScenarioWallSeconds[s.File]; ok {
			sv.Wall = fmt.Sprintf("%.3fs", w)
		}
		for _, e := range s.Expectations {
			if !e.Held {
				sv.Failed = append(sv.Failed, e)
			}
		}
		for _, st := range s.Steps {
			if st.Error != "" {
				sv.Errors = append(sv.Errors, st)
			}
		}
		for _, d := range s.Devices {
			sv.Devices = append(sv.Devices, deviceView{Device: d, Lane: "device:" + d.ID})
		}
		if o := s.Oracle; o != nil {
			steps := map[int]Step{}
			for _, st := range s.Steps {
				steps[st.Index] = st
			}
			for _, vi := range o.Violations {
				st := steps[vi.Step]
				sv.Violations = append(sv.Violations, violationView{Violation: vi, Line: st.Line, Column: st.Column, When: vi.When()})
			}
		}
		v.Scenarios = append(v.Scenarios, sv)
	}
	v.OracleRan, v.OracleScenarios = oracleRuns(r)
	slices.SortStableFunc(v.Scenarios, func(a, b scenarioView) int {
		switch {
		case a.Passed == b.Passed:
			return 0
		case !a.Passed:
			return -1
		}
		return 1
	})
	return v
}

// eventText says what a device event was, in words, for the event tables.
func eventText(e Event) string {
	var parts []string
	if e.Seq != 0 {
		parts = append(parts, fmt.Sprintf("message %d", e.Seq))
	}
	if e.Title != "" || e.Text != "" {
		parts = append(parts, quoted(e.Title, e.Text))
	}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	if e.LatencyMs != nil {
		parts = append(parts, "latency "+clock(*e.LatencyMs))
	}
	return strings.Join(parts, " · ")
}
