package relay

import (
	"fmt"
	"slices"
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

// startPush registers a push to device d (its Device) as unfinished and hands it to the driver.
func (c *Core) startPush(d *device, p Push) {
	c.pushCounter++
	p.ID = c.pushCounter
	p.Attempt = 1
	c.pushes[p.ID] = &pendingPush{push: p}
	d.pushes = append(d.pushes, p.ID)
	c.tracePush(p, ReasonPushed, "", "")
	if c.recording() {
		c.record(PutCounter{Name: c.cfg.Partition.counter(counterPushes), Value: c.pushCounter})
	}
	if c.recording() {
		c.record(PutPush{Push: PushState{Push: p, NotBefore: c.now}})
	}
	c.ready.Pushes = append(c.ready.Pushes, p)
}

// finish forgets a push.
func (c *Core) finish(p *pendingPush) {
	p.gen++
	delete(c.pushes, p.push.ID)
	if p.push.Test {
		return // never among its device's pushes, never stored
	}
	d := c.device(p.push.Device)
	if i := slices.Index(d.pushes, p.push.ID); i >= 0 {
		d.pushes = slices.Delete(d.pushes, i, i+1)
	}
	if c.recording() {
		c.record(DeletePush{ID: p.push.ID})
	}
}

// cancelPushes finishes a device's unfinished pushes because it no longer qualifies, and tells
// the driver not to send those still waiting.
func (c *Core) cancelPushes(d *device, reason, detail string) {
	for _, id := range slices.Clone(d.pushes) {
		p := c.pushes[id]
		c.tracePush(p.push, reason, "", "push cancelled: "+detail)
		c.finish(p)
		// A push of this very Ready is simply taken back; one handed out earlier is cancelled.
		if i := slices.IndexFunc(c.ready.Pushes, func(q Push) bool { return q.ID == id }); i >= 0 {
			c.ready.Pushes = slices.Delete(c.ready.Pushes, i, i+1)
		} else {
			c.ready.Cancelled = append(c.ready.Cancelled, id)
			c.rememberCancelled(p.push)
		}
	}
}

// PushResult tells the core what became of a push. Results for unknown pushes (already finished,
// or from before a restart that re-sent them) are ignored.
func (c *Core) PushResult(now time.Time, r PushResult) {
	c.observe(now)
	p, ok := c.pushes[r.ID]
	if !ok {
		c.lateResult(r)
		return
	}
	if r.Err == nil {
		c.finish(p)
		c.tracePush(p.push, ReasonFCMOK, r.Name, "")
		return
	}
	e := r.Err
	reason := ReasonFCMPrefix + e.Code
	switch {
	case e.Code == "UNREGISTERED" || e.TokenInvalid:
		// The token is dead: drop the binding of whichever device holds it now (it may have
		// moved since the push left).
		c.finish(p)
		c.tracePush(p.push, reason, "", "binding removed: "+e.Message)
		if owner, ok := c.tokens[tokenKey{p.push.Device.SDKAppID, p.push.Token}]; ok {
			c.unbind(c.device(owner))
		}
	case retryable(e.Code) && p.push.Test:
		c.finish(p)
		c.tracePush(p.push, reason, "", "not retried (a test push makes one attempt): "+e.Message)
	case retryable(e.Code):
		if p.push.Attempt >= c.cfg.Retry.MaxAttempts {
			c.finish(p)
			c.tracePush(p.push, reason, "", fmt.Sprintf("gave up after %d attempts: %s", p.push.Attempt, e.Message))
			return
		}
		delay := max(c.backoff(p.push.Attempt), e.RetryAfter)
		if limit := c.cfg.Retry.MaxWait.D(); delay > limit {
			c.finish(p)
			c.tracePush(p.push, reason, "", fmt.Sprintf("gave up: FCM asks to wait %v, longer than the relay waits (%v): %s", e.RetryAfter, limit, e.Message))
			return
		}
		c.tracePush(p.push, reason, "", fmt.Sprintf("attempt %d of %d failed; retrying in %v: %s", p.push.Attempt, c.cfg.Retry.MaxAttempts, delay, e.Message))
		if c.recording() {
			c.record(PutPush{Push: PushState{Push: p.push, NotBefore: c.now.Add(delay)}})
		}
		p.gen++
		c.timers.Push(c.now.Add(delay), timer{kind: timerRetry, push: p.push.ID, gen: p.gen})
	default:
		// Never retried: the credentials or the certificate are wrong. Mark the certificate so
		// that the admin API shows it; later pushes still try, so one bad client cannot silence
		// a certificate.
		c.finish(p)
		if cert, ok := c.certs[p.push.CertificateID]; ok && !cert.Status.Misconfigured {
			cert.Status = CertStatus{Misconfigured: true, Reason: fmt.Sprintf("%s: %s", e.Code, e.Message), Since: c.now}
			c.record(PutCertificate{Cert: *cert})
		}
		c.tracePush(p.push, reason, "", "not retried; certificate marked misconfigured: "+e.Message)
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

// retry sends a push again after its backoff, if its device still qualifies and its caps allow
// (every attempt that reaches FCM counts against FCM's per-device limits).
func (c *Core) retry(p *pendingPush) {
	if max := c.cfg.Retry.MaxAttempts; p.push.Attempt >= max {
		// Only after a restart: the last attempt was in flight when the relay stopped (or the
		// budget shrank since). It may well have reached FCM; another send would break the budget.
		c.finish(p)
		c.tracePush(p.push, ReasonFCMPrefix+ErrCodeTimeout, "", fmt.Sprintf("gave up: the relay restarted while attempt %d of %d was unanswered (it may have reached FCM)", p.push.Attempt, max))
		return
	}
	d := c.device(p.push.Device)
	reason, detail := c.unpushable(d)
	if reason == "" && d.binding.Token != p.push.Token {
		reason, detail = ReasonNoBinding, "the device bound another token since"
	}
	if reason != "" {
		c.finish(p)
		c.tracePush(p.push, reason, "", "retry cancelled: "+detail)
		return
	}
	dc := c.capsOf(d)
	if at := dc.next(c.now); at.After(c.now) {
		p.gen++
		c.timers.Push(at, timer{kind: timerRetry, push: p.push.ID, gen: p.gen})
		return
	}
	dc.take(c.now)
	p.push.Attempt++
	c.recordSession(d) // the caps counted it
	if c.recording() {
		c.record(PutPush{Push: PushState{Push: p.push, NotBefore: c.now}})
	}
	c.ready.Pushes = append(c.ready.Pushes, p.push)
}

// maxCancelledTokens bounds how many cancelled pushes the core remembers the token of.
const maxCancelledTokens = 4096

// rememberCancelled notes the token of a push cancelled after it was handed out: it may be on
// its way already, and FCM's answer still says whether the token lives.
func (c *Core) rememberCancelled(p Push) {
	if len(c.cancelled.order) >= maxCancelledTokens {
		delete(c.cancelled.token, c.cancelled.order[0])
		c.cancelled.order = c.cancelled.order[1:]
	}
	c.cancelled.token[p.ID] = tokenKey{p.Device.SDKAppID, p.Token}
	c.cancelled.order = append(c.cancelled.order, p.ID)
}

// lateResult takes FCM's answer to a push the core has finished: an UNREGISTERED answer to a
// cancelled push still unbinds whichever device holds the token now.
func (c *Core) lateResult(r PushResult) {
	tk, ok := c.cancelled.token[r.ID]
	if !ok {
		return
	}
	delete(c.cancelled.token, r.ID)
	if r.Err == nil || (r.Err.Code != "UNREGISTERED" && !r.Err.TokenInvalid) {
		return
	}
	if owner, ok := c.tokens[tk]; ok {
		d := c.device(owner)
		c.traceEntry(TraceEntry{SDKAppID: owner.SDKAppID, UserID: owner.UserID, DeviceID: owner.DeviceID,
			CertificateID: d.binding.CertificateID, PushID: r.ID, Reason: ReasonFCMPrefix + r.Err.Code,
			Detail: "binding removed: FCM's answer to a cancelled push on this token: " + r.Err.Message})
		c.unbind(d)
	}
}
