package relay

import (
	"fmt"
	"time"
)

// Push-trace reasons of certificate events. Their entries name the app and the certificate and
// no user or device; Detail holds FCM's answer in words.
const (
	ReasonCertificateCheckOK     = "certificate-check-ok"     // a check of the certificate's credentials passed
	ReasonCertificateCheckFailed = "certificate-check-failed" // a check failed, or a legacy certificate aims at Google
)

// ReasonCertificatePrefix starts the reasons of certificate events, which are not push decisions.
const ReasonCertificatePrefix = "certificate-"

// CheckResult is the outcome of one check of a certificate's credentials, which the driver makes
// off the core (an OAuth token and a validate-only send: network I/O) and feeds back.
type CheckResult struct {
	CertID int64
	// Digest is the CredentialsDigest of the certificate that was checked: a result for
	// credentials replaced in the meantime is not applied.
	Digest string
	// OK says FCM accepted the credentials; otherwise Error says what it answered, in words.
	OK    bool
	Error string
}

// NeedsCheck reports whether a certificate's credentials are checked by asking FCM: all are but
// a legacy certificate aimed at Google, whose verdict needs no network call (see LegacyAtGoogle).
func (c *Certificate) NeedsCheck() bool { return !c.LegacyAtGoogle() }

// initialCheck is the check a certificate is stored with when it is created or replaced:
// unchecked until the driver's check answers, or failed at once for a legacy certificate aimed
// at Google.
func (c *Core) initialCheck(cert *Certificate) {
	cert.Check = CertCheck{Status: CheckUnchecked}
	if cert.LegacyAtGoogle() {
		cert.Check = CertCheck{Status: CheckFailed, Error: LegacyShutdownError, CheckedAt: c.now}
		c.traceCheck(cert)
	}
}

// CertificateChecked applies a check's result to its certificate, persists the certificate with
// it and traces it. A result for credentials that have been replaced since is ignored (the newer
// credentials' own check decides), and so is one for a legacy certificate aimed at Google, whose
// verdict was given when it was stored; the answer is then the certificate as it stands.
func (c *Core) CertificateChecked(now time.Time, r CheckResult) (CertificateView, error) {
	now = c.observe(now)
	cert, ok := c.certs[r.CertID]
	if !ok {
		return CertificateView{}, fmt.Errorf("%w: certificate %d", ErrNotFound, r.CertID)
	}
	if cert.CredentialsDigest() != r.Digest || !cert.NeedsCheck() {
		return cert.View(), nil
	}
	switch {
	case r.OK:
		cert.Check = CertCheck{Status: CheckOK, CheckedAt: now}
	default:
		msg := r.Error
		if msg == "" {
			msg = "FCM refused the credentials and gave no reason"
		}
		cert.Check = CertCheck{Status: CheckFailed, Error: msg, CheckedAt: now}
	}
	c.record(PutCertificate{Cert: *cert})
	c.traceCheck(cert)
	return cert.View(), nil
}

// traceCheck records a certificate's check in the push trace.
func (c *Core) traceCheck(cert *Certificate) {
	e := TraceEntry{SDKAppID: cert.SDKAppID, CertificateID: cert.ID, Reason: ReasonCertificateCheckOK}
	if cert.Check.Status == CheckFailed {
		e.Reason, e.Detail = ReasonCertificateCheckFailed, cert.Check.Error
	}
	c.traceEntry(e)
}

// CheckCounts counts certificates by their check's status (unchecked, ok, failed), for metrics.
func (c *Core) CheckCounts() map[string]int {
	out := map[string]int{CheckUnchecked: 0, CheckOK: 0, CheckFailed: 0}
	for _, cert := range c.certs {
		out[cert.checkView().Status]++
	}
	return out
}
