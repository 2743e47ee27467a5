package tlscert

import (
	"crypto/tls"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pushlab/pushlab/internal/testca"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// served handshakes with cfg over an in-memory connection, as a client trusting ca, and
// returns the serial number of the certificate the server presented.
func served(t *testing.T, cfg *tls.Config, ca *testca.CA) *big.Int {
	t.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	srv := tls.Server(sc, cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Handshake() }()
	clientCfg := ca.ClientConfig()
	clientCfg.ServerName = "localhost"
	cli := tls.Client(cc, clientCfg)
	require.NoError(t, cli.Handshake())
	require.NoError(t, <-done)
	return cli.ConnectionState().PeerCertificates[0].SerialNumber
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}

// Reload puts a renewed pair in service for new handshakes; a bad renewal leaves the pair in
// service as it was.
func TestReloadServesTheRenewedPairAndKeepsTheOldOnError(t *testing.T) {
	ca := testca.New(t)
	first, second := ca.Issue(), ca.Issue()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	copyFile(t, first.CertFile, certFile)
	copyFile(t, first.KeyFile, keyFile)

	p, err := Load(certFile, keyFile)
	require.NoError(t, err)
	cfg := p.ServerConfig()
	require.Equal(t, first.Serial, served(t, cfg, ca))
	require.Equal(t, []string{"http/1.1"}, cfg.NextProtos, "WebSockets upgrade over HTTP/1.1 only")

	copyFile(t, second.CertFile, certFile)
	copyFile(t, second.KeyFile, keyFile)
	require.NoError(t, p.Reload())
	require.Equal(t, second.Serial, served(t, cfg, ca), "the same configuration serves the renewed pair")

	copyFile(t, first.CertFile, certFile) // a renewal caught half-way: the key is still the second's
	require.ErrorContains(t, p.Reload(), "does not go with certificate file")
	require.Equal(t, second.Serial, served(t, cfg, ca), "a failed reload keeps the pair in service")
}

// Files that cannot serve are refused, naming the file at fault and what to do.
func TestLoadRefusesFilesThatCannotServe(t *testing.T) {
	ca := testca.New(t)
	leaf, other := ca.Issue(), ca.Issue()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello\n"), 0o600))
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name, cert, key string
		want            []string
	}{
		{"certificate without key", leaf.CertFile, "", []string{leaf.CertFile, "has no key file", "give its private key"}},
		{"key without certificate", "", leaf.KeyFile, []string{leaf.KeyFile, "has no certificate file"}},
		{"missing certificate", missing, leaf.KeyFile, []string{"TLS certificate file", missing, "no such file", "check the path"}},
		{"missing key", leaf.CertFile, missing, []string{"TLS key file", missing, "no such file"}},
		{"certificate not PEM", notPEM, leaf.KeyFile, []string{notPEM, "no PEM certificate"}},
		{"key not PEM", leaf.CertFile, notPEM, []string{notPEM, "no PEM private key"}},
		{"key and certificate swapped", leaf.KeyFile, leaf.CertFile, []string{leaf.KeyFile, "no PEM certificate"}},
		{"another certificate's key", leaf.CertFile, other.KeyFile, []string{other.KeyFile, "does not go with certificate file " + leaf.CertFile, "give the private key the certificate was issued for"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.cert, tc.key)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
	p, err := Load(leaf.CertFile, leaf.KeyFile)
	require.NoError(t, err)
	require.False(t, p.NotAfter().IsZero())
}
