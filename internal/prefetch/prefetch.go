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

// String starts fetching the cache lines that hold s's bytes (a token, an ID).
func String(s string) {
	if s == "" {
		return
	}
	a := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	for at := a &^ (lineSize - 1); at < a+uintptr(len(s)); at += lineSize {
		line(at)
	}
}

// Append starts fetching the place where append would put s's next element, if s has room for
// it (the tail of a growing inbox or list); a full s is left alone, since append moves it.
func Append[T any](s []T) {
	if k := len(s); k < cap(s) {
		Of(&s[:k+1][k])
	}
}

// lineSize is the cache line's size on the machines this runs on.
const lineSize = 64
