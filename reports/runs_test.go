package reports_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/scenarios"
)

// Two small scenarios played in the virtual mode: one fails (a foreground phone gets the
// message live, not a push), one passes.
const (
	failingName     = "a foreground phone is expected to get a push"
	failingExpect   = `a push saying "hi" on alice-phone within 2s`
	failingScenario = `
name: ` + failingName + `
devices:
  - {id: alice-phone, user: alice}
  - {id: bob-phone, user: bob}
steps:
  - login: alice-phone
  - login: bob-phone
  - send: {from: bob-phone, to: alice, text: hi}
  - expect: {device: alice-phone, push: {within: 2s, body: hi}}
`
	passingName     = "a killed phone gets a push"
	passingScenario = `
name: ` + passingName + `
devices:
  - {id: carol-phone, user: carol}
  - {id: dave-phone, user: dave}
  - {id: dave-tablet, user: dave, platform: ipad}
steps:
  - login: carol-phone
  - login: dave-phone
  - login: dave-tablet
  - kill: carol-phone
  - send: {from: dave-phone, to: carol, text: hello}
  - expect: {device: carol-phone, push: {within: 5s, body: hello}}
`
)

// playReport plays scenarios in the virtual mode with seed 1 and completes their report.
func playReport(tb testing.TB, scs ...*scenarios.Scenario) *reports.Report {
	tb.Helper()
	r := &reports.Report{Schema: reports.SchemaVersion, Run: reports.Run{Seed: 1, Mode: "virtual",
		Command: "pushsim run --seed 1", Replay: "pushsim run --seed 1 failing.yaml passing.yaml"}}
	for _, sc := range scs {
		r.Scenarios = append(r.Scenarios, scenarios.Run(context.Background(), sc, scenarios.Options{Seed: 1}))
	}
	reports.Complete(r)
	return r
}

// twoScenarioReport is the run of the failing and the passing scenario, in that order of files
// reversed, so that putting failures first is the page's doing.
func twoScenarioReport(t *testing.T) *reports.Report {
	t.Helper()
	passing, err := scenarios.Parse("passing.yaml", []byte(passingScenario))
	require.NoError(t, err)
	failing, err := scenarios.Parse("failing.yaml", []byte(failingScenario))
	require.NoError(t, err)
	r := playReport(t, passing, failing)
	require.True(t, r.Scenarios[0].Passed, "%+v", r.Scenarios[0].Expectations)
	require.False(t, r.Scenarios[1].Passed)
	require.Equal(t, failingExpect, r.Scenarios[1].Expectations[0].Text)
	return r
}

// libraryReport plays the whole scenario library.
func libraryReport(tb testing.TB) *reports.Report {
	tb.Helper()
	files, err := scenarios.Expand([]string{filepath.Join("..", "scenarios", "library")})
	require.NoError(tb, err)
	var scs []*scenarios.Scenario
	for _, f := range files {
		sc, err := scenarios.Load(f)
		require.NoError(tb, err)
		scs = append(scs, sc)
	}
	return playReport(tb, scs...)
}
