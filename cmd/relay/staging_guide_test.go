package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/testca"
)

// guideBlocks are the sh blocks of the README's staging guide, between its markers, in order.
func guideBlocks(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "<!-- staging-guide -->")
	require.True(t, ok, "the README's staging guide has lost its opening marker")
	guide, _, ok := strings.Cut(rest, "<!-- /staging-guide -->")
	require.True(t, ok, "the README's staging guide has lost its closing marker")
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(guide, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// buildBinary compiles one of the project's commands into dir.
func buildBinary(t *testing.T, dir, pkg string) {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	out, err := exec.Command(goBin, "build", "-o", dir+string(os.PathSeparator), pkg).CombinedOutput()
	require.NoError(t, err, "go build %s: %s", pkg, out)
}

// The README's staging guide runs as written: the relay binary on TLS (a test CA) with a SQLite
// file, the app and the certificate created with curl (the check answers ok), the smoke scenario
// through the pushsim binary with the phone's token, and the push trace read with curl. A
// fakefcm stands in for Google through PUSHLAB_FCM_ENDPOINT, the one variable the guide leaves
// empty for the real thing.
func TestStagingGuideRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay and pushsim binaries")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("the staging guide's commands need curl: apt-get install curl (%v)", err)
	}
	blocks := guideBlocks(t)
	require.Len(t, blocks, 4, "relay, app and certificate, smoke run, trace")

	bin := t.TempDir()
	buildBinary(t, bin, "github.com/pushlab/pushlab/cmd/relay")
	buildBinary(t, bin, "github.com/pushlab/pushlab/cmd/pushsim")

	// Google's part, played by fakefcm: the project's credentials and the QA phone's token.
	fcm, err := fcmserver.Listen("127.0.0.1:0", fcmserver.Config{Core: fakefcm.Config{Seed: 11}})
	require.NoError(t, err)
	t.Cleanup(func() { fcm.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fcmc := &control.Client{BaseURL: fcm.URL}
	const pkg = "com.example.im"
	creds, err := fcmc.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "staging-guide", PackageNames: []string{pkg}})
	require.NoError(t, err)
	token, err := fcmc.RegisterDevice(ctx, creds.SenderID, pkg)
	require.NoError(t, err)

	work := t.TempDir()
	saFile := filepath.Join(work, "service-account.json")
	require.NoError(t, os.WriteFile(saFile, creds.ServiceAccount, 0o600))
	ca := testca.New(t)
	leaf := ca.Issue()
	env := append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"PUSHLAB_ADMIN_KEY=staging-guide-admin-key-0123456789",
		"RELAY_LISTEN=127.0.0.1:0",
		"RELAY_DB="+filepath.Join(work, "relay.db"),
		"TLS_CERT="+leaf.CertFile, "TLS_KEY="+leaf.KeyFile,
		"PUSHLAB_SDKAPPID=1400000077", "PUSHLAB_APP_SECRET=staging-guide-app-secret",
		"PUSHLAB_CERTIFICATE_ID=6768", "PUSHLAB_PACKAGE="+pkg, "PUSHLAB_SENDER_ID="+creds.SenderID,
		"PUSHLAB_SERVICE_ACCOUNT="+saFile, "PUSHLAB_FCM_ENDPOINT="+fcm.URL, "PUSHLAB_PHONE_TOKEN="+token,
		"PUSHLAB_CHANNEL_ID=chat_messages",
		// Trust the test CA as a staging host trusts its public one: Go and curl read these.
		"SSL_CERT_FILE="+ca.CertFile, "CURL_CA_BUNDLE="+ca.CertFile)

	// Step 3: the relay, in the background; its "relay listening" line gives its URL.
	relayCmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", "exec "+strings.TrimSpace(blocks[0]))
	relayCmd.Dir, relayCmd.Env = work, env
	stderr, err := relayCmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, relayCmd.Start())
	relayDone := make(chan error, 1)
	logs := &strings.Builder{}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			var l struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "relay listening" {
				urls <- l.URL
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		relayDone <- relayCmd.Wait()
	}()
	var relayURL string
	select {
	case relayURL = <-urls:
	case err := <-relayDone:
		t.Fatalf("the relay stopped before listening: %v\n%s", err, logs.String())
	case <-ctx.Done():
		t.Fatalf("the relay did not listen: %s", logs.String())
	}
	t.Cleanup(func() {
		_ = relayCmd.Process.Signal(os.Interrupt)
		<-relayDone
	})
	require.True(t, strings.HasPrefix(relayURL, "https://"), "the guide's relay serves TLS: %s", relayURL)
	env = append(env, "RELAY="+relayURL)

	run := func(step, block string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", block)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s:\n%s\n%s", step, block, out)
		return string(out)
	}
	// Step 4: the app and the certificate; the check answers ok.
	out := run("create the app and register the certificate", blocks[1])
	require.Contains(t, out, `"check":{"status":"ok"`, "the certificate's check")
	require.NotContains(t, out, "PRIVATE KEY", "the answer masks the service account")
	require.Contains(t, out, `"channelId":"chat_messages"`, "the certificate's default Android channel")

	// Step 6: the smoke scenario, from the repository's own file.
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.NoError(t, os.Symlink(filepath.Join(repo, "scenarios"), filepath.Join(work, "scenarios")))
	out = run("run the smoke scenario", blocks[2])
	require.Contains(t, out, "1 passed, 0 failed", "the smoke scenario")

	// Step 7: the trace shows the pushes FCM accepted for the QA user.
	out = run("read the push trace", blocks[3])
	require.Equal(t, 3, strings.Count(out, `"reason":"fcm-ok"`), "three messages, three pushes accepted:\n%s", out)
	recs, err := fcmc.Messages(ctx, fakefcm.RecordFilter{Token: token})
	require.NoError(t, err)
	require.Len(t, recs, 3)
	for _, r := range recs {
		require.Equal(t, "chat_messages", r.Payload.Notification.ChannelID, "each push names the certificate's channel")
	}
}
