package hugeheap

import (
	"errors"
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
// "madvise" alone, never against GODEBUG=disablethp=1 or a kernel that does not overcommit,
// and never more than half the machine's memory.
func TestHeapIsMarkedOnlyWhereTheMachineLeavesItToTheProgram(t *testing.T) {
	const gib = 1 << 30
	fine := machine{mode: "madvise", overcommit: "0", memTotal: 24 * gib}
	require.Equal(t, decision{mode: "madvise", mark: 8 * gib}, decide(fine, 8*gib))

	small := fine
	small.memTotal = 6 * gib
	require.Equal(t, uint64(3*gib), decide(small, 8*gib).mark, "half the machine's memory at most")
	unknown := fine
	unknown.memTotal = 0
	require.Equal(t, uint64(8*gib), decide(unknown, 8*gib).mark, "memory unknown: as asked")
	require.Zero(t, decide(fine, 0).mark)
	require.Equal(t, "none asked for", decide(fine, 0).why)

	for _, c := range []struct {
		name string
		edit func(*machine)
		why  string
	}{
		{"always", func(m *machine) { m.mode = "always" }, "the machine backs every heap with them (mode always)"},
		{"never", func(m *machine) { m.mode = "never" }, "none: the machine's mode is never"},
		{"unknown mode", func(m *machine) { m.mode = "sometimes" }, `none: unknown mode "sometimes"`},
		{"no mode", func(m *machine) { m.mode = "" }, "the machine says nothing of transparent huge pages"},
		{"disablethp", func(m *machine) { m.godebug = "gctrace=1,disablethp=1" }, "none: GODEBUG=disablethp=1 asks for none"},
		{"no overcommit", func(m *machine) { m.overcommit = "2" }, "none: the kernel does not overcommit memory (vm.overcommit_memory=2), so a heap mapped ahead would take memory the day may not use"},
	} {
		m := fine
		c.edit(&m)
		d := decide(m, 8*gib)
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

func TestKilobytesOfReadsProcLines(t *testing.T) {
	rollup := "00400000-7ffd [rollup]\nRss:              917408 kB\nAnonHugePages:    878592 kB\n"
	kb, ok := kilobytesOf(rollup, "AnonHugePages:")
	require.True(t, ok)
	require.Equal(t, uint64(878592), kb)
	_, ok = kilobytesOf(rollup, "MemTotal:")
	require.False(t, ok)
	_, ok = kilobytesOf("MemTotal: lots kB\n", "MemTotal:")
	require.False(t, ok, "not a number")
}

func TestResultSaysWhatTheHeapGot(t *testing.T) {
	require.Equal(t, "8192 MB of heap marked for them ahead of the runs", Result{Mode: "madvise", Marked: 8 << 30}.String())
	require.Equal(t, "none: the machine's mode is never", Result{Mode: "never", Why: "none: the machine's mode is never"}.String())
}
