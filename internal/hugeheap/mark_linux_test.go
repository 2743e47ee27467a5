package hugeheap

import (
	"os"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestMarkedHeapIsReusedByTheRuntime: the stretch marked is heap the runtime handed back to the
// kernel, its mapping carries the huge-page mark ("hg" in /proc/self/smaps) after the hand-back,
// the runtime fills it with new objects without mapping more heap, and Release takes the mark
// off.
func TestMarkedHeapIsReusedByTheRuntime(t *testing.T) {
	if _, err := os.Stat(modePath); err != nil {
		t.Skipf("this kernel has no transparent huge pages (%v)", err)
	}
	const size, page = 64 << 20, 2 << 20
	start, end, err := markHeap(size, page)
	require.NoError(t, err)
	require.Greater(t, end, start)
	require.Zero(t, start%page)
	require.GreaterOrEqual(t, end-start, uintptr(size-2*page), "the whole huge pages of the allocation")

	marked, err := markedThroughout(start, end)
	require.NoError(t, err)
	require.True(t, marked, "every mapping of the stretch is marked")
	released := heapMetrics(t, "/memory/classes/heap/released:bytes")
	require.GreaterOrEqual(t, released, uint64(end-start), "the stretch was handed back to the kernel")

	// The runtime's page allocator takes the lowest free pages first, and the stretch is free:
	// objects land in it and the heap the runtime has mapped does not grow.
	mapped := heapMapped(t)
	var keep [][]byte
	landed := false
	for range 128 {
		b := make([]byte, 1<<20)
		keep = append(keep, b)
		if at := uintptr(unsafe.Pointer(unsafe.SliceData(b))); at >= start && at < end {
			landed = true
			break
		}
	}
	require.True(t, landed, "1 MiB objects landed in the marked stretch within 128 of them (%d kept)", len(keep))
	// The runtime grows its heap by 4 MiB at least (a page-allocator chunk); the classes it
	// counts the heap in shift by a few pages meanwhile.
	require.Less(t, heapMapped(t), mapped+4<<20, "the runtime mapped no more heap to place them")

	// One huge page unmarked in the middle is seen.
	require.NoError(t, unmark(start+page, start+2*page))
	marked, err = markedThroughout(start, end)
	require.NoError(t, err)
	require.False(t, marked, "a page of the stretch unmarked")

	r := Result{Mode: "madvise", Marked: uint64(end - start), start: start, end: end}
	require.NoError(t, r.Release())
	require.Equal(t, []string{"nh"}, flagsOver(t, start, end, "hg", "nh"), "Release takes the mark off every mapping")
	require.NoError(t, Result{Why: "none asked for"}.Release(), "nothing marked, nothing to release")
}

// flagsOver is which of the flags wanted the mappings overlapping [start, end) carry, each
// listed once, in the order wanted.
func flagsOver(t *testing.T, start, end uintptr, wanted ...string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	var seen []string
	require.NoError(t, eachMapping(f, func(from, to uintptr, flags []string) bool {
		if to > start && from < end {
			for _, w := range wanted {
				if slices.Contains(flags, w) && !slices.Contains(seen, w) {
					seen = append(seen, w)
				}
			}
		}
		return true
	}))
	return seen
}

// heapMapped is the heap the runtime has mapped, in use or not, read at one instant.
func heapMapped(t *testing.T) uint64 {
	return heapMetrics(t, "/memory/classes/heap/free:bytes", "/memory/classes/heap/objects:bytes",
		"/memory/classes/heap/released:bytes", "/memory/classes/heap/stacks:bytes", "/memory/classes/heap/unused:bytes")
}

// heapMetrics is the sum of the runtime's metrics named, read in one snapshot.
func heapMetrics(t *testing.T, names ...string) uint64 {
	t.Helper()
	samples := make([]metrics.Sample, len(names))
	for i, name := range names {
		samples[i].Name = name
	}
	metrics.Read(samples)
	var sum uint64
	for _, s := range samples {
		require.Equal(t, metrics.KindUint64, s.Value.Kind(), s.Name)
		sum += s.Value.Uint64()
	}
	return sum
}

// TestMarkedInReadsSmaps: the stretch is marked only where mappings cover it without a gap and
// each carries "hg"; a range that cannot be read holds nothing, and no flags at all is an error.
func TestMarkedInReadsSmaps(t *testing.T) {
	mapping := func(from, to, flags string) string {
		return from + "-" + to + " rw-p 00000000 00:00 0                          [anon: Go: heap]\nSize:  4096 kB\nRss:  0 kB\nVmFlags: " + flags + "\n"
	}
	const lo, hi = 0xc000000000, 0xc000400000
	marked := func(text string) (bool, error) { return markedIn(strings.NewReader(text), lo, hi) }

	ok, err := marked(mapping("c000000000", "c000200000", "rd wr mr mw me ac hg") + mapping("c000200000", "c000400000", "rd wr mr mw me ac hg"))
	require.NoError(t, err)
	require.True(t, ok, "two marked mappings, end to end")

	ok, err = marked(mapping("c000000000", "c000200000", "rd wr hg") + mapping("c000200000", "c000400000", "rd wr"))
	require.NoError(t, err)
	require.False(t, ok, "one mapping unmarked")

	ok, err = marked(mapping("c000000000", "c000100000", "rd wr hg") + mapping("c000200000", "c000400000", "rd wr hg"))
	require.NoError(t, err)
	require.False(t, ok, "a hole between the mappings")

	ok, err = marked(mapping("c000000000", "c000200000", "rd wr hg"))
	require.NoError(t, err)
	require.False(t, ok, "the stretch's end is not mapped")

	ok, err = marked(mapping("c000000000", "c000400000", "rd wr hg") + mapping("zz", "c000400000", "rd wr"))
	require.NoError(t, err)
	require.True(t, ok, "an unreadable range is credited to no mapping")

	noFlags, _, _ := strings.Cut(mapping("c000000000", "c000400000", "hg"), "VmFlags")
	_, err = marked(noFlags)
	require.ErrorContains(t, err, "no mapping with VmFlags")
}
