package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAWakerFiresOnceAtItsEarliestWakeUp: of the wake-ups asked for, only the earliest pending
// one runs; those superseded or reset do nothing when their events come due, and the waker's
// reused events keep doing so over many rounds.
func TestAWakerFiresOnceAtItsEarliestWakeUp(t *testing.T) {
	eng := NewEngine(Epoch)
	var k waker
	var fired []time.Duration
	fire := func() { fired = append(fired, eng.Now().Sub(Epoch)) }
	at := func(d time.Duration) time.Time { return eng.Now().Add(d) }
	for round := range 50 {
		start := eng.Now().Sub(Epoch)
		k.arm(eng, at(30*time.Second), fire)
		k.arm(eng, at(40*time.Second), fire) // later than the pending one: ignored
		k.arm(eng, at(10*time.Second), fire) // earlier: supersedes the 30 s one
		k.arm(eng, at(20*time.Second), fire)
		eng.RunUntil(Epoch.Add(start + time.Minute))
		require.Equal(t, []time.Duration{start + 10*time.Second}, fired, "round %d", round)
		fired = nil

		k.arm(eng, at(5*time.Second), fire)
		k.reset()
		eng.RunUntil(Epoch.Add(start + 2*time.Minute))
		require.Empty(t, fired, "a reset wake-up does not run (round %d)", round)
	}
	n := 0
	count := func() { n++ }
	allocs := testing.AllocsPerRun(100, func() {
		k.arm(eng, at(time.Second), count)
		k.arm(eng, at(time.Millisecond), count)
		eng.RunUntil(eng.Now().Add(2 * time.Second))
	})
	require.Zero(t, allocs, "the waker's events are reused, not made per wake-up")
	require.Equal(t, 101, n) // AllocsPerRun runs it once more to warm up
}
