package scenarios

import (
	"context"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/sim/oracle"
)

// switchUser reads as {device, user}, names both, and writes back as it reads.
func TestSwitchUserStepParsesAndWrites(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(header+"  - switchUser: {device: alice-phone, user: carol}\n"))
	require.NoError(t, err)
	st := sc.Steps[0]
	require.Equal(t, StepSwitchUser, st.Kind)
	require.Equal(t, "alice-phone", st.Device)
	require.Equal(t, "carol", st.User)
	out, err := yaml.Marshal(st)
	require.NoError(t, err)
	require.Equal(t, "switchUser:\n  device: alice-phone\n  user: carol\n", string(out))

	for body, want := range map[string]string{
		"  - switchUser: {device: alice-phone}\n":              `s.yaml:6:5: step 1 (switchUser): to whom? switchUser: {device: alice-phone, user: bob}`,
		"  - switchUser: {device: carol-phone, user: carol}\n": `unknown device "carol-phone"`,
		"  - switchUser: alice-phone\n":                        "s.yaml:6:",
		"  - switchUser: {device: alice-phone, usr: carol}\n":  `unknown field "usr"`,
	} {
		_, err := Parse("s.yaml", []byte(header+body))
		require.ErrorContains(t, err, want, body)
	}
}

// A phone changes hands only once its user logged out: a switch while alice is logged in fails
// the step, saying why; after her logout it goes through, the report's lane names both users,
// and the runner waits for the relay to see the phone as carol's (after a restart, and a kill).
func TestSwitchUserRunsAndSaysWhyItCannot(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(header+`  - login: alice-phone
  - switchUser: {device: alice-phone, user: carol}
  - logout: alice-phone
  - switchUser: {device: alice-phone, user: carol}
  - login: alice-phone
  - restartRelay:
  - kill: alice-phone
`))
	require.NoError(t, err)
	res := Run(context.Background(), sc, Options{Seed: 1})
	require.False(t, res.Passed)
	require.Equal(t, "switchUser carol on alice-phone: alice is logged in on the app (log out first)", res.Steps[1].Error)
	require.Equal(t, "alice-phone changes hands: alice to carol", res.Steps[3].Text)
	for _, i := range []int{0, 2, 3, 4, 5, 6} {
		require.Empty(t, res.Steps[i].Error, "step %d", i+1)
	}
	require.Equal(t, "alice-phone logs in as carol", res.Steps[4].Text)
	require.Equal(t, "alice → carol", res.Devices[0].User)
	require.Empty(t, res.Oracle.Violations)
}

// The library's shared phone: the runner tells the oracle of the phone's new identity, so the
// oracle follows bob's report of the token and sees it move from alice, still logged in.
func TestSharedPhoneScenarioMovesTheToken(t *testing.T) {
	sc, err := Load("library/42-shared-phone-pushes-only-the-user-who-reported-the-token-last.yaml")
	require.NoError(t, err)
	ctx := context.Background()
	o := oracle.New(oracle.Config{})
	w, err := openWorld(ctx, sc, Options{Seed: 1}, o)
	require.NoError(t, err)
	r := &runner{sc: sc, w: w, oracle: o}
	r.run(ctx)
	require.NoError(t, w.Close())
	require.True(t, r.out.Passed, "%s %+v", r.out.Error, r.out.Oracle)
	require.Equal(t, 1, o.Reach().TokenMoved)
}
