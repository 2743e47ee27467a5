package relay

import (
	"slices"
	"time"
)

// TraceEntry is one push decision or push outcome: the troubleshooting record of what happened
// to pushes for a user's device.
type TraceEntry struct {
	Time          time.Time `json:"time"`
	SDKAppID      uint64    `json:"sdkAppId"`
	UserID        string    `json:"userId"`
	DeviceID      string    `json:"deviceId"`
	CertificateID int64     `json:"certificateId,omitempty"`
	// Seq is the message (in the user's inbox) the entry is about; Seqs lists them when it is
	// about several (a summary push, a cancelled summary). Online-only messages have no seq.
	Seq   uint64   `json:"seq,omitempty"`
	Seqs  []uint64 `json:"seqs,omitempty"`
	MsgID string   `json:"msgId,omitempty"`
	// Reason is a decision (pushed, online, logged-out, kicked, no-binding, muted, online-only,
	// push-disabled, own-message, capped-coalesced) or FCM's answer to a push (fcm-ok,
	// fcm-<ERROR_CODE>).
	Reason string `json:"reason"`
	// PushID and Attempt identify the push; FCMName is FCM's message name once accepted.
	PushID  uint64 `json:"pushId,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	FCMName string `json:"fcmName,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// traceLog keeps the newest entries, up to a limit, in a ring.
type traceLog struct {
	limit   int
	entries []TraceEntry
	head    int // index of the oldest entry once the ring is full
}

func (l *traceLog) add(e TraceEntry) {
	if len(l.entries) < l.limit {
		l.entries = append(l.entries, e)
		return
	}
	l.entries[l.head] = e
	l.head = (l.head + 1) % l.limit
}

// each calls fn on the entries from oldest to newest.
func (l *traceLog) each(fn func(*TraceEntry)) {
	for i := range l.entries {
		fn(&l.entries[(l.head+i)%len(l.entries)])
	}
}

func (c *Core) traceEntry(e TraceEntry) {
	e.Time = c.now
	c.trace.add(e)
	c.ready.Trace = append(c.ready.Trace, e)
}

// traceMsg records a decision about one message for one device.
func (c *Core) traceMsg(d *device, m StoredMsg, reason, detail string) {
	e := TraceEntry{SDKAppID: d.key.SDKAppID, UserID: d.key.UserID, DeviceID: d.key.DeviceID,
		Seq: m.Seq, MsgID: m.ID, Reason: reason, Detail: detail}
	if d.binding != nil {
		e.CertificateID = d.binding.CertificateID
	} else {
		e.CertificateID = d.lastCert // so that a query by certificate finds why it was not pushed
	}
	c.traceEntry(e)
}

// tracePush records a push's outcome.
func (c *Core) tracePush(p Push, reason, name, detail string) {
	e := TraceEntry{SDKAppID: p.Device.SDKAppID, UserID: p.Device.UserID, DeviceID: p.Device.DeviceID,
		CertificateID: p.CertificateID, PushID: p.ID, Attempt: p.Attempt, FCMName: name, Reason: reason, Detail: detail}
	if len(p.Seqs) == 1 {
		e.Seq, e.MsgID = p.Seqs[0], p.Data["msgId"]
	} else {
		e.Seqs = slices.Clone(p.Seqs)
	}
	c.traceEntry(e)
}

// TraceQuery selects push-trace entries; zero fields match everything. From is inclusive, To
// exclusive.
type TraceQuery struct {
	SDKAppID      uint64
	UserID        string
	DeviceID      string
	CertificateID int64
	From, To      time.Time
	// Limit keeps the newest Limit entries; zero means all.
	Limit int
}

// PushTrace answers "what happened to pushes for user U on certificate C between t1 and t2",
// oldest first.
func (c *Core) PushTrace(q TraceQuery) []TraceEntry {
	var out []TraceEntry
	c.trace.each(func(e *TraceEntry) {
		if (q.SDKAppID == 0 || e.SDKAppID == q.SDKAppID) &&
			(q.UserID == "" || e.UserID == q.UserID) &&
			(q.DeviceID == "" || e.DeviceID == q.DeviceID) &&
			(q.CertificateID == 0 || e.CertificateID == q.CertificateID) &&
			(q.From.IsZero() || !e.Time.Before(q.From)) &&
			(q.To.IsZero() || e.Time.Before(q.To)) {
			out = append(out, *e)
		}
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out
}
