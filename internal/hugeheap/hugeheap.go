// Package hugeheap asks the kernel to back this process's Go heap with transparent huge pages
// where the machine leaves that to each program.
//
// A program whose heap is gigabytes and whose every step reads it at random, as the simulator's
// biggest days do, spends a large part of its time on TLB misses and page faults when the heap
// sits on 4 KiB pages. Linux backs anonymous memory with huge pages (2 MiB on x86-64)
// everywhere in its "always" mode, and in its "madvise" mode only where a program marked the
// memory with madvise(MADV_HUGEPAGE). The Go runtime marks none of its heap and has no setting
// that asks it to (GODEBUG=disablethp only opts out). What the runtime does do is reuse heap it
// has mapped before it maps more, and a mark stays on the memory until it is unmapped, which the
// runtime never does to its heap. So Reserve has the runtime map a stretch of heap at once (one
// big allocation, dropped at once and handed back to the kernel), marks that stretch, and leaves
// it to the runtime to fill.
package hugeheap

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/pushlab/pushlab/internal/procmem"
)

// Where Linux says what it does with huge pages.
const (
	modePath       = "/sys/kernel/mm/transparent_hugepage/enabled"
	pageSizePath   = "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"
	overcommitPath = "/proc/sys/vm/overcommit_memory"
	meminfoPath    = "/proc/meminfo"
	rollupPath     = "/proc/self/smaps_rollup"
)

// Result is what Reserve did.
type Result struct {
	// Mode is the machine's transparent-huge-page mode ("always", "madvise" or "never"), or ""
	// where the machine does not say.
	Mode string
	// Marked is how many bytes of heap were marked for huge pages; 0 when none were.
	Marked uint64
	// Why says why none were marked, or why fewer than asked.
	Why string
	// start and end bound the stretch marked.
	start, end uintptr
}

// String says what the heap got, for a figure's note.
func (r Result) String() string {
	switch {
	case r.Marked > 0 && r.Why != "":
		return fmt.Sprintf("%d MB of heap marked for them ahead of the runs, %s", r.Marked>>20, r.Why)
	case r.Marked > 0:
		return fmt.Sprintf("%d MB of heap marked for them ahead of the runs", r.Marked>>20)
	}
	return r.Why
}

// Release takes the mark off the stretch Reserve marked, so that what runs in the process
// afterwards gets the pages it would have had without Reserve: memory faulted in from then on
// gets small pages (what sits on huge pages already stays there until the runtime hands it
// back). Nothing to do when nothing was marked.
func (r Result) Release() error {
	if r.Marked == 0 {
		return nil
	}
	if err := unmark(r.start, r.end); err != nil {
		return fmt.Errorf("take the huge-page mark off %d MB of heap: %w", r.Marked>>20, err)
	}
	return nil
}

// Reserve marks up to n bytes of this process's heap for transparent huge pages, if the machine
// leaves that to the program (mode "madvise"), and says what it did. It is for a batch job about
// to grow a heap of that size, before it sets a soft memory limit: the n bytes are mapped at once
// and stay mapped, but count toward no memory limit until the program's own objects fill them.
// Where the mode is "always" there is nothing to do; where huge pages are off or cannot be had
// safely, nothing is done and Result.Why says why. Call Result.Release when the job is done.
func Reserve(n uint64) Result {
	read := os.ReadFile
	m := machine{
		mode:       ModeOf(read),
		pageSize:   uint64(number(firstLine(read, pageSizePath))),
		godebug:    os.Getenv("GODEBUG"),
		overcommit: firstLine(read, overcommitPath),
		memTotal:   memTotal(read),
		wordBits:   strconv.IntSize,
	}
	m.addressLimit, m.addressLimitKnown = addressLimit()
	d := decide(m, n)
	if d.mark == 0 {
		return Result{Mode: d.mode, Why: d.why}
	}
	start, end, err := markHeap(d.mark, uintptr(m.pageSize))
	if err != nil {
		return Result{Mode: d.mode, Why: fmt.Sprintf("none: %v", err)}
	}
	return Result{Mode: d.mode, Marked: uint64(end - start), Why: d.why, start: start, end: end}
}

// machine is what decide reads of the machine and the process's settings.
type machine struct {
	mode       string // the transparent-huge-page mode, "" if unknown
	pageSize   uint64 // the huge page's size in bytes, 0 if unknown
	godebug    string // the GODEBUG environment variable
	overcommit string // vm.overcommit_memory, "" if unknown
	memTotal   uint64 // bytes of RAM, 0 if unknown
	wordBits   int    // the process's word size
	// addressLimit is the lower of RLIMIT_AS and RLIMIT_DATA (math.MaxUint64: none), if known.
	addressLimit      uint64
	addressLimitKnown bool
}

