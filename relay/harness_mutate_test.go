//go:build mutate

package relay_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/scenarios"
)

// The harness as part of relay's own tests, for mutation testing only (`make mutate` builds with
// the mutate tag): a mutant of the relay core survives only if the relay's unit and transcript
// tests, the scenario library and the push-rule property all still pass. Everything here is
// fixed (seed 1, a set number of checks), so a mutant's verdict does not change between runs.

// mutatePropertyChecks is how many checks the property runs here: enough to reach every state
// it looks for with seed 1, small enough for one run per mutant.
const mutatePropertyChecks = "100"

// TestHarnessScenarioLibraryPasses plays every library scenario in virtual time with seed 1,
// each watched by the invariant oracle, and wants each one to pass.
func TestHarnessScenarioLibraryPasses(t *testing.T) {
	files, err := filepath.Glob("../scenarios/library/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no library scenarios found from relay/")
	for _, f := range files {
		sc, err := scenarios.Load(f)
		require.NoError(t, err, f)
		res := scenarios.Run(context.Background(), sc, scenarios.Options{Seed: 1})
		require.True(t, res.Passed, "%s failed: %s", filepath.Base(f), res.Error)
	}
}

// TestHarnessPushRuleProperty runs sim's TestPropertyPushRuleCapsAndNoLoss with a fixed seed
// and check count. Test code of another package cannot be imported, so it runs as a child go
// test of the module this copy of relay belongs to.
func TestHarnessPushRuleProperty(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), "go", "test", "-count=1", "-timeout=5m",
		"-run", "^TestPropertyPushRuleCapsAndNoLoss$",
		"./sim/", "-rapid.checks="+mutatePropertyChecks, "-rapid.seed=1")
	cmd.Dir = ".."
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the push-rule property failed:\n%s", out)
}
