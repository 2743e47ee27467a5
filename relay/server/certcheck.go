package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
)

// Checker is a Sender that can check a certificate's credentials against FCM without reaching a
// device (relay/sender.Pool is one). A Sender that is not a Checker leaves certificates
// unchecked.
type Checker interface {
	// Check returns nil when FCM accepted the credentials, else what it answered, in words.
	Check(ctx context.Context, cert relay.Certificate) error
}

// checkCertificate checks a certificate off the core's loop and feeds the result back to the
// core. It waits for the result up to the server's CheckWait and answers the certificate as it
// then stands: with the check's verdict, or still unchecked when FCM is slower than that (the
// check then completes in the background and later reads show it).
func (s *Server) checkCertificate(ctx context.Context, app uint64, id int64) (relay.CertificateView, error) {
	v, err := s.call(ctx, func(time.Time) (any, error) {
		c, err := s.coreOf(cluster.CatalogPartition)
		if err != nil {
			return nil, err
		}
		cert, ok := c.Certificate(id)
		if !ok || cert.SDKAppID != app {
			return nil, fmt.Errorf("%w: certificate %d in app %d", relay.ErrNotFound, id, app)
		}
		return cert, nil
	})
	if err != nil {
		return relay.CertificateView{}, err
	}
	cert := v.(relay.Certificate)
	checker, ok := s.cfg.Sender.(Checker)
	if !cert.NeedsCheck() || !ok {
		return cert.View(), nil // a legacy certificate aimed at Google was given its verdict when stored
	}
	done := make(chan relay.CertificateView, 1)
	s.checks.Add(1)
	go func() {
		defer s.checks.Done()
		r := relay.CheckResult{CertID: cert.ID, Digest: cert.CredentialsDigest()}
		if err := checker.Check(s.checkCtx, cert); err != nil {
			r.Error = err.Error()
		} else {
			r.OK = true
		}
		v, err := s.call(context.Background(), func(now time.Time) (any, error) {
			c, err := s.applyCatalog(now, relay.Input{Kind: relay.InputCertificateChecked, Check: r})
			if err != nil {
				return nil, err
			}
			cert, _ := c.Certificate(r.CertID)
			return cert.View(), nil
		})
		if err != nil {
			s.log.Warn("certificate check not stored", "certificateId", cert.ID, "err", err)
			return
		}
		view := v.(relay.CertificateView)
		s.log.Info("certificate checked", "certificateId", cert.ID, "check", view.Check.Status, "error", view.Check.Error)
		done <- view
	}()
	select {
	case view := <-done:
		return view, nil
	case <-time.After(s.cfg.CheckWait):
		return cert.View(), nil
	case <-ctx.Done():
		return relay.CertificateView{}, ctx.Err()
	}
}

// checkCertificateHandler serves POST …/certificates/{cert}:check: it checks the credentials
// now and answers the certificate with the verdict.
func (s *Server) checkCertificateHandler(w http.ResponseWriter, r *http.Request, app uint64, id int64) {
	view, err := s.checkCertificate(r.Context(), app, id)
	if err != nil {
		writeCoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}
