package hugeheap

import (
	"fmt"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the machines pushlab runs on.
const hugePage = 2 << 20

// markHeap has the runtime map n bytes of heap at once, marks the whole huge pages of it with
// MADV_HUGEPAGE and hands it back, returning the stretch marked.
func markHeap(n uint64) error {
	_, _, err := markedStretch(n)
	return err
}

// markedStretch is markHeap, returning where the marked stretch starts and ends as well.
func markedStretch(n uint64) (start, end uintptr, err error) {
	// Memory fresh from the kernel is zero already, so the runtime neither clears nor touches
	// it: the allocation maps the stretch and takes none of it.
	b := make([]byte, n)
	at := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	from := (at+hugePage-1)&^(hugePage-1) - at
	to := (at+uintptr(n))&^(hugePage-1) - at
	if from >= to {
		return 0, 0, fmt.Errorf("%d bytes hold no whole huge page", n)
	}
	if err := unix.Madvise(b[from:to], unix.MADV_HUGEPAGE); err != nil {
		return 0, 0, fmt.Errorf("madvise %d MB of heap: %w", (to-from)>>20, err)
	}
	// b is dead from here: collected and handed back to the kernel untouched, the stretch
	// counts toward no memory limit, and the mark stays on its mapping.
	debug.FreeOSMemory()
	return at + from, at + to, nil
}
