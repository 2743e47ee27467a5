package scenarios

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// The library's push-settings scenario (50) in both modes: pushes off from the app, none pushed
// but all synced, kept across a restart, back on from the administrator, the next one pushed.
func TestPushSettingsScenarioPassesInBothModes(t *testing.T) {
	sc, err := Load("library/50-user-turns-pushes-off-and-on.yaml")
	require.NoError(t, err)
	for _, live := range []bool{false, true} {
		res := Run(context.Background(), sc, Options{Seed: 1, Live: live})
		require.True(t, res.Passed, "live %v: %s %+v", live, res.Error, res.Expectations)
		require.NotNil(t, res.Oracle)
		require.True(t, res.Oracle.Ran, "live %v: the oracle watched the run", live)
		require.Empty(t, res.Oracle.Violations, "live %v", live)
	}
}

// The step is refused where it stands when it names no one, both, or no setting.
func TestPushSettingsStepErrors(t *testing.T) {
	for body, want := range map[string]string{
		"  - pushSettings: {enabled: false}\n":                                   "whose? give user",
		"  - pushSettings: {user: alice, device: alice-phone, enabled: false}\n": "not both",
		"  - pushSettings: {user: alice}\n":                                      "enabled is required",
		"  - pushSettings: {device: carol-phone, enabled: true}\n":               `unknown device "carol-phone"`,
		"  - pushSettings: {user: alice, enabled: false, conv: c2c_bob}\n":       `unknown field "conv"`,
	} {
		_, err := Parse("s.yaml", []byte(header+body))
		require.ErrorContains(t, err, "s.yaml:6:", body)
		require.ErrorContains(t, err, want, body)
	}
}
