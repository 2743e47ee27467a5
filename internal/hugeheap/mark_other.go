//go:build !linux

package hugeheap

import "errors"

// markHeap is Linux's alone: transparent huge pages are a Linux mode.
func markHeap(uint64) error { return errors.New("transparent huge pages are Linux's") }
