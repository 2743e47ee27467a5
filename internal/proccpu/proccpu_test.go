package proccpu

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// Work done on the CPU shows in Self, which never goes back.
func TestSelfGrowsWithWork(t *testing.T) {
	before, err := Self()
	require.NoError(t, err)
	sum := 0
	for i := range 50_000_000 {
		sum += i % 7
	}
	after, err := Self()
	require.NoError(t, err)
	require.Positive(t, sum)
	require.Greater(t, after, before)
}

// Fresh pages touched show in SelfUsage's faults.
func TestSelfUsageCountsPageFaults(t *testing.T) {
	// Memory of its own from the kernel, not the Go heap, which may hand back pages already
	// touched.
	buf, err := syscall.Mmap(-1, 0, 64<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err)
	defer syscall.Munmap(buf)
	before, err := SelfUsage()
	require.NoError(t, err)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1 // each page touched once: a fault each (one per 2 MB under huge pages)
	}
	after, err := SelfUsage()
	require.NoError(t, err)
	used := after.Sub(before)
	require.Greater(t, used.MinorFaults, int64(20), "64 MB of fresh pages touched")
	require.Positive(t, used.User+used.System)
}
