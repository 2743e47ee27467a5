package load

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// A live load runs with the lighter collector, keeps a lower memory limit set before it, and
// gives back what it found.
func TestLightCollectorSetsAndRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	restore := lightCollector()
	require.Equal(t, loadGCPercent, debug.SetGCPercent(loadGCPercent))
	require.Equal(t, int64(loadMemoryLimit), debug.SetMemoryLimit(-1))
	restore()
	require.Equal(t, 100, debug.SetGCPercent(100))
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))

	debug.SetMemoryLimit(1 << 30)
	restore = lightCollector()
	require.Equal(t, int64(1<<30), debug.SetMemoryLimit(-1), "a lower limit stays")
	restore()
}
