//go:build !linux

package hugeheap

import "errors"

// Transparent huge pages are a Linux mode: elsewhere Reserve reads no mode and marks nothing,
// and these are never reached.

func markHeap(uint64, uintptr) (uintptr, uintptr, error) {
	return 0, 0, errors.New("transparent huge pages are Linux's")
}

func unmark(uintptr, uintptr) error { return nil }

func addressLimit() (uint64, bool) { return 0, false }
