package load

import "runtime/debug"

// loadGCPercent is the collector's target (GOGC) while a live load runs in this process: the
// phones and the embedded fakefcm allocate for every push and share the machine's cores with the
// relay they measure, so the collector runs about a quarter as often as by default (a load is a batch
// job, as the day in the life is). loadMemoryLimit bounds the heap that lets grow.
const (
	loadGCPercent   = 400
	loadMemoryLimit = 4 << 30
)

// lightCollector sets this process's collector for a live load (loadGCPercent, and
// loadMemoryLimit unless a lower limit is set already) and returns what sets it back.
func lightCollector() (restore func()) {
	oldPercent := debug.SetGCPercent(loadGCPercent)
	oldLimit := debug.SetMemoryLimit(-1)
	debug.SetMemoryLimit(min(oldLimit, loadMemoryLimit))
	return func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}
}
