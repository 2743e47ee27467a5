// Package prefetch asks the processor to bring memory into its caches ahead of a read, without
// waiting for it.
//
// A program that reads records scattered over gigabytes, as the simulator's biggest days do,
// waits for memory at each first read: several hundred nanoseconds a read on the bench machine,
// one read after another. A processor can fetch many lines at once, though: reads whose
// addresses are known early can be started together and overlap. Go has no prefetch of its
// own outside the runtime, so this package is an instruction of assembly on amd64 and arm64,
// and does nothing elsewhere. A prefetch has no effect on what a program computes: it never
// faults, whatever the address, and moves no data a program can see.
package prefetch

import "unsafe"

// Of starts fetching the cache line that holds *p; nil is allowed and does nothing useful.
func Of[T any](p *T) { line(uintptr(unsafe.Pointer(p))) }

// Lines starts fetching n cache lines from *p on (a record larger than one line). The lines
// may run past the end of *p's object: the addresses are only handed to the processor, never
// made into pointers.
func Lines[T any](p *T, n int) {
	a := uintptr(unsafe.Pointer(p))
	for i := range n {
		line(a + uintptr(i*lineSize))
	}
}

// lineSize is the cache line's size on the machines this runs on.
const lineSize = 64
