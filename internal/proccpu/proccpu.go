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
	u, err := SelfUsage()
	return u.User + u.System, err
}

// Usage is what a process used: CPU time in user and in system mode, and the page faults the
// kernel served without I/O (a fresh page of a growing heap is one).
type Usage struct {
	User, System time.Duration
	MinorFaults  int64
}

// SelfUsage is this process's usage so far.
func SelfUsage() (Usage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}, fmt.Errorf("read this process's usage: %w", err)
	}
	return Usage{User: time.Duration(ru.Utime.Nano()), System: time.Duration(ru.Stime.Nano()), MinorFaults: ru.Minflt}, nil
}

// Sub is the usage from before to u.
func (u Usage) Sub(before Usage) Usage {
	return Usage{User: u.User - before.User, System: u.System - before.System, MinorFaults: u.MinorFaults - before.MinorFaults}
}
