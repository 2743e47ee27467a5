package sim_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
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
	// PUSHLAB_LIVE_CHECKS sets another count (make prop does).
	liveChecks = 40
	liveSteps  = 16
)

// liveCheckCount is how many checks the live property runs: its own number, not the virtual
// properties' (-rapid.checks, RAPID_CHECKS), so that what rapid reports is what ran.
func liveCheckCount(t *testing.T) int {
	v, ok := os.LookupEnv("PUSHLAB_LIVE_CHECKS")
	if !ok {
		return liveChecks
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "PUSHLAB_LIVE_CHECKS=%q: a number of checks", v)
	require.Positive(t, n, "PUSHLAB_LIVE_CHECKS")
	return n
}

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
	// rapid reads its check count from its flag at each Check: set it to the live property's own
	// for this test, and put the virtual properties' back after.
	checks := flag.Lookup("rapid.checks")
	require.NotNil(t, checks)
	prev := checks.Value.String()
	require.NoError(t, checks.Value.Set(strconv.Itoa(liveCheckCount(t))))
	defer func() { require.NoError(t, checks.Value.Set(prev)) }()
	runs := 0
	synctest.Test(t, func(t *testing.T) {
		rapid.Check(bubbleT{t}, func(rt *rapid.T) {
			runs++
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
		t.Logf("%d live checks; reach: %+v", runs, *r)
		require.Equal(t, liveCheckCount(t), runs, "the live property runs the checks it says")
		require.Positive(t, r.PushToKilled, "the live runs never pushed a killed device")
	}
}
