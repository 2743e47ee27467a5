package hugeheap

import (
	"os"
	"runtime/metrics"
	"slices"
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

	require.Equal(t, []string{"hg"}, flagsOver(t, start, end, "hg", "nh"), "every mapping of the stretch is marked")
	released := heapMetric(t, "/memory/classes/heap/released:bytes")
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
	require.Equal(t, mapped, heapMapped(t), "the runtime mapped no more heap to place them")

	r := Result{Mode: "madvise", Marked: uint64(end - start), start: start, end: end}
	require.NoError(t, r.Release())
	require.Equal(t, []string{"nh"}, flagsOver(t, start, end, "hg", "nh"), "Release takes the mark off")
	require.NoError(t, Result{Why: "none asked for"}.Release(), "nothing marked, nothing to release")
}

// flagsOver is which of the flags wanted the mappings overlapping [start, end) carry, each
// listed once, in the order wanted.
func flagsOver(t *testing.T, start, end uintptr, wanted ...string) []string {
	t.Helper()
	var seen []string
	require.NoError(t, eachMapping(func(from, to uintptr, flags []string) bool {
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

// heapMapped is the heap the runtime has mapped, in use or not.
func heapMapped(t *testing.T) uint64 {
	var sum uint64
	for _, name := range []string{"/memory/classes/heap/free:bytes", "/memory/classes/heap/objects:bytes",
		"/memory/classes/heap/released:bytes", "/memory/classes/heap/stacks:bytes", "/memory/classes/heap/unused:bytes"} {
		sum += heapMetric(t, name)
	}
	return sum
}

func heapMetric(t *testing.T, name string) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	require.Equal(t, metrics.KindUint64, s[0].Value.Kind(), name)
	return s[0].Value.Uint64()
}
