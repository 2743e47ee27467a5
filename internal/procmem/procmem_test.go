package procmem

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFieldIsTheKilobyteLineInBytes(t *testing.T) {
	status := "Name:\trelay\nVmHWM:\t  5620316 kB\nVmRSS:\t    1024 kB\nThreads:\t7\n"
	n, err := Field(status, "VmHWM")
	require.NoError(t, err)
	require.Equal(t, int64(5620316<<10), n)
	n, err = Field(status, "VmRSS")
	require.NoError(t, err)
	require.Equal(t, int64(1<<20), n)

	_, err = Field(status, "VmSize")
	require.EqualError(t, err, "no VmSize line")
	_, err = Field("VmHWM:\n", "VmHWM")
	require.EqualError(t, err, "VmHWM has no value")
	_, err = Field("VmHWM: lots kB\n", "VmHWM")
	require.EqualError(t, err, `VmHWM: "lots" is not a number of kB`)
	_, err = Field("XVmHWM: 1 kB\n", "VmHWM")
	require.Error(t, err, "a key is a line's whole first word")
}

// This process's status has the fields the benches read, and its peak is at least its size now.
func TestStatusOfThisProcess(t *testing.T) {
	rss, err := Status(0, "VmRSS")
	require.NoError(t, err)
	require.Positive(t, rss)
	peak, err := Status(0, "VmHWM")
	require.NoError(t, err)
	require.GreaterOrEqual(t, peak, rss)
	_, err = Status(0, "NoSuchField")
	require.ErrorContains(t, err, "/proc/self/status: no NoSuchField line")
}
