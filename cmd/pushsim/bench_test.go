package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// --only picks parts by name, in the bench's order; --quick keeps the short ones; an unknown
// name, or both flags at once, is refused.
func TestBenchPartsArePickedByName(t *testing.T) {
	names := func(only string, quick bool) []string {
		t.Helper()
		parts, err := pickBenchParts(only, quick)
		require.NoError(t, err)
		var ns []string
		for _, p := range parts {
			ns = append(ns, p.name)
		}
		return ns
	}
	require.Equal(t, []string{"fcm", "core", "memory", "day", "live", "sweep", "cluster"}, names("", false))
	require.Equal(t, []string{"fcm", "core", "memory"}, names("", true))
	require.Equal(t, []string{"sweep"}, names("sweep", false))
	require.Equal(t, []string{"day", "live"}, names("live, day", false))

	_, err := pickBenchParts("sweep,throughput", false)
	require.ErrorContains(t, err, `no part "throughput"; the parts are fcm, core, memory, day, live, sweep, cluster`)
	_, err = pickBenchParts("sweep", true)
	require.Error(t, err)
}

// Flags that cannot work are refused before anything runs (exit 2), naming what is wrong.
func TestBenchRefusesWhatCannotWork(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--only", "nope"}, `no part "nope"`},
		{[]string{"bench", "--only", "day", "--quick"}, "--only and --quick"},
		{[]string{"bench", "--sweep-step", "0"}, "a positive step"},
		{[]string{"bench", "--sweep-step", "4000", "--sweep-max", "2000"}, "no higher than the maximum"},
		{[]string{"bench", "--overload-runs", "0"}, "--overload-runs 0: at least 1"},
		{[]string{"bench", "sweep"}, "takes no arguments"},
	} {
		code, _, errOut := pushsim(tc.args...)
		require.Equal(t, 2, code, "%v: %s", tc.args, errOut)
		require.Contains(t, errOut, tc.want, "%v", tc.args)
	}
}
