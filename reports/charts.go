package reports

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// histogramChart is the push-latency histogram as SVG bars.
type histogramChart struct {
	Width, Height float64
	Base          float64 // y of the bars' base
	Bars          []histogramBar
}

type histogramBar struct {
	X, Y, W, H float64
	// Label names the bucket under the bar; Count is written above it.
	Label, Count, Title string
}

// Geometry of the histogram.
const (
	histBarWidth = 54.0
	histGap      = 8.0
	histPlot     = 120.0 // the tallest bar
	histTop      = 18.0  // room for the counts
	histBottom   = 22.0  // room for the labels
)

// buildHistogram draws buckets as bars, tallest histPlot high.
func buildHistogram(buckets []Bucket) histogramChart {
	c := histogramChart{Height: histTop + histPlot + histBottom, Base: histTop + histPlot}
	most := 0
	for _, b := range buckets {
		most = max(most, b.Count)
	}
	lower := 0.0
	for i, b := range buckets {
		label := "≤ " + boundText(b.UpToMs)
		if b.UpToMs < 0 {
			label = "> " + boundText(lower)
		}
		h := 0.0
		if most > 0 {
			h = r1(histPlot * float64(b.Count) / float64(most))
		}
		x := histGap + float64(i)*(histBarWidth+histGap)
		c.Bars = append(c.Bars, histogramBar{X: x, Y: c.Base - h, W: histBarWidth, H: h, Label: label, Count: strconv.Itoa(b.Count),
			Title: fmt.Sprintf("%d push(es) with latency %s", b.Count, label)})
		lower = b.UpToMs
	}
	c.Width = histGap + float64(len(buckets))*(histBarWidth+histGap)
	return c
}

// boundText formats a latency bound: 250ms, 2.5s, 1m0s.
func boundText(v float64) string { return clock(int64(v)) }

// barChart is a count per name as horizontal SVG bars, largest first.
type barChart struct {
	Width, Height float64
	Rows          []barRow
}

type barRow struct {
	Y, W                             float64
	Name, Class, Count, Share, Title string
}

// Geometry of bar charts.
const (
	barLabelWidth = 190.0
	barMaxWidth   = 380.0
	barRowHeight  = 20.0
)

// countsOf sorts counts by count, largest first, then by name.
func countsOf(counts map[string]int) []nameCount {
	out := make([]nameCount, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		out = append(out, nameCount{k, counts[k]})
	}
	slices.SortStableFunc(out, func(a, b nameCount) int { return cmp.Compare(b.Count, a.Count) })
	return out
}

type nameCount struct {
	Name  string
	Count int
}

// buildBars draws counts as bars; class names each bar's colour class.
func buildBars(counts map[string]int, class func(string) string) barChart {
	rows := countsOf(counts)
	total, most := 0, 0
	for _, r := range rows {
		total += r.Count
		most = max(most, r.Count)
	}
	c := barChart{Width: barLabelWidth + barMaxWidth + 110, Height: float64(len(rows))*barRowHeight + 4}
	for i, r := range rows {
		w := 0.0
		if most > 0 {
			w = max(r1(barMaxWidth*float64(r.Count)/float64(most)), 1)
		}
		share := fmt.Sprintf("%.1f%%", 100*float64(r.Count)/float64(max(total, 1)))
		c.Rows = append(c.Rows, barRow{Y: 2 + float64(i)*barRowHeight, W: w, Name: r.Name, Class: class(r.Name),
			Count: strconv.Itoa(r.Count), Share: share, Title: fmt.Sprintf("%s: %d (%s)", r.Name, r.Count, share)})
	}
	return c
}
