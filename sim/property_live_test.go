// The race detector of Go 1.26 crashes on this test (SIGSEGV inside ThreadSanitizer's runtime,
// __tsan::SlotLock or StackDepot::Put, in about one run in three): long synctest bubbles with
// many goroutines are what it cannot take. The shells it drives are race-tested by the
// relay/server and fakefcm/server suites; this property runs without -race (make test runs it
// so, as a step of its own).

//go:build !race

package sim_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/scenarios"
	"github.com/pushlab/pushlab/sim/live"
	"github.com/pushlab/pushlab/sim/oracle"
)

const (
	// liveChecks and liveSteps keep the live property short: each check starts real servers.
	liveChecks = 40
	liveSteps  = 16
)

// newLiveRun starts the live twin — fakefcm and the relay (with a memory store) on in-memory
// listeners, inside the test's synctest bubble — with the relay core tapped for the oracle, and
// provisions the spec's world through the port.
func newLiveRun(t require.TestingT, spec worldSpec, r *oracle.Reach) *propRun {
	sc := specScenario(spec)
	p := &propRun{spec: spec, sc: sc, o: scenarios.NewOracle(sc), reach: r}
	w, err := live.Open(context.Background(), live.Config{Seed: spec.Seed, FCM: spec.FCM, DB: live.MemoryDB, InMemory: true,
		Tap: p.o.Tap, Settle: synctest.Wait})
	require.NoError(t, err)
	p.w = w
	p.provision(t)
	return p
}

// bubbleT is a *testing.T inside a synctest bubble, where Deadline is not available: rapid asks
// for it, and gets "no deadline".
type bubbleT struct{ *testing.T }

func (bubbleT) Deadline() (time.Time, bool) { return time.Time{}, false }

// TestPropertyLiveShells runs the same vocabulary against the real relay and fakefcm shells
// (WebSockets, HTTP, the Admin SDK, the send workers), with fewer and shorter runs, and holds
// them to invariants 1–4 (and 5's immediate half). Fake time in a synctest bubble lets a run
// wait hours; nothing sleeps for real.
func TestPropertyLiveShells(t *testing.T) {
	r := &oracle.Reach{}
	synctest.Test(t, func(t *testing.T) {
		checks := 0
		rapid.Check(bubbleT{t}, func(rt *rapid.T) {
			if checks++; checks > liveChecks {
				return // rapid's check count is global; the live property runs fewer
			}
			spec := drawSpec(rt)
			for i := range spec.LoggedIn {
				spec.LoggedIn[i] = true // short runs: start where pushes happen
			}
			lw := newLiveRun(rt, spec, r)
			defer lw.addReach()
			defer func() {
				require.NoError(rt, lw.w.Close())
				synctest.Wait()
			}()
			lw.start()
			actions := lw.actions()
			// No restarts, and no waits of hours: rapid counts its time budget on the bubble's
			// fake clock, so a live run must stay well under an hour of it.
			delete(actions, "restart")
			delete(actions, "waitLong")
			for i := range 6 {
				actions[fmt.Sprintf("killThenBurst#live%d", i)] = actions["killThenBurst"]
			}
			keys := make([]string, 0, len(actions))
			for k := range actions {
				if k != "" {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for range rapid.IntRange(1, liveSteps).Draw(rt, "steps") {
				actions[rapid.SampledFrom(keys).Draw(rt, "action")](rt)
				lw.check(rt)
			}
			lw.settleFor(10 * time.Minute)
			lw.w.Do(func() { lw.o.CheckCaughtUp(lw.w.Now(), lw.loggedInDevices()) })
			recs, err := lw.w.FCMRecords()
			require.NoError(rt, err)
			lw.o.CheckNoThrottle(lw.w.Now(), recs)
			lw.check(rt)
		})
	})
	if !t.Failed() {
		t.Logf("reach: %+v", *r)
		require.Positive(t, r.PushToKilled, "the live runs never pushed a killed device")
	}
}
