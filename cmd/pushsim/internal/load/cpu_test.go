package load

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// utime and stime are the 14th and 15th fields, counted past a command name that may hold
// spaces and parentheses, in ticks of a hundredth of a second.
func TestProcStatCPUIsUserPlusSystemTime(t *testing.T) {
	line := []byte("4242 (relay (x) 2) S 1 4242 1 0 -1 4194560 900 0 0 0 1234 56 7 8 20 0 9 0 100 1000 200 0\n")
	got, err := parseProcStatCPU(line)
	require.NoError(t, err)
	require.Equal(t, 12900*time.Millisecond, got) // (1234 + 56) ticks
	_, err = parseProcStatCPU([]byte("4242 (relay) S 1 2 3"))
	require.Error(t, err, "too few fields")
	_, err = parseProcStatCPU([]byte("4242 relay S"))
	require.Error(t, err, "no command name")
}

// This process's own stat file reads, and its CPU time does not go backwards.
func TestProcCPUReadsThisProcess(t *testing.T) {
	a, err := procCPU(os.Getpid())
	require.NoError(t, err)
	b, err := procCPU(os.Getpid())
	require.NoError(t, err)
	require.GreaterOrEqual(t, b, a)
}

// CPU per push is the relay's CPU over the pushes; cores are CPU over wall time; one core's
// capacity is a second over the cost of a push.
func TestCPUUseArithmetic(t *testing.T) {
	u := CPUUse{Wall: 4 * time.Second, Relay: 2 * time.Second, Bench: 6 * time.Second}
	require.Equal(t, 100*time.Microsecond, u.RelayPerPush(20_000))
	require.Equal(t, time.Duration(0), u.RelayPerPush(0))
	require.InDelta(t, 100.0, u.RelayPerPushUs(20_000), 1e-9)
	require.InDelta(t, 0.5, u.Cores(u.Relay), 1e-9)
	require.InDelta(t, 1.5, u.Cores(u.Bench), 1e-9)
	require.Zero(t, CPUUse{Relay: time.Second}.Cores(time.Second), "an empty stretch")
	require.InDelta(t, 10_000, OneCoreCapacity(100*time.Microsecond), 1e-9)
	require.Zero(t, OneCoreCapacity(0))

	from := cpuMark{at: time.Unix(10, 0), relay: time.Second, bench: 2 * time.Second, ok: true}
	to := cpuMark{at: time.Unix(14, 0), relay: 3 * time.Second, bench: 8 * time.Second, ok: true}
	require.Equal(t, u, to.since(from))
	to.ok = false
	require.Equal(t, CPUUse{}, to.since(from), "a failed reading measures nothing")
}
