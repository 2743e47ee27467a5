package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pushsim serve prints the device lab's and the console's URLs at start, both answer there, and neither the
// printout nor the page carries the app secret or the admin key.
func TestServePrintsTheLabAndTheLabAnswers(t *testing.T) {
	const appSecret, adminKey = "serve-test-app-secret-0123456789", "serve-test-admin-key-0123456789"
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--relay-listen", "127.0.0.1:0", "--fcm-listen", "127.0.0.1:0", "--lab-listen", "127.0.0.1:0",
			"--db", filepath.Join(t.TempDir(), "relay.db"), "--app-secret", appSecret, "--admin-key", adminKey}, w, io.Discard)
		w.Close()
	}()
	var printed strings.Builder
	url, consoleURL := "", ""
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		printed.WriteString(lines.Text() + "\n")
		if f := strings.Fields(lines.Text()); len(f) >= 2 && f[0] == "lab" {
			url = f[1]
		}
		if f := strings.Fields(lines.Text()); len(f) >= 2 && f[0] == "console" {
			consoleURL = f[1]
		}
		if strings.HasPrefix(lines.Text(), "Ctrl-C") {
			break // the last line of the start-up
		}
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		cancel()
		<-done
		t.Fatalf("the lab's URL is not printed:\n%s", printed.String())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()

	res, err := http.Get(url)
	require.NoError(t, err)
	page, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(page), "pushsim device lab")

	// The console's URL is printed too; without a session it shows the sign-in form.
	require.True(t, strings.HasPrefix(consoleURL, "http://127.0.0.1:") && strings.HasSuffix(consoleURL, "/console/"), printed.String())
	res, err = http.Get(consoleURL)
	require.NoError(t, err)
	signIn, err := io.ReadAll(res.Body)
	res.Body.Close()
	require.NoError(t, err)
	require.Equal(t, "/console/login", res.Request.URL.Path)
	require.Contains(t, string(signIn), `name="key"`)
	for _, s := range []string{printed.String(), string(page), string(signIn)} {
		require.NotContains(t, s, appSecret)
		require.NotContains(t, s, adminKey)
	}
	cancel()
	require.NoError(t, <-done)
}
