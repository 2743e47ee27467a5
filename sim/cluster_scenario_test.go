package sim_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/scenarios"
)

// A push the cluster decides and cancels within one instant (FCM's UNREGISTERED for the token's
// previous push arrives as the next is decided) never reaches FCM on the cluster twin.
func TestClusterTwinSendsNoPushCancelledInItsInstant(t *testing.T) {
	sc, err := scenarios.Load("testdata/cluster-push-cancelled-in-its-instant.yaml")
	require.NoError(t, err)
	rep := scenarios.Run(context.Background(), sc, scenarios.Options{})
	require.True(t, rep.Passed, "violations: %+v; error: %s", rep.Oracle.Violations, rep.Error)
}

// A connection's first partition (its lobby, before the login) may let it go after its user's
// partition took it: the twin's oracle follows the core that holds the connection now, so the
// late close is not taken for the connection's end (the cluster property's counterexample).
func TestClusterTwinFollowsTheCoreThatHoldsAConnection(t *testing.T) {
	sc, err := scenarios.Load("testdata/cluster-connection-leaves-its-lobby-late.yaml")
	require.NoError(t, err)
	rep := scenarios.Run(context.Background(), sc, scenarios.Options{})
	require.True(t, rep.Passed, "violations: %+v; error: %s", rep.Oracle.Violations, rep.Error)
}
