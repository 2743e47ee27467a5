// Package tlscert serves TLS from a certificate and private key kept in PEM files, as the relay's
// and fakefcm's --tls-cert and --tls-key name them: files that cannot serve are refused before
// anything listens, with the file and what to do, and the pair can be read again while serving
// (a renewed certificate, on SIGHUP) without dropping a connection.
package tlscert

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Pair is a server certificate and its key, read from files. It is safe for concurrent use:
// handshakes read the current pair while Reload replaces it.
type Pair struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// Load reads certFile (the certificate chain, leaf first, in PEM) and keyFile (its unencrypted
// private key, in PEM). Both must be given.
func Load(certFile, keyFile string) (*Pair, error) {
	p := &Pair{certFile: certFile, keyFile: keyFile}
	c, err := p.read()
	if err != nil {
		return nil, err
	}
	p.cur.Store(c)
	return p, nil
}

// Reload reads the files again. On an error the pair in service stays, so a bad renewal never
// stops the server; new handshakes use the new pair, established connections keep theirs.
func (p *Pair) Reload() error {
	c, err := p.read()
	if err != nil {
		return err
	}
	p.cur.Store(c)
	return nil
}

// NotAfter is when the certificate in service expires.
func (p *Pair) NotAfter() time.Time { return p.cur.Load().Leaf.NotAfter }

// ServerConfig is the TLS configuration to serve with: the pair in service at each handshake,
// TLS 1.2 at least, and HTTP/1.1 only — the app protocol and fakefcm's device channels are
// WebSockets, which net/http upgrades over HTTP/1.1 alone.
func (p *Pair) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return p.cur.Load(), nil
		},
	}
}

// read reads and checks both files; its errors name the file at fault and what to do.
func (p *Pair) read() (*tls.Certificate, error) {
	switch {
	case p.certFile == "" && p.keyFile == "":
		return nil, errors.New("no TLS certificate or key file given")
	case p.keyFile == "":
		return nil, fmt.Errorf("TLS certificate file %s has no key file: give its private key too (or neither, to serve plain HTTP)", p.certFile)
	case p.certFile == "":
		return nil, fmt.Errorf("TLS key file %s has no certificate file: give the certificate too (or neither, to serve plain HTTP)", p.keyFile)
	}
	certPEM, err := os.ReadFile(p.certFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate file: %w (check the path and that this user may read it)", err)
	}
	keyPEM, err := os.ReadFile(p.keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS key file: %w (check the path and that this user may read it)", err)
	}
	if !hasBlock(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return nil, fmt.Errorf("TLS certificate file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the certificate chain, leaf first, in PEM", p.certFile)
	}
	if !hasBlock(keyPEM, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }) {
		return nil, fmt.Errorf("TLS key file %s holds no PEM private key (-----BEGIN … PRIVATE KEY-----): give the certificate's private key, unencrypted, in PEM", p.keyFile)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS key file %s does not go with certificate file %s: %w; give the private key the certificate was issued for", p.keyFile, p.certFile, err)
	}
	if c.Leaf == nil { // X509KeyPair fills Leaf unless GODEBUG x509keypairleaf=0
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("TLS certificate file %s: %w", p.certFile, err)
		}
	}
	return &c, nil
}

// hasBlock reports whether data holds a PEM block whose type is wanted.
func hasBlock(data []byte, wanted func(string) bool) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if wanted(b.Type) {
			return true
		}
	}
}
