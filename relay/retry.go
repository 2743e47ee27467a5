package relay

import (
	"fmt"
	"time"
)

// pendingPush is a push sent and not finished.
type pendingPush struct {
	push Push
	gen  uint64 // bumped to cancel its retry timer
}

// PushResult is what FCM answered to a push, as the driver's sender saw it.
type PushResult struct {
	ID uint64
	// Name is the FCM message name of an accepted push.
	Name string
	// Err is set when the push was refused or failed in transit.
	Err *PushError
}

// PushError is a refused or failed push.
type PushError struct {
	// Code is the FCM error code (UNREGISTERED, QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL,
	// INVALID_ARGUMENT, SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR), UNAUTHENTICATED for rejected
	// credentials, or NETWORK / TIMEOUT when no answer came.
	Code string
	// TokenInvalid is set when FCM says the token itself is malformed (legacy
	// InvalidRegistration, or an INVALID_ARGUMENT about message.token).
	TokenInvalid bool
	// RetryAfter is the answer's Retry-After.
	RetryAfter time.Duration
	// Message is FCM's error message, for the trace.
	Message string
}

// Error codes a sender reports beyond FCM's own.
const (
	ErrCodeNetwork         = "NETWORK"
	ErrCodeTimeout         = "TIMEOUT"
	ErrCodeUnauthenticated = "UNAUTHENTICATED"
)

// startPush registers a push as unfinished and hands it to the driver.
func (c *Core) startPush(p Push) {
	c.pushCounter++
	p.ID = c.pushCounter
	p.Attempt = 1
	c.pushes[p.ID] = &pendingPush{push: p}
	c.tracePush(p, ReasonPushed, "", "")
	c.record(PutCounter{Name: counterPushes, Value: c.pushCounter})
	c.record(PutPush{Push: PushState{Push: p, NotBefore: c.now}})
	c.ready.Pushes = append(c.ready.Pushes, p)
}

// finish forgets a push.
func (c *Core) finish(p *pendingPush) {
	p.gen++
	delete(c.pushes, p.push.ID)
	c.record(DeletePush{ID: p.push.ID})
}

// PushResult tells the core what became of a push. Results for unknown pushes (already finished,
// or from before a restart that re-sent them) are ignored.
func (c *Core) PushResult(now time.Time, r PushResult) {
	c.observe(now)
	p, ok := c.pushes[r.ID]
	if !ok {
		return
	}
	d := c.device(p.push.Device)
	if r.Err == nil {
		c.tracePush(p.push, ReasonFCMOK, r.Name, "")
		c.finish(p)
		return
	}
	e := r.Err
	reason := ReasonFCMPrefix + e.Code
	switch {
	case e.Code == "UNREGISTERED" || e.TokenInvalid:
		// The token is dead: drop the binding, unless the device has bound a new one since.
		if d.binding != nil && d.binding.Token == p.push.Token {
			c.unbind(d)
		}
		c.tracePush(p.push, reason, "", "binding removed: "+e.Message)
		c.finish(p)
	case retryable(e.Code):
		if p.push.Attempt >= c.cfg.Retry.MaxAttempts {
			c.tracePush(p.push, reason, "", fmt.Sprintf("gave up after %d attempts: %s", p.push.Attempt, e.Message))
			c.finish(p)
			return
		}
		delay := max(c.backoff(p.push.Attempt), e.RetryAfter)
		c.tracePush(p.push, reason, "", fmt.Sprintf("attempt %d of %d failed; retrying in %v: %s", p.push.Attempt, c.cfg.Retry.MaxAttempts, delay, e.Message))
		c.record(PutPush{Push: PushState{Push: p.push, NotBefore: c.now.Add(delay)}})
		p.gen++
		c.timers.Push(c.now.Add(delay), timer{kind: timerRetry, push: p.push.ID, gen: p.gen})
	default:
		// Never retried: the credentials or the certificate are wrong. Mark the certificate so
		// that the admin API shows it; later pushes still try, so one bad client cannot silence
		// a certificate.
		if cert, ok := c.certs[p.push.CertificateID]; ok && !cert.Status.Misconfigured {
			cert.Status = CertStatus{Misconfigured: true, Reason: fmt.Sprintf("%s: %s", e.Code, e.Message), Since: c.now}
			c.record(PutCertificate{Cert: *cert})
		}
		c.tracePush(p.push, reason, "", "not retried; certificate marked misconfigured: "+e.Message)
		c.finish(p)
	}
}

// retryable reports whether FCM's answer is worth another attempt.
func retryable(code string) bool {
	switch code {
	case "QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL", ErrCodeNetwork, ErrCodeTimeout:
		return true
	}
	return false
}

// backoff is the wait after a failed attempt: exponential from Base, capped at Max, with equal
// jitter (half fixed, half drawn) so that retries of many pushes spread out.
func (c *Core) backoff(attempt int) time.Duration {
	b := c.cfg.Retry.Base.D() << min(attempt-1, 30)
	if b > c.cfg.Retry.Max.D() || b <= 0 {
		b = c.cfg.Retry.Max.D()
	}
	half := b / 2
	return half + time.Duration(c.rng.Int64N(int64(half)+1))
}

// retry sends a push again after its backoff, if its device still qualifies.
func (c *Core) retry(p *pendingPush) {
	d := c.device(p.push.Device)
	reason, detail := c.unpushable(d)
	if reason == "" && d.binding.Token != p.push.Token {
		reason, detail = ReasonNoBinding, "the device bound another token since"
	}
	if reason != "" {
		c.tracePush(p.push, reason, "", "retry cancelled: "+detail)
		c.finish(p)
		return
	}
	p.push.Attempt++
	c.record(PutPush{Push: PushState{Push: p.push, NotBefore: c.now}})
	c.ready.Pushes = append(c.ready.Pushes, p.push)
}
