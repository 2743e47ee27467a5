package main

import (
	"io"

	"github.com/schollz/progressbar/v3"

	"github.com/pushlab/pushlab/reports"
)

// progress shows a bar on the terminal for long runs (live mode) and nothing otherwise.
type progress struct {
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer, total int, show bool) *progress {
	if !show || total == 0 {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("scenarios"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)}
}

// done counts a finished scenario and prints its lines through printLines, with the bar out of the
// way: erased from its line first, so the lines start on a clean one, and drawn again below them.
func (p *progress) done(_ reports.Scenario, printLines func()) {
	if p.bar == nil {
		printLines()
		return
	}
	_ = p.bar.Clear()
	printLines()
	_ = p.bar.Add(1)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
