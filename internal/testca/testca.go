// Package testca is a throwaway certificate authority and credentials for tests of the TLS and
// OAuth paths: a CA made afresh in each test, server certificates for the loopback names
// (127.0.0.1, ::1, localhost) written as PEM files under the test's temporary folder, the pool or
// client TLS configuration that trusts the CA, and service accounts with keys never issued.
// Nothing it makes is committed or outlives the test.
package testca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority trusted by nothing but the test that made it.
type CA struct {
	t    testing.TB
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CertFile is the CA's certificate in PEM: what SSL_CERT_FILE names for a child process.
	CertFile string
	serial   int64
}

// Leaf is a server certificate and its key, issued by a CA, in PEM files.
type Leaf struct {
	CertFile, KeyFile string
	// Serial tells leaves apart: which one a server presented.
	Serial *big.Int
}

// New makes a CA and writes its certificate to the test's temporary folder.
func New(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testca: CA key: %v", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pushlab test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("testca: CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testca: CA certificate: %v", err)
	}
	ca := &CA{t: t, cert: cert, key: key, serial: 1}
	ca.CertFile = ca.write("ca.pem", "CERTIFICATE", der)
	return ca
}

// Issue makes a server certificate for 127.0.0.1, ::1 and localhost, valid for a day, and
// writes it and its key to the test's temporary folder.
func (ca *CA) Issue() Leaf {
	ca.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatalf("testca: leaf key: %v", err)
	}
	ca.serial++
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatalf("testca: leaf certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		ca.t.Fatalf("testca: leaf key: %v", err)
	}
	return Leaf{
		CertFile: ca.write("leaf-"+tmpl.SerialNumber.String()+".pem", "CERTIFICATE", der),
		KeyFile:  ca.write("leaf-"+tmpl.SerialNumber.String()+"-key.pem", "PRIVATE KEY", keyDER),
		Serial:   tmpl.SerialNumber,
	}
}

// ServerConfig is a TLS configuration serving a new leaf.
func (ca *CA) ServerConfig() *tls.Config {
	ca.t.Helper()
	l := ca.Issue()
	c, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile)
	if err != nil {
		ca.t.Fatalf("testca: %v", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
}

// Pool is a certificate pool holding the CA alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// ClientConfig is a client TLS configuration that trusts the CA alone. Each call returns a new
// one: net/http's transport writes its protocols into the configuration it is given, which a
// WebSocket dialer sharing it would then offer too.
func (ca *CA) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
}

// write writes one PEM block to the test's temporary folder and returns the file's path.
func (ca *CA) write(name, typ string, der []byte) string {
	ca.t.Helper()
	dir := ca.dir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		ca.t.Fatalf("testca: %v", err)
	}
	return p
}

// dir is the folder the CA writes to: one temporary folder per CA.
func (ca *CA) dir() string {
	if ca.CertFile != "" {
		return filepath.Dir(ca.CertFile)
	}
	return ca.t.TempDir()
}

// ForeignServiceAccount is the service-account JSON issued with its private key replaced by a
// fresh one that its issuer never saw: same project, client and token_uri, so the OAuth token
// endpoint refuses it, as Google refuses a deleted or foreign key.
func ForeignServiceAccount(t testing.TB, issued []byte) string {
	t.Helper()
	var sa map[string]any
	if err := json.Unmarshal(issued, &sa); err != nil {
		t.Fatalf("read the issued service account: %v", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate a key: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encode the key: %v", err)
	}
	sa["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	sa["private_key_id"] = "0000000000never-issued"
	b, err := json.Marshal(sa)
	if err != nil {
		t.Fatalf("write the service account: %v", err)
	}
	return string(b)
}
