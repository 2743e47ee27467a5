package scenarios

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/cmd/relay/relayproc"
	"github.com/pushlab/pushlab/internal/pgtest"
	"github.com/pushlab/pushlab/sim/live"
)

// clusterScenario asks for a cluster and acts on its nodes.
const clusterScenario = `name: nodes
cluster: {nodes: 3, leaseTTL: 2s, renewEvery: 500ms}
devices:
  - {id: alice-phone, user: alice}
steps:
  - login: alice-phone
  - killNode: n2
  - restartNode: n2
`

// On the live twin a scenario's cluster is a cluster of relay processes: its node steps are
// honoured (renewEvery alone is not: a relay node renews every third of its TTL). A relay
// started elsewhere has no nodes pushsim can act on: the cluster and each node step are refused,
// saying where to run them.
func TestLiveTwinHonoursAClusterAndTheRemoteOneRefusesIt(t *testing.T) {
	sc, err := Parse("c.yaml", []byte(clusterScenario))
	require.NoError(t, err)

	lv := positions(t, sc.refusals(live.FeaturesOf(live.Config{}), nil))
	require.Len(t, lv, 1, "%v", lv)
	require.Contains(t, lv[[2]int{2, 47}], "cluster.renewEvery: a relay node renews its leases every third of its lease TTL")

	rm := positions(t, sc.refusals(live.FeaturesOf(live.Config{Remote: &live.Remote{RelayURL: "http://r", FCMURL: "http://f"}}), nil))
	require.Len(t, rm, 3, "%v", rm)
	require.Contains(t, rm[[2]int{2, 10}], "cluster: the remote world's relay is not a cluster pushsim starts")
	require.Contains(t, rm[[2]int{2, 10}], "run it with --live")
	require.Contains(t, rm[[2]int{7, 5}], "killNode: a relay started elsewhere has no nodes pushsim can act on")
	require.Contains(t, rm[[2]int{8, 5}], "restartNode: a relay started elsewhere")
}

// The library's cluster scenarios pass on the live cluster twin: three relay processes, whose
// node steps kill (SIGKILL), restart, pause (SIGSTOP, SIGCONT) and cut them off PostgreSQL for
// real. Their waits are real seconds (about 40 each), so the test runs with
// PUSHLAB_LIVE_CLUSTER=1 (make prop sets it), not in the normal suite.
func TestLibraryClusterScenariosPassOnTheLiveCluster(t *testing.T) {
	if os.Getenv("PUSHLAB_LIVE_CLUSTER") != "1" || testing.Short() {
		t.Skip("the library's cluster scenarios in real time take about 40 s: set PUSHLAB_LIVE_CLUSTER=1")
	}
	if pgtest.Skipped() {
		t.Skip(pgtest.SkipEnv + "=1: the live cluster needs PostgreSQL")
	}
	bin, err := relayproc.Build(t.TempDir())
	require.NoError(t, err)
	files, err := filepath.Glob("library/*-cluster-*.yaml")
	require.NoError(t, err)
	require.Len(t, files, 3, "44, 45 and 51")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			sc, err := Load(f)
			require.NoError(t, err)
			require.NotNil(t, sc.Cluster)
			res := Run(context.Background(), sc, Options{Seed: 1, Live: true, RelayBin: bin})
			var failed []string
			for _, e := range res.Expectations {
				if !e.Held {
					failed = append(failed, e.Text+": seen "+e.Seen)
				}
			}
			require.True(t, res.Passed, "error: %s\nfailed: %s", res.Error, strings.Join(failed, "\n"))
			if strings.HasPrefix(filepath.Base(f), "51-") {
				// It kills the node holding carol's partition wherever the live nodes put it.
				require.Positive(t, unavailableLogins(res, "carol-phone"), "carol's login was never answered 5002: the scenario tested nothing")
			}
		})
	}
}
