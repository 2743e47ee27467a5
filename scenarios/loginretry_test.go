package scenarios

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Library scenario 51 tests what its name says only if carol's login is in fact answered 5002:
// in virtual time her partition is on the node it kills, whatever the seed, and her phone is
// refused before it logs in.
func TestLoginRetryScenarioMeetsA5002(t *testing.T) {
	sc, err := Load("library/51-cluster-login-while-the-partition-has-no-owner-is-retried.yaml")
	require.NoError(t, err)
	for _, seed := range []uint64{1, 2, 3} {
		res := Run(context.Background(), sc, Options{Seed: seed})
		require.True(t, res.Passed, "seed %d: %s %+v", seed, res.Error, res.Expectations)
		refused := 0
		for _, d := range res.Devices {
			for _, e := range d.Events {
				if d.ID == "carol-phone" && e.Kind == "refused" && strings.HasPrefix(e.Detail, "login: 5002") {
					refused++
				}
			}
		}
		require.Positive(t, refused, "seed %d: carol's login was never answered 5002: the scenario tests nothing", seed)
	}
}
