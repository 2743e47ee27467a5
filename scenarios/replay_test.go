package scenarios

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/live"
)

// A counterexample the property wrote against a relay that ignored the caps (see the file's
// header): on the real relay its replay passes, with the oracle watching, on the file's seed,
// back to back (the kill and the sends land at the same instant, 1 s after provisioning).
func TestReplayCounterexamplePasses(t *testing.T) {
	sc, err := Load("testdata/replay/caps-ignored.yaml")
	require.NoError(t, err)
	require.False(t, sc.settles())
	res := Run(context.Background(), sc, Options{Seed: 1})
	require.True(t, res.Passed, "%s %+v", res.Error, res.Oracle)
	require.True(t, res.Oracle.Ran)
	require.Len(t, res.Steps, 7)
	for _, st := range res.Steps[3:6] { // kill, send, send: no time passes between them
		require.Equal(t, int64(2000), st.AtMs, "step %d (%s)", st.Index, st.Kind)
	}
	var held bool
	for _, tr := range res.Trace {
		held = held || (tr.Device == "u1-a" && tr.Reason == relay.ReasonCapped && tr.AtMs == 2020)
	}
	require.True(t, held, "the caps hold the second message for a summary")
}

// A replay's seed is its own: a --seed that disagrees is refused at replay.seed, one that
// agrees runs; settle: false is refused on the live and remote twins at replay.settle.
func TestReplayRefusesAnotherSeedAndNonDeterministicTwins(t *testing.T) {
	sc, err := Load("testdata/replay/caps-ignored.yaml")
	require.NoError(t, err)
	c, err := NewChecker(context.Background(), Options{Seed: 5, SeedGiven: true})
	require.NoError(t, err)
	got := positions(t, c.Check(sc))
	require.Len(t, got, 1)
	require.Contains(t, got[[2]int{10, 9}], "replays seed 0 but --seed 5 was given")
	c, err = NewChecker(context.Background(), Options{Seed: 0, SeedGiven: true})
	require.NoError(t, err)
	require.Empty(t, c.Check(sc))
	c, err = NewChecker(context.Background(), Options{Seed: 5})
	require.NoError(t, err)
	require.Empty(t, c.Check(sc), "no --seed: the file's is used")

	require.Empty(t, sc.refusals(sim.VirtualConfig{}.Features(), nil))
	for _, f := range []sim.Features{live.FeaturesOf(live.Config{}), live.FeaturesOf(live.Config{Remote: &live.Remote{RelayURL: "http://r", FCMURL: "http://f"}})} {
		got := positions(t, sc.refusals(f, nil))
		require.Contains(t, got[[2]int{11, 11}], "replay.settle: false", f.Twin)
	}
}

// replay: needs something to pin.
func TestReplayNeedsSeedOrSettle(t *testing.T) {
	_, err := Parse("r.yaml", []byte("name: x\nreplay: {}\ndevices: [{id: a, user: u}]\nsteps: [{kill: a}]\n"))
	require.ErrorContains(t, err, "r.yaml:2:")
	require.ErrorContains(t, err, "say what it pins")
}
