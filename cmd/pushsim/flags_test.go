package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim/live"
)

// A flag the chosen mode cannot honour is refused before anything runs (exit 2), naming it.
func TestFlagsAModeCannotHonourAreRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--fcm", "http://127.0.0.1:4000", "x.yaml"}, "--fcm names the fakefcm of a relay started elsewhere"},
		{[]string{"load", "--virtual", "--memory-store"}, "--memory-store: live-mode flags"},
		{[]string{"load", "--virtual", "--load-procs", "2"}, "--load-procs: live-mode flags"},
		{[]string{"load", "--virtual", "--nodes", "3"}, "--nodes: live-mode flags"},
		{[]string{"load", "--nodes", "3", "--relay", "http://r", "--fcm", "http://f"}, "--nodes: flags for the relay this run starts"},
		{[]string{"load", "--nodes", "3", "--memory-store"}, "--memory-store is for one relay"},
		{[]string{"load", "--virtual", "--journal-store"}, "--journal-store: live-mode flags"},
		{[]string{"load", "--relay", "http://r", "--fcm", "http://f", "--journal-store"}, "--journal-store: flags for the relay this run starts"},
		{[]string{"load", "--nodes", "3", "--journal-store"}, "--journal-store is for one relay"},
		{[]string{"load", "--memory-store", "--journal-store"}, "--memory-store and --journal-store: the started relay runs on one store"},
		{[]string{"load", "--postgres", "postgres://x"}, "give --nodes N (N ≥ 2) too"},
		{[]string{"load", "--nats", "nats://x"}, "give --nodes N (N ≥ 2) too"},
		{[]string{"load", "--virtual", "--relay", "http://r", "--fcm", "http://f"}, "--relay, --fcm: live-mode flags"},
		{[]string{"load", "--relay", "http://r", "--fcm", "http://f", "--relay-bin", "bin/relay"}, "--relay-bin: flags for the relay this run starts"},
		{[]string{"load", "--relay", "http://r", "--fcm", "http://f", "--relay-logs", "logs"}, "--relay-logs: flags for the relay this run starts"},
		{[]string{"load", "--virtual", "--relay-logs", "logs"}, "--relay-logs: live-mode flags"},
	} {
		code, _, errOut := pushsim(tc.args...)
		require.Equal(t, 2, code, "%v: %s", tc.args, errOut)
		require.Contains(t, errOut, tc.want, "%v", tc.args)
	}
}

// A remote run's report keeps its command line without the admin key, and its replay command
// names only the flags given.
func TestRemoteRunReportHidesTheAdminKey(t *testing.T) {
	st, err := live.StartStack(context.Background(), live.StackConfig{Seed: 1, AdminKey: "remote-admin-key-0123456789"})
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	dir := t.TempDir()
	file := filepath.Join(dir, "tiny.yaml")
	require.NoError(t, os.WriteFile(file, []byte(tinyScenario), 0o644))
	out := filepath.Join(dir, "out")
	code, stdout, errOut := pushsim("run", "--relay", st.RelayURL, "--admin-key", st.AdminKey, "--fcm", st.FCMURL, "--out", out, file)
	require.Equal(t, 0, code, "%s\n%s", stdout, errOut)
	rep, err := reports.ReadJSON(filepath.Join(out, reports.JSONFile))
	require.NoError(t, err)
	require.Equal(t, "remote", rep.Run.Mode)
	require.Contains(t, rep.Run.Command, "--admin-key ***")
	for _, f := range []string{reports.JSONFile, reports.JUnitFile, reports.HTMLFile} {
		b, err := os.ReadFile(filepath.Join(out, f))
		require.NoError(t, err)
		require.NotContains(t, string(b), st.AdminKey, f)
	}
	require.True(t, strings.HasPrefix(rep.Run.Replay, "pushsim run --relay "+st.RelayURL+" --fcm "+st.FCMURL+" --seed 1 "), rep.Run.Replay)
	require.NotContains(t, stdout, st.AdminKey)
}
