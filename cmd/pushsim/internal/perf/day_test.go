package perf

import (
	"errors"
	"testing"
	"time"

	"github.com/pushlab/pushlab/internal/hugeheap"
	"github.com/pushlab/pushlab/internal/proccpu"
	"github.com/stretchr/testify/require"
)

// TestTheDaysHugePageNote: the note names the mode, what was marked or why nothing was, and
// what sat on huge pages after the run when that could be read.
func TestTheDaysHugePageNote(t *testing.T) {
	backed := func(n uint64, err error) func() (uint64, error) {
		return func() (uint64, error) { return n, err }
	}
	marked := hugeheap.Result{Mode: "madvise", Marked: 8 << 30}
	require.Equal(t, "transparent huge pages madvise (8192 MB of heap marked for them ahead of the runs; 3,912 MB on them after the run)",
		hugePageNote(marked, backed(3912<<20, nil)))
	require.Equal(t, "transparent huge pages madvise (8192 MB of heap marked for them ahead of the runs)",
		hugePageNote(marked, backed(0, errors.New("no smaps_rollup"))))
	never := hugeheap.Result{Mode: "never", Why: "none: the machine's mode is never"}
	require.Equal(t, "transparent huge pages never (none: the machine's mode is never; 0 MB on them after the run)",
		hugePageNote(never, backed(0, nil)))
	require.Empty(t, hugePageNote(hugeheap.Result{Why: "the machine says nothing of transparent huge pages"}, backed(0, nil)))
}

// TestTheDaysUsageNote: the day's note says the run's usage in the figures' units, and nothing
// when nothing was measured.
func TestTheDaysUsageNote(t *testing.T) {
	u := proccpu.Usage{User: 12_340 * time.Millisecond, System: 5_600 * time.Millisecond, MinorFaults: 1_360_843}
	require.Equal(t, "last run's CPU 12.3 s user + 5.6 s system (the collector's, on other cores, included), 1,360,843 page faults", usageNote(u))
	require.Empty(t, usageNote(proccpu.Usage{}))
}
