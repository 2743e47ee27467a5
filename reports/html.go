package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"sort"
)

// HTML renders the report as one self-contained page (inline CSS, no external assets).
func HTML(r *Report) ([]byte, error) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, view(r)); err != nil {
		return nil, fmt.Errorf("render html: %w", err)
	}
	return buf.Bytes(), nil
}

// htmlView orders what the page shows: failed scenarios first.
type htmlView struct {
	*Report
	Ordered []Scenario
	Reasons []reasonCount
}

type reasonCount struct {
	Reason string
	Count  int
}

func view(r *Report) htmlView {
	v := htmlView{Report: r, Ordered: append([]Scenario(nil), r.Scenarios...)}
	sort.SliceStable(v.Ordered, func(i, j int) bool { return !v.Ordered[i].Passed && v.Ordered[j].Passed })
	for k, n := range r.Totals.Reasons {
		v.Reasons = append(v.Reasons, reasonCount{k, n})
	}
	sort.Slice(v.Reasons, func(i, j int) bool {
		if v.Reasons[i].Count != v.Reasons[j].Count {
			return v.Reasons[i].Count > v.Reasons[j].Count
		}
		return v.Reasons[i].Reason < v.Reasons[j].Reason
	})
	return v
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"sec": func(ms int64) string { return fmt.Sprintf("%.3fs", float64(ms)/1000) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pushsim report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2430}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.pass{color:#137333}.fail{color:#c5221f}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d8dde6;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f3f5f8}code{background:#f3f5f8;padding:1px 4px}
tr.failed td{background:#fce8e6}
</style></head><body>
<h1>pushsim report — <span class="{{if eq .Totals.Failed 0}}pass{{else}}fail{{end}}">{{.Totals.Passed}} passed, {{.Totals.Failed}} failed</span></h1>
<p>Seed <code>{{.Run.Seed}}</code>, mode {{.Run.Mode}}. Replay: <code>{{.Run.Replay}}</code></p>
<p>Expectations held: {{.Totals.Held}} of {{.Totals.Expectations}}. Pushes sent {{.Totals.PushesSent}}, delivered {{.Totals.PushesDelivered}} ({{pct .Totals.DeliveryRatio}}), duplicates {{.Totals.Duplicates}}.
Push latency p50 {{.Totals.PushLatencyMs.P50}} ms, p90 {{.Totals.PushLatencyMs.P90}} ms, p99 {{.Totals.PushLatencyMs.P99}} ms.</p>
<table><tr><th>push decisions by reason</th><th>count</th></tr>{{range .Reasons}}<tr><td>{{.Reason}}</td><td>{{.Count}}</td></tr>{{end}}</table>
{{range .Ordered}}
<h2 class="{{if .Passed}}pass{{else}}fail{{end}}">{{if .Passed}}✔{{else}}✘{{end}} {{.Name}}</h2>
<p><code>{{.File}}</code> — {{sec .DurationMs}}{{if .Error}} — <span class="fail">{{.Error}}</span>{{end}}</p>
<table><tr><th>step</th><th>at</th><th>what</th><th>outcome</th></tr>
{{range .Steps}}<tr{{if .Error}} class="failed"{{end}}><td>{{.Index}} (line {{.Line}})</td><td>{{sec .AtMs}}</td><td>{{.Text}}</td><td>{{.Error}}</td></tr>{{end}}
</table>
<table><tr><th>expectation</th><th>held</th><th>seen</th></tr>
{{range .Expectations}}<tr{{if not .Held}} class="failed"{{end}}><td>step {{.Step}}: {{.Text}}</td><td>{{if .Held}}yes{{else}}NO{{end}}</td><td>{{.Seen}}</td></tr>{{end}}
</table>
{{end}}
</body></html>
`))
