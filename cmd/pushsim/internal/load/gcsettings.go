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

// lightCollector sets this process's collector for a live load and returns what sets it back:
// loadGCPercent unless GOGC is set in the environment, and loadMemoryLimit unless GOMEMLIMIT is
// set or a lower limit is set already. getenv reads the environment (os.Getenv).
func lightCollector(getenv func(string) string) (restore func()) {
	var undo []func()
	if getenv("GOGC") == "" {
		old := debug.SetGCPercent(loadGCPercent)
		undo = append(undo, func() { debug.SetGCPercent(old) })
	}
	if getenv("GOMEMLIMIT") == "" {
		old := debug.SetMemoryLimit(-1)
		debug.SetMemoryLimit(min(old, loadMemoryLimit))
		undo = append(undo, func() { debug.SetMemoryLimit(old) })
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}
