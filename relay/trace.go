package relay

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pushlab/pushlab/internal/chunked"
	"github.com/pushlab/pushlab/internal/duration"
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
	// push-disabled, own-message, capped-coalesced, test-push) or FCM's answer to a push (fcm-ok,
	// fcm-<ERROR_CODE>).
	Reason string `json:"reason"`
	// PushID and Attempt identify the push; FCMName is FCM's message name once accepted.
	PushID  uint64 `json:"pushId,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	FCMName string `json:"fcmName,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// traceLog keeps the newest entries, up to a limit, in a ring of chunks: filling it up to its
// limit (200,000 entries by default) never copies the entries already held.
type traceLog struct {
	limit   int
	entries chunked.Deque[TraceEntry]
}

func (l *traceLog) add(e TraceEntry) {
	if over := l.entries.Len() - l.limit + 1; over > 0 {
		l.entries.DropFront(over)
	}
	l.entries.PushBack(e)
}

// each calls fn on the entries from oldest to newest.
func (l *traceLog) each(fn func(*TraceEntry)) {
	for e := range l.entries.All() {
		fn(e)
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
		Seq: m.Seq, MsgID: m.ID, Reason: reason, Detail: detail,
		// The binding's certificate, or the last one's once it is gone (so that a query by
		// certificate finds why it was not pushed): read from the device, not the binding, which
		// a message delivered online does not otherwise touch.
		CertificateID: d.lastCert}
	c.traceEntry(e)
}

