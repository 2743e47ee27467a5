package hugeheap

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestModeIsTheBracketedWord(t *testing.T) {
	file := func(content string, err error) func(string) ([]byte, error) {
		return func(path string) ([]byte, error) {
			require.Equal(t, modePath, path)
			return []byte(content), err
		}
	}
	require.Equal(t, "madvise", ModeOf(file("always [madvise] never\n", nil)))
	require.Equal(t, "always", ModeOf(file("[always] madvise never\n", nil)))
	require.Equal(t, "never", ModeOf(file("always madvise [never]\n", nil)))
	require.Empty(t, ModeOf(file("", errors.New("no such file"))), "unreadable: say nothing")
	require.Empty(t, ModeOf(file("always madvise never\n", nil)), "no mode chosen: say nothing")
	require.Empty(t, ModeOf(file("always [madvise", nil)), "cut short: say nothing")
}

// TestHeapIsMarkedOnlyWhereTheMachineLeavesItToTheProgram: the heap is marked in mode
// "madvise" alone, never against GODEBUG=disablethp=1, a kernel that does not overcommit or
// anything that cannot be read, and never more than half the machine's memory or half the
// process's address-space limit, saying so when it is capped.
func TestHeapIsMarkedOnlyWhereTheMachineLeavesItToTheProgram(t *testing.T) {
	const gib = 1 << 30
	fine := machine{mode: "madvise", pageSize: 2 << 20, overcommit: "0", memTotal: 24 * gib, wordBits: 64,
		addressLimit: math.MaxUint64, addressLimitKnown: true}
	require.Equal(t, decision{mode: "madvise", mark: 8 * gib}, decide(fine, 8*gib))

	small := fine
	small.memTotal = 6 * gib
	require.Equal(t, decision{mode: "madvise", mark: 3 * gib, why: "capped at half the machine's memory (6144 MB)"}, decide(small, 8*gib))
	limited := fine
	limited.addressLimit = 4 * gib
	require.Equal(t, decision{mode: "madvise", mark: 2 * gib, why: "capped at half the process's address-space limit (4096 MB)"}, decide(limited, 8*gib))
	tiny := fine
	tiny.addressLimit = 2 << 20
	require.Equal(t, decision{mode: "madvise", why: "none: the room left holds no huge page"}, decide(tiny, 8*gib))

	for _, c := range []struct {
		name string
		edit func(*machine)
		n    uint64
		why  string
	}{
		{"always", func(m *machine) { m.mode = "always" }, 8 * gib, "the machine backs every heap with them (mode always)"},
		{"never", func(m *machine) { m.mode = "never" }, 8 * gib, "none: the machine's mode is never"},
		{"unknown mode", func(m *machine) { m.mode = "sometimes" }, 8 * gib, `none: unknown mode "sometimes"`},
		{"no mode", func(m *machine) { m.mode = "" }, 8 * gib, "the machine says nothing of transparent huge pages"},
		{"disablethp", func(m *machine) { m.godebug = "gctrace=1,disablethp=1" }, 8 * gib, "none: GODEBUG=disablethp=1 asks for none"},
		{"32-bit", func(m *machine) { m.wordBits = 32 }, 8 * gib, "none: a 32-bit process has no room to map the heap ahead"},
		{"page size unknown", func(m *machine) { m.pageSize = 0 }, 8 * gib, "none: the huge page's size cannot be read (/sys/kernel/mm/transparent_hugepage/hpage_pmd_size)"},
		{"page size odd", func(m *machine) { m.pageSize = 3 << 20 }, 8 * gib, "none: the huge page's size cannot be read (/sys/kernel/mm/transparent_hugepage/hpage_pmd_size)"},
		{"overcommit unknown", func(m *machine) { m.overcommit = "" }, 8 * gib, "none: the kernel's overcommit setting cannot be read (/proc/sys/vm/overcommit_memory)"},
		{"no overcommit", func(m *machine) { m.overcommit = "2" }, 8 * gib, "none: the kernel does not overcommit memory (vm.overcommit_memory=2), so a heap mapped ahead would take memory the day may not use"},
		{"memory unknown", func(m *machine) { m.memTotal = 0 }, 8 * gib, "none: the machine's memory cannot be read (/proc/meminfo)"},
		{"limits unknown", func(m *machine) { m.addressLimitKnown = false }, 8 * gib, "none: the process's address-space limits cannot be read"},
		{"none asked", func(*machine) {}, 0, "none asked for"},
	} {
		m := fine
		c.edit(&m)
		d := decide(m, c.n)
		require.Zero(t, d.mark, c.name)
		require.Equal(t, c.why, d.why, c.name)
		require.Equal(t, m.mode, d.mode, c.name)
	}
}

func TestDisablethpIsTheLastSettingOfIt(t *testing.T) {
	require.True(t, disablesTHP("disablethp=1"))
	require.True(t, disablesTHP("gctrace=1, disablethp=1"))
	require.False(t, disablesTHP(""))
	require.False(t, disablesTHP("disablethp=0"))
	require.False(t, disablesTHP("disablethp=1,disablethp=0"), "the last one wins")
	require.False(t, disablesTHP("xdisablethp=1"))
}

func TestResultSaysWhatTheHeapGot(t *testing.T) {
	require.Equal(t, "8192 MB of heap marked for them ahead of the runs", Result{Mode: "madvise", Marked: 8 << 30}.String())
	require.Equal(t, "3072 MB of heap marked for them ahead of the runs, capped at half the machine's memory (6144 MB)",
		Result{Mode: "madvise", Marked: 3 << 30, Why: "capped at half the machine's memory (6144 MB)"}.String())
	require.Equal(t, "none: the machine's mode is never", Result{Mode: "never", Why: "none: the machine's mode is never"}.String())
}

func TestNumberIsAByteCount(t *testing.T) {
	require.Equal(t, int64(2097152), number("2097152"))
	require.Zero(t, number(""))
	require.Zero(t, number("-1"))
	require.Zero(t, number("2M"))
}
