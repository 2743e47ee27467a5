package reports

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The load page shows the figures and one chart per series, with a point per sample, and fetches
// nothing.
func TestLoadPageChartsEverySeries(t *testing.T) {
	r := &Report{Schema: SchemaVersion, Run: Run{Mode: "live", Seed: 3, Command: "pushsim load --devices 10"},
		Load: &Load{Devices: 10, Connected: 9, MessagesPerSecond: 99.5, PushesPerSecond: 10, Errors: 1,
			PushLatencyMs: Percentiles{P50: 1, P90: 2, P99: 3.25, Max: 4},
			Series:        []Sample{{AtMs: 1000, Connected: 9, Messages: 90, Pushes: 9, P99Ms: 3}, {AtMs: 2000, Connected: 9, Messages: 100, Pushes: 11, P99Ms: 3.5}}}}
	b, err := LoadHTML(r)
	require.NoError(t, err)
	page := string(b)
	require.Equal(t, 4, strings.Count(page, `<path class="line"`))
	require.Equal(t, 8, strings.Count(page, "<circle"), "a point per sample per chart")
	require.Contains(t, page, "99.5")
	require.Contains(t, page, "3.2 · 4.0", "the p99 and max")
	require.NotContains(t, page, "http")
	_, err = LoadHTML(&Report{})
	require.ErrorContains(t, err, "no load run")
}

func TestPercentileIsNearestRank(t *testing.T) {
	got := Percentile([]float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6})
	require.Equal(t, Percentiles{Count: 10, P50: 5, P90: 9, P99: 10, Max: 10}, got)
	require.Equal(t, Percentiles{}, Percentile(nil))
}
