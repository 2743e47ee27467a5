// Package proccpu reads the CPU time this process has used, the figure benchmarks compare
// between builds on a shared machine, where wall time mostly measures the neighbours.
package proccpu

import (
	"fmt"
	"syscall"
	"time"
)

// Self is this process's user and system CPU time so far.
func Self() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("read this process's CPU time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
