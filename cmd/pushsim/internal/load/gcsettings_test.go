package load

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// A live load runs with the lighter collector, keeps a lower memory limit set before it, leaves
// what the environment sets alone, and gives back what it found.
func TestLightCollectorSetsAndRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	noEnv := func(string) string { return "" }

	restore := lightCollector(noEnv)
	require.Equal(t, loadGCPercent, debug.SetGCPercent(loadGCPercent))
	require.Equal(t, int64(loadMemoryLimit), debug.SetMemoryLimit(-1))
	restore()
	require.Equal(t, 100, debug.SetGCPercent(100))
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))

	debug.SetMemoryLimit(1 << 30)
	restore = lightCollector(noEnv)
	require.Equal(t, int64(1<<30), debug.SetMemoryLimit(-1), "a lower limit stays")
	restore()

	debug.SetGCPercent(50)
	debug.SetMemoryLimit(math.MaxInt64)
	restore = lightCollector(func(k string) string { return map[string]string{"GOGC": "50", "GOMEMLIMIT": "off"}[k] })
	require.Equal(t, 50, debug.SetGCPercent(50), "GOGC set in the environment stays")
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "GOMEMLIMIT set in the environment stays")
	restore()
}
