// Package transcript holds what the cores' transcript tests share (relay/testdata/*.txt,
// fakefcm/testdata/*.txt, run with github.com/cockroachdb/datadriven): a reader of a command's
// arguments that refuses the ones it did not read, and the advance of a virtual clock through
// the timers due on the way.
package transcript

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/stretchr/testify/require"
)

// Args reads one command's arguments. Done fails the test on an argument nothing read, so that
// a misspelt one is not silently ignored.
type Args struct {
	t    testing.TB
	td   *datadriven.TestData
	vals map[string][]string
	read map[string]bool
	// by is the first argument when it has no value and starts with "+" (tick +90s).
	by string
}

// NewArgs reads td's arguments.
func NewArgs(t testing.TB, td *datadriven.TestData) *Args {
	a := &Args{t: t, td: td, vals: map[string][]string{}, read: map[string]bool{}}
	for i, arg := range td.CmdArgs {
		if i == 0 && len(arg.Vals) == 0 && strings.HasPrefix(arg.Key, "+") {
			a.by = arg.Key
			continue
		}
		a.vals[arg.Key] = arg.Vals
	}
	return a
}

// Done fails the test if an argument was not read.
func (a *Args) Done() {
	a.t.Helper()
	for k := range a.vals {
		if !a.read[k] {
			a.t.Fatalf("%s: %s does not take %s", a.td.Pos, a.td.Cmd, k)
		}
	}
}

// By returns the command's leading +DURATION (zero if none).
func (a *Args) By() time.Duration {
	a.t.Helper()
	if a.by == "" {
		return 0
	}
	d, err := time.ParseDuration(strings.TrimPrefix(a.by, "+"))
	require.NoError(a.t, err, "%s: %s +DURATION", a.td.Pos, a.td.Cmd)
	return d
}

// Has reports whether the argument is given, and counts it as read.
func (a *Args) Has(k string) bool {
	_, ok := a.vals[k]
	a.read[k] = true
	return ok
}

func (a *Args) get(k string) (string, bool) {
	a.t.Helper()
	v, ok := a.vals[k]
	a.read[k] = true
	if !ok {
		return "", false
	}
	if len(v) != 1 {
		a.t.Fatalf("%s: %s wants one value", a.td.Pos, k)
	}
	return v[0], true
}

// Str returns k=VALUE, or def.
func (a *Args) Str(k, def string) string {
	if v, ok := a.get(k); ok {
		return v
	}
	return def
}

// Flag reports whether the valueless argument k is given.
func (a *Args) Flag(k string) bool {
	a.t.Helper()
	v, ok := a.vals[k]
	a.read[k] = true
	if ok && len(v) != 0 {
		a.t.Fatalf("%s: %s is a flag: it takes no value", a.td.Pos, k)
	}
	return ok
}

// List returns k=(A, B, …).
func (a *Args) List(k string) []string {
	a.read[k] = true
	return a.vals[k]
}

// Uint returns k=N, or def.
func (a *Args) Uint(k string, def uint64) uint64 {
	a.t.Helper()
	return parsed(a, k, def, func(v string) (uint64, error) { return strconv.ParseUint(v, 10, 64) })
}

// Int returns k=N, or def.
func (a *Args) Int(k string, def int) int {
	a.t.Helper()
	return parsed(a, k, def, strconv.Atoi)
}

// Float returns k=F, or def.
func (a *Args) Float(k string, def float64) float64 {
	a.t.Helper()
	return parsed(a, k, def, func(v string) (float64, error) { return strconv.ParseFloat(v, 64) })
}

// Dur returns k=DURATION, or def.
func (a *Args) Dur(k string, def time.Duration) time.Duration {
	a.t.Helper()
	return parsed(a, k, def, time.ParseDuration)
}

// parsed returns k's value read by parse, or def when k is absent; a value parse refuses fails
// the test at the command's line.
func parsed[T any](a *Args, k string, def T, parse func(string) (T, error)) T {
	a.t.Helper()
	v, ok := a.get(k)
	if !ok {
		return def
	}
	n, err := parse(v)
	require.NoError(a.t, err, "%s: %s", a.td.Pos, k)
	return n
}

// Clock is a transcript's virtual time: Start is the +0s of the file.
type Clock struct {
	Start, Now time.Time
}

// Since prints t relative to the start: +1m30s.
func (c *Clock) Since(t time.Time) string { return "+" + t.Sub(c.Start).String() }

// Advance moves the clock by d. It ticks the core at every timer due on the way, at the timer's
// own time, and once more at the end; tick returns what the core did, printed. Each tick that
// did something is printed after "> tick @+TIME", and the last one always is, so the output
// says where the clock stopped.
func (c *Clock) Advance(d time.Duration, nextWake func() (time.Time, bool), tick func(now time.Time) string) string {
	end := c.Now.Add(d)
	var b strings.Builder
	printedEnd := false
	step := func(force bool) {
		out := tick(c.Now)
		if force || out != "" {
			fmt.Fprintf(&b, "> tick @%s\n%s", c.Since(c.Now), out)
			printedEnd = c.Now.Equal(end)
		}
	}
	for {
		at, ok := nextWake()
		if !ok || at.After(end) {
			break
		}
		if at.After(c.Now) {
			c.Now = at
		}
		step(false)
	}
	if !printedEnd {
		c.Now = end
		step(true)
	}
	return b.String()
}
