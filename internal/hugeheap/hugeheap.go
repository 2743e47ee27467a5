// Package hugeheap asks the kernel to back this process's Go heap with transparent huge pages
// where the machine leaves that to each program.
//
// A program whose heap is gigabytes and whose every step reads it at random, as the simulator's
// biggest days do, spends a large part of its time on TLB misses and page faults when the heap
// sits on 4 KiB pages. Linux backs anonymous memory with 2 MiB pages everywhere in its "always"
// mode, and in its "madvise" mode only where a program marked the memory with
// madvise(MADV_HUGEPAGE). The Go runtime marks none of its heap and has no setting that asks it
// to (GODEBUG=disablethp only opts out). What the runtime does do is reuse heap it has mapped
// before it maps more, and a mark stays on the memory until it is unmapped, which the runtime
// never does to its heap. So Reserve has the runtime map a stretch of heap at once (one big
// allocation, dropped at once and handed back to the kernel untouched), marks that stretch, and
// leaves it to the runtime to fill.
package hugeheap

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Where Linux says what it does with huge pages.
const (
	modePath       = "/sys/kernel/mm/transparent_hugepage/enabled"
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
	// Why says why none were marked, when none were.
	Why string
}

// String says what the heap got, for a figure's note.
func (r Result) String() string {
	if r.Marked > 0 {
		return fmt.Sprintf("%d MB of heap marked for them ahead of the runs", r.Marked>>20)
	}
	return r.Why
}

// Reserve marks up to n bytes of this process's heap for transparent huge pages, if the machine
// leaves that to the program (mode "madvise"), and says what it did. It is for a batch job that
// is about to grow a heap of that size: the n bytes are mapped at once and count toward no
// memory limit until the program's own objects fill them, but they stay mapped. Where the mode
// is "always" there is nothing to do; where huge pages are off or cannot be had, nothing is
// done and Result.Why says why.
func Reserve(n uint64) Result {
	read := os.ReadFile
	d := decide(machine{
		mode:       ModeOf(read),
		godebug:    os.Getenv("GODEBUG"),
		overcommit: firstLine(read, overcommitPath),
		memTotal:   memTotal(read),
	}, n)
	if d.mark == 0 {
		return Result{Mode: d.mode, Why: d.why}
	}
	if err := markHeap(d.mark); err != nil {
		return Result{Mode: d.mode, Why: fmt.Sprintf("marking the heap failed: %v", err)}
	}
	return Result{Mode: d.mode, Marked: d.mark}
}

// machine is what decide reads of the machine and the process's settings.
type machine struct {
	mode       string // the transparent-huge-page mode, "" if unknown
	godebug    string // the GODEBUG environment variable
	overcommit string // vm.overcommit_memory, "" if unknown
	memTotal   uint64 // bytes of RAM, 0 if unknown
}

// decision is how much heap to mark, or why none.
type decision struct {
	mode string
	mark uint64
	why  string
}

// decide is how much of the n bytes asked for to mark on m. Half the machine's memory at most:
// the stretch is mapped whole, and a kernel that overcommits heuristically refuses a mapping much
// larger than the memory it has, which the runtime cannot survive.
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
	case m.overcommit == "2":
		d.why = "none: the kernel does not overcommit memory (vm.overcommit_memory=2), so a heap mapped ahead would take memory the day may not use"
	default:
		d.mark = n
		if m.memTotal > 0 {
			d.mark = min(n, m.memTotal/2)
		}
		if d.mark == 0 {
			d.why = "none asked for"
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

// memTotal is the machine's RAM from /proc/meminfo, or 0 if it cannot be read.
func memTotal(read func(string) ([]byte, error)) uint64 {
	b, err := read(meminfoPath)
	if err != nil {
		return 0
	}
	kb, _ := kilobytesOf(string(b), "MemTotal:")
	return kb << 10
}

// Backed is how many bytes of this process's memory sit on huge pages now (AnonHugePages in
// /proc/self/smaps_rollup).
func Backed() (uint64, error) {
	b, err := os.ReadFile(rollupPath)
	if err != nil {
		return 0, fmt.Errorf("read the memory on huge pages: %w", err)
	}
	kb, ok := kilobytesOf(string(b), "AnonHugePages:")
	if !ok {
		return 0, fmt.Errorf("read the memory on huge pages: no AnonHugePages line in %s", rollupPath)
	}
	return kb << 10, nil
}

// kilobytesOf is the value of the "<key> <n> kB" line of a /proc file.
func kilobytesOf(text, key string) (uint64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}
