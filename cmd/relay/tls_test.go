package main_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/testca"
	"github.com/pushlab/pushlab/relay"
)

// TestRelayBinaryOverTLS runs the relay binary with TLS files that cannot serve (each refused
// before anything opens or listens, with exit code 1 and a message naming the file and what to
// do), then with a certificate from its config file: apps on wss://, the admin API on https://,
// pushes to a fakefcm on https:// that the relay trusts through SSL_CERT_FILE alone, and a
// renewed certificate put in service by SIGHUP while connections stay up.
func TestRelayBinaryOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary")
	}
	bin := buildRelay(t)
	ca := testca.New(t)
	leaf, other := ca.Issue(), ca.Issue()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	onlyCert := filepath.Join(dir, "only-cert.yaml")
	require.NoError(t, os.WriteFile(onlyCert, []byte("tlsCert: "+leaf.CertFile+"\n"), 0o600))

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"certificate without key", []string{"--tls-cert", leaf.CertFile},
			[]string{"--tls-cert and --tls-key: TLS certificate file " + leaf.CertFile + " has no key file: give its private key too"}},
		{"key without certificate", []string{"--tls-key", leaf.KeyFile},
			[]string{"--tls-cert and --tls-key: TLS key file " + leaf.KeyFile + " has no certificate file"}},
		{"missing certificate file", []string{"--tls-cert", missing, "--tls-key", leaf.KeyFile},
			[]string{"TLS certificate file: open " + missing + ": no such file or directory", "check the path"}},
		{"key of another certificate", []string{"--tls-cert", leaf.CertFile, "--tls-key", other.KeyFile},
			[]string{"TLS key file " + other.KeyFile + " does not go with certificate file " + leaf.CertFile}},
		{"config file certificate without key", []string{"--config", onlyCert},
			[]string{onlyCert + ": tlsCert and tlsKey: TLS certificate file " + leaf.CertFile + " has no key file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "relay.db")
			// A relay that listens instead of refusing is stopped at once, and fails below.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"--listen", "127.0.0.1:0", "--db", db}, tc.args...)...)
			cmd.Env = append(os.Environ(), "PUSHLAB_ADMIN_KEY="+crashAdminKey)
			stderr := &stopOnListening{stop: cancel}
			cmd.Stderr = stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "the relay must refuse, got %v; stderr:\n%s", err, stderr.String())
			require.Equal(t, 1, exit.ExitCode())
			for _, w := range tc.want {
				require.Contains(t, stderr.String(), w)
			}
			require.True(t, strings.HasPrefix(stderr.String(), "relay: "), "the refusal is the first thing said: %s", stderr.String())
			require.NotContains(t, stderr.String(), "relay listening")
			require.NoFileExists(t, db, "refused before the store is opened")
		})
	}

	// The relay's own copy of the certificate files, renewed in place below.
	certFile, keyFile := filepath.Join(dir, "relay-cert.pem"), filepath.Join(dir, "relay-key.pem")
	copyFile(t, leaf.CertFile, certFile)
	copyFile(t, leaf.KeyFile, keyFile)
	fcm, err := fcmserver.ListenTLS("127.0.0.1:0", fcmserver.Config{Core: fakefcm.Config{Seed: 4}}, ca.ServerConfig())
	require.NoError(t, err)
	t.Cleanup(func() { fcm.Shutdown(context.Background()) })
	b := &crashBench{t: t, bin: bin, db: filepath.Join(t.TempDir(), "relay.db"), fcm: fcm, logs: newLogBuffer(),
		// The relay trusts fakefcm's certificate through SSL_CERT_FILE, as Go reads the system
		// roots: nothing in the relay may replace them with a pool of its own.
		env:    []string{"SSL_CERT_FILE=" + ca.CertFile},
		http:   &http.Client{Transport: &http.Transport{TLSClientConfig: ca.ClientConfig()}},
		dialer: &websocket.Dialer{TLSClientConfig: ca.ClientConfig(), HandshakeTimeout: 10 * time.Second}}
	b.fcmc = &control.Client{BaseURL: fcm.URL, HTTP: b.http, Dialer: b.dialer}
	b.cfg = filepath.Join(t.TempDir(), "relay.yaml")
	require.NoError(t, os.WriteFile(b.cfg, []byte(fmt.Sprintf("tlsCert: %s\ntlsKey: %s\n", certFile, keyFile)), 0o600))
	ctx := context.Background()
	b.creds, err = b.fcmc.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "demo", PackageNames: []string{"com.example.im"}})
	require.NoError(t, err)
	b.start()
	defer func() {
		if t.Failed() {
			t.Logf("relay log:\n%s", b.logs)
		}
	}()
	require.True(t, strings.HasPrefix(b.proc.URL, "https://"), "relay listening at %s", b.proc.URL)
	require.Equal(t, leaf.Serial, servedSerial(t, b.proc.URL, ca))

	require.NoError(t, b.admin.PutApp(ctx, relay.AppConfig{SDKAppID: crashApp, Name: "TLS", SecretKey: secret.New(crashAppSecret)}))
	require.NoError(t, b.admin.PutCertificate(ctx, relay.Certificate{SDKAppID: crashApp, ID: v1Cert, PackageName: "com.example.im",
		ServiceAccount: secret.New(string(b.creds.ServiceAccount)), Endpoint: fcm.URL}))
	require.NoError(t, b.admin.PutCertificate(ctx, relay.Certificate{SDKAppID: crashApp, ID: legacyCert, PackageName: "com.example.im",
		ServerKey: secret.New(b.creds.ServerKey), Endpoint: fcm.URL}))
	kate, luke, bob := b.phone("kate", "kate-phone", v1Cert), b.phone("luke", "luke-phone", legacyCert), b.phone("bob", "bob-phone", v1Cert)
	for _, p := range []*phone{kate, luke, bob} {
		b.launch(p, 0)
	}
	require.NoError(t, kate.app.Drop())
	require.NoError(t, luke.app.Drop())
	send := func(to *phone, text string) {
		t.Helper()
		_, err := bob.app.Do(ctx, relay.ClientFrame{Op: relay.OpSend, To: to.user, Text: text})
		require.NoError(t, err)
		b.waitPush(to, text)
	}
	send(kate, "over TLS, HTTP v1")
	send(luke, "over TLS, legacy")

	// A renewed certificate: SIGHUP puts it in service for new connections; bob's stays up.
	copyFile(t, other.CertFile, certFile)
	copyFile(t, other.KeyFile, keyFile)
	require.NoError(t, syscall.Kill(b.proc.PID(), syscall.SIGHUP))
	b.logs.waitFor(t, "TLS certificate reloaded")
	require.Equal(t, other.Serial, servedSerial(t, b.proc.URL, ca))
	send(kate, "after the renewal")
	require.NoError(t, b.proc.Stop())
}

// stopOnListening keeps a relay's stderr and calls stop once the relay says it listens. (It
// holds its buffer rather than embedding it: io.Copy would then call the buffer's ReadFrom and
// pass Write by.)
type stopOnListening struct {
	buf  bytes.Buffer
	stop func()
}

func (w *stopOnListening) Write(p []byte) (int, error) {
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), "relay listening") {
		w.stop()
	}
	return n, err
}

func (w *stopOnListening) String() string { return w.buf.String() }

// servedSerial is the serial number of the certificate the server at base presents.
func servedSerial(t *testing.T, base string, ca *testca.CA) *big.Int {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), ca.ClientConfig())
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, data, 0o600))
}
