package scenarios

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/oracle"
)

// forgetfulRelay plays a scenario on the virtual twin with the oracle watching a relay that
// "forgets" to trace its pushed decisions: what the oracle is told of each Ready lacks them.
func forgetfulRelay(t *testing.T, body string) reports.Scenario {
	t.Helper()
	sc, err := Parse("forgetful.yaml", []byte(body))
	require.NoError(t, err)
	o := oracle.New(oracle.Config{Relay: sc.Relay, FCM: sc.FCM})
	w, err := sim.NewVirtual(sim.VirtualConfig{Seed: 1})
	require.NoError(t, err)
	w.SetTap(func(e sim.TapEvent) {
		if e.Kind == sim.TapReady {
			rd := *e.Ready
			rd.Trace = nil
			for _, te := range e.Ready.Trace {
				if te.Reason != relay.ReasonPushed {
					rd.Trace = append(rd.Trace, te)
				}
			}
			e.Ready = &rd
		}
		o.Tap(e)
	})
	r := &runner{sc: sc, w: w, oracle: o}
	r.run(context.Background())
	return r.out
}

// A broken invariant fails a scenario that has no expectation at all, and the report names the
// invariant, the step during which it broke, when, the device and the evidence.
func TestABrokenInvariantFailsAScenarioWithoutExpectations(t *testing.T) {
	res := forgetfulRelay(t, `name: no expectations
devices:
  - {id: alice-phone, user: alice}
  - {id: bob-phone, user: bob}
steps:
  - login: alice-phone
  - login: bob-phone
  - kill: alice-phone
  - send: {from: bob-phone, to: alice, text: hi}
  - wait: 5s
`)
	require.Empty(t, res.Expectations)
	require.False(t, res.Passed)
	require.True(t, res.Oracle.Ran)
	require.Len(t, res.Oracle.Violations, 1)
	v := res.Oracle.Violations[0]
	require.Equal(t, oracle.PushedOrExplained, v.Invariant)
	require.Equal(t, 4, v.Step, "during the send")
	require.False(t, v.AtEnd)
	require.Equal(t, "alice-phone", v.Device)
	require.GreaterOrEqual(t, v.AtMs, res.Steps[3].AtMs, "at the send, once it reached the relay")
	require.Less(t, v.AtMs, res.Steps[4].AtMs)
	require.Contains(t, v.Evidence, "alice-phone seq 1: the relay owed a decision")
	require.Equal(t, 1, res.Totals.Violations)
}

// Every run on a twin with a tap is watched — the relay tapped, the phones' observations heard
// — and a correct relay breaks nothing: in both modes the oracle saw the kick of an offline
// device (from the tap) and the push to a killed one (from the observations), and the report
// says it ran and found nothing.
func TestTheOracleWatchesEveryTappedRun(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(header+`  - login: alice-phone
  - login: bob-phone
  - kill: alice-phone
  - send: {from: bob-phone, to: alice, text: hi}
  - expect: {device: alice-phone, push: {within: 5s, body: hi}}
  - kick: {user: alice}
`))
	require.NoError(t, err)
	ctx := context.Background()
	for _, live := range []bool{false, true} {
		opt := Options{Seed: 1, Live: live}
		o := oracle.New(oracle.Config{})
		w, err := openWorld(ctx, sc, opt, o)
		require.NoError(t, err)
		r := &runner{sc: sc, w: w, oracle: o}
		r.run(ctx)
		require.NoError(t, w.Close())
		require.True(t, r.out.Passed, "live %v: %s %+v", live, r.out.Error, r.out.Oracle)
		require.Equal(t, oracle.Reach{PushToKilled: 1, OfflineKick: 1}, o.Reach(), "live %v", live)

		res := Run(ctx, sc, opt)
		require.True(t, res.Passed, "live %v: %s %+v", live, res.Error, res.Oracle)
		require.Equal(t, &reports.Oracle{Ran: true, Violations: []reports.Violation{}}, res.Oracle, "live %v", live)
	}
}
