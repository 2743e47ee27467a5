package fakefcm

import (
	"fmt"
	"strconv"
	"time"
)

// SendRequest is one message to one target, after the shell has authenticated the caller.
type SendRequest struct {
	API API
	// Project is the authenticated project (from the OAuth token or the server key).
	Project      string
	Message      Message
	ValidateOnly bool
	// Invalid is set when the shell could not decode the request: Send records the refusal
	// and answers it, so that every send to a known project leaves a record.
	Invalid *SendError
}

// SendResult is the answer to a send.
type SendResult struct {
	// MessageID and Name identify an accepted message; Name is the v1 form.
	MessageID string
	Name      string
	// Err is set when the send is refused.
	Err *SendError
	// Delay is how long the answer must be held back (fault latency). The message itself was
	// already accepted or refused.
	Delay time.Duration
	// Record is the Seq of the record the send made.
	Record int64
	// Number numbers accepted messages from 1: the legacy API's numeric message_id of topic sends.
	Number uint64
}

// Send handles one send: faults, validation, the target's state, quotas, then acceptance into
// the device's queue. Every send to a known project leaves a record, refused ones included.
func (c *Core) Send(now time.Time, req SendRequest) SendResult {
	now = c.observe(now)
	p, ok := c.projects[req.Project]
	if !ok {
		// The shell authenticates against existing projects, so this is a caller's bug.
		return SendResult{Err: newError(Internal, fmt.Sprintf("unknown project %q", req.Project))}
	}
	m := &req.Message
	rec := Record{Project: p.ID, API: req.API, Token: m.Token, Topic: m.Topic, Condition: m.Condition, ReceivedAt: now, ValidateOnly: req.ValidateOnly}
	fo := c.applyFaults(req.API, p.ID, m.Token)
	refuse := func(err *SendError, reason string) SendResult {
		rec.Fate, rec.FateAt, rec.Error, rec.Reason = FateRejected, now, err.Code, reason
		bump(&c.stats.Rejected, err.Code)
		seq, _ := c.addRecord(rec)
		return SendResult{Err: err, Delay: fo.latency, Record: seq}
	}
	if fo.err != nil {
		return refuse(fo.err, "fault")
	}
	if req.Invalid != nil {
		return refuse(req.Invalid, "invalid")
	}
	if err := m.validate(); err != nil {
		return refuse(err, "invalid")
	}
	var d *device
	if m.Token != "" {
		var err *SendError
		if d, err = c.target(p, m, now); err != nil {
			return refuse(err, "target")
		}
	}
	c.msgSeq++
	rec.Name, rec.MessageID = messageName(p.ID, now, c.msgSeq)
	rec.Payload = m.remote(rec.MessageID, p.SenderID, now)
	result := func(seq int64) SendResult {
		return SendResult{MessageID: rec.MessageID, Name: rec.Name, Delay: fo.latency, Record: seq, Number: c.msgSeq}
	}
	if req.ValidateOnly {
		rec.Fate, rec.FateAt = FateValidateOnly, now
		seq, _ := c.addRecord(rec)
		return result(seq)
	}
	if ok, wait := c.projectQuota(p, now); !ok {
		err := newError(QuotaExceeded, fmt.Sprintf("Quota exceeded: project %s sent %d messages in the last minute.", p.ID, c.behaviour.Throttles.ProjectPerMinute))
		err.Legacy, err.RetryAfter = "DeviceMessageRateExceeded", roundUpSecond(wait)
		bump(&c.stats.Throttled, ThrottledProjectQuota)
		return refuse(err, ThrottledProjectQuota)
	}
	e := &entry{msg: rec.Payload, collapsible: m.collapsible()}
	if ttl := m.ttl(); ttl == 0 {
		e.ttlZero, e.expires = true, now
	} else {
		e.expires = now.Add(ttl)
	}
	if d != nil && c.behaviour.Throttles.Mode == ThrottleReject {
		if h := c.deviceLimits(d).check(e, now); h.held() {
			b := h.binding()
			err := newError(QuotaExceeded, "Message rate exceeded for this device.")
			err.RetryAfter = roundUpSecond(b.until.Sub(now))
			bump(&c.stats.Throttled, b.reason)
			return refuse(err, b.reason)
		}
		c.deviceLimits(d).take(e, now)
		e.counted = true
	}
	c.stats.Accepted++
	switch {
	case d == nil:
		rec.Fate, rec.FateAt = FateNoSubscribers, now
	case fo.loss || (c.behaviour.Loss > 0 && c.rng.Float64() < c.behaviour.Loss):
		rec.Fate, rec.FateAt = FateLoss, now
		bump(&c.stats.Dropped, FateLoss)
	case e.ttlZero && !d.reachable():
		rec.Fate, rec.FateAt = FateTTLExpired, now
		bump(&c.stats.Dropped, FateTTLExpired)
	default:
		rec.Fate = FatePending
		e.seq, e.rec = c.addRecord(rec)
		e.dev = d
		c.enqueue(d, e, now)
		return result(e.seq)
	}
	seq, _ := c.addRecord(rec)
	return result(seq)
}

// messageName names the seq-th message, accepted at now, of project: its resource name
// ("projects/P/messages/ID") and, sharing its bytes, its message ID ("0:MICROS%SEQ", the seq in 16
// hex digits). Built by hand, not with fmt: one per accepted message.
func messageName(project string, now time.Time, seq uint64) (name, id string) {
	const prefix, middle = "projects/", "/messages/"
	var buf [128]byte // room for most project IDs; a longer one grows the slice
	b := buf[:0]
	b = append(append(append(b, prefix...), project...), middle...)
	start := len(b)
	b = append(b, "0:"...)
	b = strconv.AppendInt(b, now.UnixMicro(), 10)
	b = append(b, '%')
	hex := strconv.AppendUint(make([]byte, 0, 16), seq, 16)
	for range 16 - len(hex) {
		b = append(b, '0')
	}
	name = string(append(b, hex...))
	return name, name[start:]
}

// target checks a token target against FCM's rules and returns its device.
func (c *Core) target(p *project, m *Message, now time.Time) (*device, *SendError) {
	d, ok := c.devices[m.Token]
	if !ok {
		return nil, invalidArg("message.token", "InvalidRegistration", "The registration token is not a valid FCM registration token")
	}
	if d.registered && c.inactive(d, now) {
		c.unregister(d, now, goneExpired)
	}
	if !d.registered {
		err := newError(Unregistered, "Requested entity was not found.")
		return nil, err
	}
	if d.senderID != p.SenderID {
		return nil, newError(SenderIDMismatch, "SenderId mismatch")
	}
	if m.Android != nil && m.Android.RestrictedPackageName != "" && m.Android.RestrictedPackageName != d.packageName {
		return nil, invalidArg("message.android.restricted_package_name", "InvalidPackageName",
			"Invalid value at 'message.android.restricted_package_name': the token belongs to %q, not %q.", d.packageName, m.Android.RestrictedPackageName)
	}
	return d, nil
}

func roundUpSecond(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}