// tracePush records a push's outcome.
func (c *Core) tracePush(p Push, reason, name, detail string) {
	e := TraceEntry{SDKAppID: p.Device.SDKAppID, UserID: p.Device.UserID, DeviceID: p.Device.DeviceID,
		CertificateID: p.CertificateID, PushID: p.ID, Attempt: p.Attempt, FCMName: name, Reason: reason, Detail: detail}
	if len(p.Seqs) == 1 {
		e.Seq, e.MsgID = p.Seqs[0], p.Data[PushDataMsgID]
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
	MsgID         string
	From, To      time.Time
	// Limit keeps the newest Limit entries; zero means all.
	Limit int
	// Before, unless zero, keeps only entries before it: the Next of the page before, to read
	// the entries older than that page's.
	Before TraceCursor
}

// PushTrace answers "what happened to pushes for user U on certificate C between t1 and t2",
// oldest first, from the entries the core keeps in memory (the newest TraceLimit of this run;
// q.Before is not looked at). The relay shell answers from its store's durable trace instead.
func (c *Core) PushTrace(q TraceQuery) []TraceEntry {
	var out []TraceEntry
	c.trace.each(func(e *TraceEntry) {
		if traceMatches(&q, e) {
			out = append(out, *e)
		}
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out
}

// AppendTrace is the one record the core never makes: the shell adds it to a Ready's Records,
// carrying the Ready's Trace, so that the push trace is written in the same store transaction
// as the records it explains (a trace entry is durable exactly when the decision it records
// is). Load ignores it: the core is not rebuilt from its trace.
type AppendTrace struct{ Entries []TraceEntry }

func (AppendTrace) isRecord() {}

// TraceCursor is a place in the push trace's order: by time, then by the order the store took
// the entries in (Seq, which the store numbers). The zero cursor is past the newest entry.
type TraceCursor struct {
	Time time.Time
	Seq  uint64
}

// IsZero reports whether the cursor is the zero one.
func (c TraceCursor) IsZero() bool { return c.Time.IsZero() && c.Seq == 0 }

// precedes reports whether (t, seq) comes before the cursor; everything comes before the zero
// one.
func (c TraceCursor) precedes(t time.Time, seq uint64) bool {
	if c.IsZero() {
		return true
	}
	return t.Before(c.Time) || (t.Equal(c.Time) && seq < c.Seq)
}

// TracePage is one page of a push-trace answer: the newest matching entries before the query's
// cursor, oldest first. Next, unless zero, is the cursor of the page of entries older still.
type TracePage struct {
	Entries []TraceEntry
	Next    TraceCursor
}

// PageNewestFirst makes the TracePage of a query with the given limit from the matches a store
// read newest first: with a limit, the store reads up to limit+1 of them, the extra one telling
// there is an older page. seqs[i] is the store's Seq of entries[i]. The page keeps the newest
// limit entries (all of them when limit is zero), oldest first, with Next at the oldest kept when
// more matched. It reorders entries in place.
func PageNewestFirst(entries []TraceEntry, seqs []uint64, limit int) TracePage {
	page := TracePage{Entries: entries}
	if limit > 0 && len(entries) > limit {
		page.Entries = entries[:limit]
		page.Next = TraceCursor{Time: entries[limit-1].Time, Seq: seqs[limit-1]}
	}
	slices.Reverse(page.Entries)
	return page
}

// TracePrune says what PruneTrace deletes: entries older than Before (unless zero) and the
// oldest stored beyond the newest Keep (unless zero), at most Batch of them per call.
type TracePrune struct {
	Before time.Time
	Keep   int
	Batch  int
}

// TraceStore keeps the push trace durably; relay.Store includes it. The relay shell writes the
// entries with AppendTrace records, asks QueryTrace for the admin API's answers, and keeps the
// retention bound with PruneTrace.
type TraceStore interface {
	// QueryTrace answers q (Limit zero: every match) from the stored trace. Before (q.Before)
	// pages towards older entries.
	QueryTrace(ctx context.Context, q TraceQuery) (TracePage, error)
	// PruneTrace deletes up to p.Batch entries the bound p no longer keeps, first the oldest
	// stored beyond p.Keep, then (oldest stored first) those older than p.Before, and says how
	// many it deleted: fewer than p.Batch means nothing more is due.
	PruneTrace(ctx context.Context, p TracePrune) (int, error)
}

// TraceRetention bounds the durable push trace, by age and by count; the relay shell prunes
// what falls outside, in batches.
type TraceRetention struct {
	// MaxAge is how long an entry is kept; default 168h (a week).
	MaxAge duration.Duration `yaml:"maxAge" json:"maxAge"`
	// MaxEntries is how many entries are kept at most (the newest); default 1,000,000.
	MaxEntries int `yaml:"maxEntries" json:"maxEntries"`
}

// Default trace retention, and its limits.
const (
	DefaultTraceMaxAge     = 7 * 24 * time.Hour
	DefaultTraceMaxEntries = 1_000_000
	minTraceMaxAge         = time.Minute
	maxTraceMaxAge         = 10 * 365 * 24 * time.Hour
	maxTraceMaxEntries     = 1_000_000_000
)

func (r TraceRetention) withDefaults() TraceRetention {
	if r.MaxAge == 0 {
		r.MaxAge = duration.Of(DefaultTraceMaxAge)
	}
	if r.MaxEntries == 0 {
		r.MaxEntries = DefaultTraceMaxEntries
	}
	return r
}

// Validate reports a retention bound that cannot work.
func (r TraceRetention) Validate() error {
	if r.MaxAge != 0 && (r.MaxAge.D() < minTraceMaxAge || r.MaxAge.D() > maxTraceMaxAge) {
		return fmt.Errorf("trace.maxAge %v: must be between %v and %v (0 means the default, %v)",
			r.MaxAge, minTraceMaxAge, duration.Of(maxTraceMaxAge), duration.Of(DefaultTraceMaxAge))
	}
	if r.MaxEntries < 0 || r.MaxEntries > maxTraceMaxEntries {
		return fmt.Errorf("trace.maxEntries %d: must be between 0 (the default, %d) and %d",
			r.MaxEntries, DefaultTraceMaxEntries, maxTraceMaxEntries)
	}
	return nil
}

// traceMatches reports whether e answers q's keys and time range (not its cursor).
func traceMatches(q *TraceQuery, e *TraceEntry) bool {
	return (q.SDKAppID == 0 || e.SDKAppID == q.SDKAppID) &&
		(q.UserID == "" || e.UserID == q.UserID) &&
		(q.DeviceID == "" || e.DeviceID == q.DeviceID) &&
		(q.CertificateID == 0 || e.CertificateID == q.CertificateID) &&
		(q.MsgID == "" || e.MsgID == q.MsgID) &&
		(q.From.IsZero() || !e.Time.Before(q.From)) &&
		(q.To.IsZero() || e.Time.Before(q.To))
}
