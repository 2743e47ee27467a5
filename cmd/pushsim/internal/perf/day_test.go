package perf

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHugePageModeIsTheBracketedWord(t *testing.T) {
	file := func(content string, err error) func(string) ([]byte, error) {
		return func(path string) ([]byte, error) {
			require.Equal(t, thpPath, path)
			return []byte(content), err
		}
	}
	require.Equal(t, "madvise", hugePageMode(file("always [madvise] never\n", nil)))
	require.Equal(t, "always", hugePageMode(file("[always] madvise never\n", nil)))
	require.Equal(t, "never", hugePageMode(file("always madvise [never]\n", nil)))
	require.Empty(t, hugePageMode(file("", errors.New("no such file"))), "unreadable: say nothing")
	require.Empty(t, hugePageMode(file("always madvise never\n", nil)), "no mode chosen: say nothing")
	require.Empty(t, hugePageMode(file("always [madvise", nil)), "cut short: say nothing")
}

// TestTheDaysUsageCountsWhatTheRunUsed: a run that touches fresh memory and spins is told
// apart from the usage before it, and the note says so in the figures' units.
func TestTheDaysUsageCountsWhatTheRunUsed(t *testing.T) {
	// Memory of its own from the kernel, not the Go heap, which may hand back pages already
	// touched.
	buf, err := syscall.Mmap(-1, 0, 64<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err)
	defer syscall.Munmap(buf)
	before := readUsage()
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1 // each page touched once: a fault each (one per 2 MB under huge pages)
	}
	used := readUsage().since(before)
	require.Greater(t, used.faults, int64(20), "64 MB of fresh pages touched")
	require.Greater(t, used.user+used.system, time.Duration(0))

	u := processUsage{user: 12_340 * time.Millisecond, system: 5_600 * time.Millisecond, faults: 1_360_843}
	require.Equal(t, "last run's CPU 12.3 s user + 5.6 s system (both cores: the collector runs beside the day), 1,360,843 page faults", u.note())
	require.Empty(t, processUsage{}.note(), "nothing measured: say nothing")
}
