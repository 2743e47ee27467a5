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
		"  - pushSettings: {enabled: false}\n":                                       "whose? give user",
		"  - pushSettings: {user: alice, device: alice-phone, enabled: false}\n":     "not both",
		"  - pushSettings: {user: alice}\n":                                          "enabled is required",
		"  - pushSettings: {device: carol-phone, enabled: true}\n":                   `unknown device "carol-phone"`,
		"  - pushSettings: {user: alice, enabled: false, conv: c2c_bob}\n":           `unknown field "conv"`,
		"  - pushSettings: {user: alice, app: 7, enabled: false}\n":                  "app 7 is not in apps",
		"  - pushSettings: {device: alice-phone, app: 1400000001, enabled: false}\n": "app goes with user",
	} {
		_, err := Parse("s.yaml", []byte(header+body))
		require.ErrorContains(t, err, "s.yaml:6:", body)
		require.ErrorContains(t, err, want, body)
	}
}

// The administrator's step names the app whose settings it sets: alice uses two apps, and only
// app 6's pushes are turned off, though her first device is on app 5.
func TestPushSettingsStepSetsTheNamedApp(t *testing.T) {
	const src = `name: two apps
apps: [{sdkAppId: 5}, {sdkAppId: 6}]
certificates: [{id: 1, app: 5}, {id: 2, app: 6}]
devices:
  - {id: alice-5, user: alice, app: 5}
  - {id: bob-5, user: bob, app: 5}
  - {id: alice-6, user: alice, app: 6}
  - {id: bob-6, user: bob, app: 6}
steps:
  - login: alice-5
  - login: bob-5
  - login: alice-6
  - login: bob-6
  - pushSettings: {user: alice, app: 6, enabled: false}
  - kill: alice-5
  - kill: alice-6
  - send: {from: bob-5, to: alice, text: in five}
  - send: {from: bob-6, to: alice, text: in six}
  - expect: {device: alice-5, push: {within: 5s, body: in five}}
  - expect: {device: alice-6, noPush: {for: 2s}}
  - expect: {device: alice-6, trace: {reason: user-disabled}}
`
	sc, err := Parse("s.yaml", []byte(src))
	require.NoError(t, err)
	res := Run(context.Background(), sc, Options{Seed: 1})
	require.True(t, res.Passed, "%s %+v", res.Error, res.Expectations)
}
