package load

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/pushlab/pushlab/internal/proccpu"
)

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ), 100 a second on every
// Linux architecture Go runs on.
const clockTicks = 100

// CPUUse is the processor time two processes used over a stretch of wall-clock time: the relays
// this run started (summed) and the process generating the load (its phones, its fakefcm and
// their device channels).
type CPUUse struct {
	Wall, Relay, Bench time.Duration
}

// Cores is the processors' worth of CPU a use of cpu over the stretch took (1 is one core busy
// throughout); 0 when the stretch is empty.
func (c CPUUse) Cores(cpu time.Duration) float64 {
	if c.Wall <= 0 {
		return 0
	}
	return cpu.Seconds() / c.Wall.Seconds()
}

// RelayPerPush is the relays' CPU time per push delivered over the stretch; 0 when none was.
func (c CPUUse) RelayPerPush(pushes int) time.Duration {
	if pushes <= 0 {
		return 0
	}
	return c.Relay / time.Duration(pushes)
}

// RelayPerPushUs is RelayPerPush in microseconds, as the reports give it.
func (c CPUUse) RelayPerPushUs(pushes int) float64 {
	return float64(c.RelayPerPush(pushes)) / float64(time.Microsecond)
}

// OneCoreCapacity is the pushes per second one core would deliver at a CPU cost of perPush each,
// nothing else running on it; 0 for a cost of 0.
func OneCoreCapacity(perPush time.Duration) float64 {
	if perPush <= 0 {
		return 0
	}
	return float64(time.Second) / float64(perPush)
}

// procCPU is the user and system CPU time process pid has used, all its threads together (the
// 14th and 15th fields of /proc/<pid>/stat).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read process %d's CPU time: %w", pid, err)
	}
	d, err := parseProcStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	return d, nil
}

// parseProcStatCPU reads utime + stime from a /proc/<pid>/stat line. The command name, the
// second field, is in parentheses and may hold spaces and parentheses itself: the fields are
// counted from the last closing parenthesis.
func parseProcStatCPU(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("stat %q: no command name", stat)
	}
	// After the name: state (field 3), ppid, … utime is field 14, stime field 15.
	f := bytes.Fields(stat[end+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("stat %q: %d fields after the name, want more than %d", stat, len(f), stime)
	}
	var ticks int64
	for _, k := range []int{utime, stime} {
		n, err := strconv.ParseInt(string(f[k]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat field %d %q: %w", k+3, f[k], err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// cpuMark is a reading of the relays' and this process's CPU times at an instant.
type cpuMark struct {
	at           time.Time
	relay, bench time.Duration
	ok           bool
}

// cpuNow reads the started relays' CPU times, summed, and this process's; not ok when this run
// started no relay or a reading failed.
func (s *servers) cpuNow() cpuMark {
	m := cpuMark{at: time.Now(), ok: len(s.procs) > 0}
	for _, p := range s.procs {
		d, err := procCPU(p.PID())
		if err != nil {
			m.ok = false
			break
		}
		m.relay += d
	}
	bench, err := proccpu.Self()
	m.bench, m.ok = bench, m.ok && err == nil
	return m
}

// since is the CPU used from mark from to m; zero when either reading failed.
func (m cpuMark) since(from cpuMark) CPUUse {
	if !m.ok || !from.ok {
		return CPUUse{}
	}
	return CPUUse{Wall: m.at.Sub(from.at), Relay: m.relay - from.relay, Bench: m.bench - from.bench}
}
