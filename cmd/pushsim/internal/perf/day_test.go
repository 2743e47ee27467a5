package perf

import (
	"errors"
	"testing"
	"time"

	"github.com/pushlab/pushlab/internal/proccpu"
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

// TestTheDaysUsageNote: the day's note says the run's usage in the figures' units, and nothing
// when nothing was measured.
func TestTheDaysUsageNote(t *testing.T) {
	u := proccpu.Usage{User: 12_340 * time.Millisecond, System: 5_600 * time.Millisecond, MinorFaults: 1_360_843}
	require.Equal(t, "last run's CPU 12.3 s user + 5.6 s system (the collector's, on other cores, included), 1,360,843 page faults", usageNote(u))
	require.Empty(t, usageNote(proccpu.Usage{}))
}
