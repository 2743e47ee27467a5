package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
)

// LoadHTMLFile is the page pushsim load writes beside report.json.
const LoadHTMLFile = "load.html"

// LoadHTML renders a load run as one self-contained page: the figures, then the time series of
// connected phones, messages and pushes per second, and the push latency's p99, each as an
// inline SVG line chart.
func LoadHTML(r *Report) ([]byte, error) {
	if r.Load == nil {
		return nil, fmt.Errorf("render load page: the report holds no load run")
	}
	l := r.Load
	v := loadView{Run: r.Run, Load: l}
	for _, c := range []struct {
		title, unit string
		value       func(Sample) float64
	}{
		{"Connected phones", "", func(s Sample) float64 { return float64(s.Connected) }},
		{"Messages per second (acknowledged by the relay)", "/s", func(s Sample) float64 { return s.Messages }},
		{"Pushes per second (arrived on killed phones)", "/s", func(s Sample) float64 { return s.Pushes }},
		{"Push latency p99, send to arrival", "ms", func(s Sample) float64 { return s.P99Ms }},
	} {
		v.Charts = append(v.Charts, lineChart(c.title, c.unit, l.Series, c.value))
	}
	var buf bytes.Buffer
	if err := loadPage.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render load page: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteLoad writes report.json and load.html of a load run into dir.
func WriteLoad(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report folder: %w", err)
	}
	if err := WriteJSON(filepath.Join(dir, JSONFile), r); err != nil {
		return err
	}
	h, err := LoadHTML(r)
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, LoadHTMLFile), h)
}

type loadView struct {
	Run    Run
	Load   *Load
	Charts []chartView
}

// chartView is one line chart, laid out for the template.
type chartView struct {
	Title, Unit string
	Width       int
	Height      int
	Path        string // SVG path data of the line
	Max         float64
	Last        float64
	EndSeconds  float64
	Points      []pointView
}

type pointView struct {
	X, Y  float64
	Label string
}

const chartW, chartH, chartPad = 640, 160, 32

// lineChart draws one series: x is the sample's time, y its value, from zero to the maximum.
func lineChart(title, unit string, series []Sample, value func(Sample) float64) chartView {
	c := chartView{Title: title, Unit: unit, Width: chartW, Height: chartH}
	if len(series) == 0 {
		return c
	}
	end := float64(series[len(series)-1].AtMs)
	for _, s := range series {
		c.Max = max(c.Max, value(s))
	}
	scaleY := 1.0
	if c.Max > 0 {
		scaleY = float64(chartH-2*chartPad) / c.Max
	}
	var path strings.Builder
	for i, s := range series {
		x := float64(chartPad)
		if end > 0 {
			x += float64(s.AtMs) / end * float64(chartW-2*chartPad)
		}
		y := float64(chartH-chartPad) - value(s)*scaleY
		if i == 0 {
			fmt.Fprintf(&path, "M%.1f %.1f", x, y)
		} else {
			fmt.Fprintf(&path, " L%.1f %.1f", x, y)
		}
		c.Points = append(c.Points, pointView{X: x, Y: y, Label: fmt.Sprintf("%.1fs: %.1f%s", float64(s.AtMs)/1000, value(s), unit)})
	}
	c.Path, c.Last, c.EndSeconds = path.String(), value(series[len(series)-1]), end/1000
	return c
}

var loadPage = template.Must(template.New("load").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pushsim load</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{text-align:left;background:#f4f4f8}
.chart{margin:1.5em 0}.chart h3{margin:.2em 0;font-size:15px}
svg{background:#fafafc;border:1px solid #ddd}path.line{fill:none;stroke:#6a3fd8;stroke-width:2}
circle{fill:#6a3fd8}text{font-size:11px;fill:#555}
</style></head><body>
<h1>pushsim load</h1>
<p>{{.Run.Mode}} mode · seed {{.Run.Seed}} · <code>{{.Run.Command}}</code></p>
<table>
<tr><th>phones</th><td>{{.Load.Devices}}</td></tr>
<tr><th>connected at the end</th><td>{{.Load.Connected}}</td></tr>
<tr><th>messages per second</th><td>{{printf "%.1f" .Load.MessagesPerSecond}}</td></tr>
<tr><th>pushes per second</th><td>{{printf "%.1f" .Load.PushesPerSecond}}</td></tr>
<tr><th>push latency p50 · p90 · p99 · max (ms)</th><td>{{printf "%.1f" .Load.PushLatencyMs.P50}} · {{printf "%.1f" .Load.PushLatencyMs.P90}} · {{printf "%.1f" .Load.PushLatencyMs.P99}} · {{printf "%.1f" .Load.PushLatencyMs.Max}}</td></tr>
<tr><th>relay memory per connection</th><td>{{printf "%.0f" .Load.RelayBytesPerConnection}} bytes</td></tr>
<tr><th>errors</th><td>{{.Load.Errors}}</td></tr>
</table>
{{range .Charts}}<div class="chart"><h3>{{.Title}}</h3>
<svg width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Title}}">
<text x="4" y="14">max {{printf "%.1f" .Max}}{{.Unit}}</text><text x="4" y="{{.Height}}">0</text>
<text x="{{.Width}}" y="{{.Height}}" text-anchor="end">{{printf "%.0f" .EndSeconds}} s</text>
<path class="line" d="{{.Path}}"/>
{{range .Points}}<circle cx="{{printf "%.1f" .X}}" cy="{{printf "%.1f" .Y}}" r="2"><title>{{.Label}}</title></circle>{{end}}
</svg></div>{{end}}
</body></html>
`))
