package hugeheap

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pushlab/pushlab/internal/procmem"
)

// markHeap has the runtime map n bytes of heap at once, marks the whole huge pages of it with
// MADV_HUGEPAGE and hands it back to the kernel, returning the stretch marked. It checks that
// the mark survived the hand-back: a runtime told to remap the memory it hands back
// (GODEBUG=harddecommit=1) drops it.
func markHeap(n uint64, pageSize uintptr) (start, end uintptr, err error) {
	start, end, err = mapAndMark(uintptr(n), pageSize)
	// The allocation is dead: collected and handed back to the kernel, the stretch counts toward
	// no memory limit, and the mark stays on its mapping.
	debug.FreeOSMemory()
	if err != nil {
		return 0, 0, err
	}
	marked, err := markedThroughout(start, end)
	if err == nil && !marked {
		err = fmt.Errorf("the mark on %d MB of heap did not survive the runtime handing it back (GODEBUG=harddecommit=1 remaps it)", (end-start)>>20)
	}
	if err != nil {
		_ = unmark(start, end) // whatever is left of the mark: the result says none
		return 0, 0, err
	}
	return start, end, nil
}

// mapAndMark allocates n bytes and marks their whole huge pages, returning where those start and
// end; the allocation is dead when it returns. Memory fresh from the kernel is zero already, so
// the runtime neither clears nor touches it: the allocation maps the stretch and takes none of it
// (pages of it the heap had used and freed before are cleared).
//
//go:noinline
func mapAndMark(n, pageSize uintptr) (start, end uintptr, err error) {
	b := make([]byte, n)
	at := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start = (at + pageSize - 1) &^ (pageSize - 1)
	end = (at + n) &^ (pageSize - 1)
	if start >= end {
		return 0, 0, fmt.Errorf("%d bytes hold no whole huge page of %d", n, pageSize)
	}
	if err := unix.Madvise(b[start-at:end-at], unix.MADV_HUGEPAGE); err != nil {
		return 0, 0, fmt.Errorf("madvise %d MB of heap: %w", (end-start)>>20, err)
	}
	return start, end, nil
}

// unmark takes the huge-page mark off [start, end).
func unmark(start, end uintptr) error {
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_NOHUGEPAGE); errno != 0 {
		return errno
	}
	return nil
}

// addressLimit is the room left under the lower of the process's RLIMIT_AS and RLIMIT_DATA,
// past the address space it already uses (VmSize in /proc/self/status; math.MaxUint64 when
// neither limit is set), and whether it could be read.
func addressLimit() (uint64, bool) {
	limit := uint64(math.MaxUint64)
	for _, which := range []int{unix.RLIMIT_AS, unix.RLIMIT_DATA} {
		var rl unix.Rlimit
		if err := unix.Getrlimit(which, &rl); err != nil {
			return 0, false
		}
		if rl.Cur != unix.RLIM_INFINITY {
			limit = min(limit, rl.Cur)
		}
	}
	if limit == math.MaxUint64 {
		return limit, true
	}
	used, err := procmem.Status(0, "VmSize")
	if err != nil {
		return 0, false
	}
	if uint64(used) < limit {
		return limit - uint64(used), true
	}
	return 0, true
}

// markedThroughout reports whether the mappings of /proc/self/smaps cover [start, end) without
// a gap and each carries the huge-page mark ("hg" among its VmFlags).
func markedThroughout(start, end uintptr) (bool, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return false, fmt.Errorf("read this process's mappings: %w", err)
	}
	defer f.Close()
	return markedIn(f, start, end)
}

// markedIn is markedThroughout over the smaps text r.
func markedIn(r io.Reader, start, end uintptr) (bool, error) {
	covered, marked := start, true
	err := eachMapping(r, func(from, to uintptr, flags []string) bool {
		if to <= start || from >= end {
			return true
		}
		if from > covered { // a hole in the stretch: not heap the runtime mapped
			marked = false
			return false
		}
		covered = max(covered, to)
		marked = marked && slices.Contains(flags, "hg")
		return marked
	})
	if err != nil {
		return false, err
	}
	if covered == start {
		return false, fmt.Errorf("no mapping with VmFlags in /proc/self/smaps holds %#x (a kernel before 3.8 lists no flags)", start)
	}
	return marked && covered >= end, nil
}

// eachMapping calls fn with each mapping of the smaps text r and its VmFlags, in the order
// listed (by address), until fn returns false.
func eachMapping(r io.Reader, fn func(from, to uintptr, flags []string) bool) error {
	sc := bufio.NewScanner(r)
	var from, to uintptr
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok {
			if !fn(from, to, strings.Fields(rest)) {
				return nil
			}
			continue
		}
		// A mapping's first line starts with its range, "7f1c2a000000-7f1c2c000000 rw-p ...";
		// its other lines with a "Key:".
		field, _, _ := strings.Cut(line, " ")
		lo, hi, ok := strings.Cut(field, "-")
		if !ok || strings.HasSuffix(field, ":") {
			continue
		}
		a, errA := strconv.ParseUint(lo, 16, 64)
		b, errB := strconv.ParseUint(hi, 16, 64)
		from, to = 0, 0 // a range that cannot be read holds nothing
		if errA == nil && errB == nil {
			from, to = uintptr(a), uintptr(b)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read this process's mappings: %w", err)
	}
	return nil
}