// decision is how much heap to mark, or why none; why also says why less than asked.
type decision struct {
	mode string
	mark uint64
	why  string
}

// decide is how much of the n bytes asked for to mark on m. The stretch is mapped whole, and a
// mapping the kernel or the process's limits refuse is a fatal error in the Go runtime, not one
// it returns, so anything that cannot be read is a reason to mark none: at most half the
// machine's memory (a kernel that overcommits heuristically refuses a mapping much larger than
// the memory it has) and half the process's address-space limit.
func decide(m machine, n uint64) decision {
	d := decision{mode: m.mode}
	switch {
	case m.mode == "":
		d.why = "the machine says nothing of transparent huge pages"
	case m.mode == "always":
		d.why = "the machine backs every heap with them (mode always)"
	case m.mode == "never":
		d.why = "none: the machine's mode is never"
	case m.mode != "madvise":
		d.why = fmt.Sprintf("none: unknown mode %q", m.mode)
	case disablesTHP(m.godebug):
		d.why = "none: GODEBUG=disablethp=1 asks for none"
	case m.wordBits < 64:
		d.why = "none: a 32-bit process has no room to map the heap ahead"
	case m.pageSize == 0 || m.pageSize&(m.pageSize-1) != 0:
		d.why = "none: the huge page's size cannot be read (" + pageSizePath + ")"
	case m.overcommit == "":
		d.why = "none: the kernel's overcommit setting cannot be read (" + overcommitPath + ")"
	case m.overcommit == "2":
		d.why = "none: the kernel does not overcommit memory (vm.overcommit_memory=2), so a heap mapped ahead would take memory the day may not use"
	case m.memTotal == 0:
		d.why = "none: the machine's memory cannot be read (" + meminfoPath + ")"
	case !m.addressLimitKnown:
		d.why = "none: the process's address-space limits cannot be read"
	case n == 0:
		d.why = "none asked for"
	default:
		d.mark = n
		if half := m.memTotal / 2; d.mark > half {
			d.mark, d.why = half, fmt.Sprintf("capped at half the machine's memory (%d MB)", m.memTotal>>20)
		}
		if half := m.addressLimit / 2; d.mark > half {
			d.mark, d.why = half, fmt.Sprintf("capped at half the process's address-space limit (%d MB)", m.addressLimit>>20)
		}
		if d.mark < m.pageSize {
			d.mark, d.why = 0, "none: the room left holds no huge page"
		}
	}
	return d
}

// disablesTHP reports whether a GODEBUG value turns the runtime's huge pages off: its last
// disablethp setting wins, as in the runtime.
func disablesTHP(godebug string) bool {
	off := false
	for kv := range strings.SplitSeq(godebug, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "disablethp="); ok {
			off = v == "1"
		}
	}
	return off
}

// ModeOf is the machine's transparent-huge-page mode ("always", "madvise" or "never"), or ""
// where it cannot be read, read through read (os.ReadFile).
func ModeOf(read func(string) ([]byte, error)) string {
	b, err := read(modePath)
	if err != nil {
		return ""
	}
	// The file lists the modes with the chosen one in brackets: "always [madvise] never".
	_, rest, ok := strings.Cut(string(b), "[")
	if !ok {
		return ""
	}
	mode, _, ok := strings.Cut(rest, "]")
	if !ok {
		return ""
	}
	return mode
}

// firstLine is the first line of the file at path, trimmed, or "" if it cannot be read.
func firstLine(read func(string) ([]byte, error), path string) string {
	b, err := read(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// number is s as a count of bytes, or 0 if it is none.
func number(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/2 {
		return 0
	}
	return n
}

// memTotal is the machine's RAM from /proc/meminfo, or 0 if it cannot be read.
func memTotal(read func(string) ([]byte, error)) uint64 {
	b, err := read(meminfoPath)
	if err != nil {
		return 0
	}
	n, _ := procmem.Field(string(b), "MemTotal")
	return uint64(n)
}

// Backed is how many bytes of this process's memory sit on huge pages now (AnonHugePages in
// /proc/self/smaps_rollup).
func Backed() (uint64, error) {
	n, err := procmem.FileField(rollupPath, "AnonHugePages")
	if err != nil {
		return 0, fmt.Errorf("read the memory on huge pages: %w", err)
	}
	return uint64(n), nil
}
