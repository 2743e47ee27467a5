package lab

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/scenarios"
)

// Actions recorded in the order they landed are kept in the order they were taken: two tabs'
// buttons, the first action slower to settle than the second.
func TestActionsAreKeptInTheOrderTaken(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &Lab{}
	for _, a := range []struct {
		at   time.Duration
		kind scenarios.StepKind
	}{{2 * time.Second, scenarios.StepLogin}, {0, scenarios.StepInstall}, {2 * time.Second, scenarios.StepReportToken}, {time.Second, scenarios.StepLaunch}} {
		l.record(action{At: t0.Add(a.at), Step: scenarios.Step{Kind: a.kind}})
	}
	var got []scenarios.StepKind
	for _, a := range l.actions {
		got = append(got, a.Step.Kind)
	}
	require.Equal(t, []scenarios.StepKind{scenarios.StepInstall, scenarios.StepLaunch, scenarios.StepLogin, scenarios.StepReportToken}, got)
	require.Equal(t, 1, l.causeOf(t0.Add(1500*time.Millisecond)), "the last action taken before")
}
