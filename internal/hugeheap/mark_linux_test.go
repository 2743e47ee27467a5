package hugeheap

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestMarkedHeapIsReusedByTheRuntime: the stretch marked is the heap's, its mapping carries the
// huge-page mark ("hg" in /proc/self/smaps) after it was handed back to the kernel, and the
// runtime fills it with new objects rather than mapping more.
func TestMarkedHeapIsReusedByTheRuntime(t *testing.T) {
	if _, err := os.Stat(modePath); err != nil {
		t.Skipf("this kernel has no transparent huge pages (%v)", err)
	}
	start, end, err := markedStretch(64 << 20)
	require.NoError(t, err)
	require.Greater(t, end, start)
	require.Zero(t, start%hugePage)

	flags := vmFlagsAt(t, start)
	require.Contains(t, flags, "hg", "the mapping holding the stretch is marked for huge pages")

	// The runtime's page allocator takes the lowest free pages first, and the stretch is free:
	// objects land in it before the heap grows.
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
}

// vmFlagsAt is the VmFlags line of the mapping holding addr in /proc/self/smaps.
func vmFlagsAt(t *testing.T, addr uintptr) string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	holds := false
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			lo, hi, _ := strings.Cut(fields[0], "-")
			from, err1 := strconv.ParseUint(lo, 16, 64)
			to, err2 := strconv.ParseUint(hi, 16, 64)
			holds = err1 == nil && err2 == nil && uint64(addr) >= from && uint64(addr) < to
			continue
		}
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok && holds {
			return rest
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("no mapping holds %#x", addr)
	return ""
}
