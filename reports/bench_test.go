package reports_test

import (
	"testing"

	"github.com/pushlab/pushlab/reports"
)

// BenchmarkRenderLibrary renders report.html and junit.xml for the whole scenario library, played
// once in the virtual mode: what pushsim run and pushsim report spend after the scenarios ran.
func BenchmarkRenderLibrary(b *testing.B) {
	r := libraryReport(b)
	var size int
	for b.Loop() {
		page, err := reports.HTML(r)
		if err != nil {
			b.Fatal(err)
		}
		junit, err := reports.JUnit(r)
		if err != nil {
			b.Fatal(err)
		}
		size = len(page) + len(junit)
	}
	b.ReportMetric(float64(size), "bytes/report")
	b.ReportMetric(float64(len(r.Scenarios)), "scenarios")
}
