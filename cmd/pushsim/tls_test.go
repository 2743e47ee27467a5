package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/testca"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/sender"
	relayserver "github.com/pushlab/pushlab/relay/server"
	"github.com/pushlab/pushlab/reports"
)

// childArgsEnv, in a child of TestRemoteRunOverTLS, holds the pushsim command line it runs
// (one argument a line).
const childArgsEnv = "PUSHSIM_TEST_CHILD_ARGS"

// TestRemoteRunOverTLS runs `pushsim run --relay https://… --fcm https://…` against a relay and a
// fakefcm serving TLS with certificates of a test CA. pushsim runs in a child process, since Go
// reads the system roots once per process: with SSL_CERT_FILE naming the CA it trusts both
// servers and the scenario passes; without, it stops on the certificate — pushsim adds no roots
// of its own and drops none.
func TestRemoteRunOverTLS(t *testing.T) {
	if args := os.Getenv(childArgsEnv); args != "" {
		code, stdout, stderr := pushsim(strings.Split(args, "\n")...)
		fmt.Print(stdout)
		fmt.Fprint(os.Stderr, stderr)
		os.Exit(code)
	}
	ca := testca.New(t)
	fcm, err := fcmserver.ListenTLS("127.0.0.1:0", fcmserver.Config{Core: fakefcm.Config{Seed: 1}}, ca.ServerConfig())
	require.NoError(t, err)
	defer fcm.Shutdown(context.Background())
	const adminKey = "remote-tls-admin-key-0123456789"
	rs, err := relayserver.ListenTLS(t.Context(), "127.0.0.1:0", relayserver.Config{Store: relay.NewMemoryStore(),
		Sender:   sender.New(sender.Config{Transport: &http.Transport{TLSClientConfig: ca.ClientConfig()}}),
		AdminKey: secret.New(adminKey)}, ca.ServerConfig())
	require.NoError(t, err)
	defer rs.Shutdown(context.Background())
	require.True(t, strings.HasPrefix(rs.URL, "https://") && strings.HasPrefix(fcm.URL, "https://"))

	dir := t.TempDir()
	file := filepath.Join(dir, "tiny.yaml")
	require.NoError(t, os.WriteFile(file, []byte(tinyScenario), 0o644))
	out := filepath.Join(dir, "out")
	args := []string{"run", "--relay", rs.URL, "--admin-key", adminKey, "--fcm", fcm.URL, "--out", out, file}
	child := func(env ...string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRemoteRunOverTLS$", "-test.count=1")
		cmd.Env = append(append(os.Environ(), childArgsEnv+"="+strings.Join(args, "\n")), env...)
		b, err := cmd.CombinedOutput()
		if err != nil && cmd.ProcessState == nil {
			t.Fatalf("pushsim child: %v", err)
		}
		return cmd.ProcessState.ExitCode(), string(b)
	}

	code, output := child("SSL_CERT_FILE=" + ca.CertFile)
	require.Equal(t, 0, code, output)
	require.Contains(t, output, "PASS  a killed phone gets a push")
	rep, err := reports.ReadJSON(filepath.Join(out, reports.JSONFile))
	require.NoError(t, err)
	require.Equal(t, "remote", rep.Run.Mode)

	code, output = child() // the system roots alone: the test CA is not among them
	require.NotEqual(t, 0, code, output)
	require.Contains(t, output, "certificate signed by unknown authority")
}
