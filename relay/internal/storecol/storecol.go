// Package storecol holds the column encodings the relay's SQL stores (sqlitestore, pgstore)
// share, so that both keep the same values the same way: times as UnixNano integers, lists and
// maps as JSON text; and the schema-version check both migrations make. The SQL, and each
// database's own column types and transactions, stay in the stores.
package storecol

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/pushlab/pushlab/relay"
)

// The times a UnixNano integer can hold.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// Nanos converts a time to its column value: UnixNano as an int64, or nil (NULL) for the zero
// time. It refuses a time UnixNano cannot hold.
func Nanos(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, fmt.Errorf("time %v is out of the range the store keeps (%v to %v)", t, minTime.UTC(), maxTime.UTC())
	}
	return t.UnixNano(), nil
}

// Time converts a column value Nanos wrote back to a time, in UTC: nil (NULL) is the zero time.
func Time(ns *int64) time.Time {
	if ns == nil {
		return time.Time{}
	}
	return time.Unix(0, *ns).UTC()
}

// Strings encodes a list of strings as JSON, refusing strings JSON would alter (invalid UTF-8
// comes back replaced by U+FFFD).
func Strings(ss []string) (string, error) {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return "", fmt.Errorf("%q is not valid UTF-8", s)
		}
	}
	b, err := json.Marshal(ss)
	return string(b), err
}

// Templates encodes an app's push templates as JSON ("" for none), refusing strings JSON would
// alter.
func Templates(ts map[string]relay.PushTemplate) (string, error) {
	if len(ts) == 0 {
		return "", nil
	}
	for k, t := range ts {
		for _, s := range []string{k, t.SummaryTitle, t.SummaryBody, t.GroupTitle} {
			if !utf8.ValidString(s) {
				return "", fmt.Errorf("push template %q: %q is not valid UTF-8", k, s)
			}
		}
	}
	b, err := json.Marshal(ts)
	return string(b), err
}

// ParseTemplates decodes what Templates wrote.
func ParseTemplates(s string) (map[string]relay.PushTemplate, error) {
	if s == "" {
		return nil, nil
	}
	var ts map[string]relay.PushTemplate
	if err := json.Unmarshal([]byte(s), &ts); err != nil {
		return nil, err
	}
	return ts, nil
}

// Data encodes a push's data as JSON, refusing strings JSON would alter.
func Data(m map[string]string) (string, error) {
	for k, v := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return "", fmt.Errorf("%q: %q is not valid UTF-8", k, v)
		}
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// Caps encodes a session's frequency-cap state as JSON, or nil (NULL) when it has none.
func Caps(c *relay.CapsState) (*string, error) {
	if c == nil {
		return nil, nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// ParseCaps decodes what Caps wrote.
func ParseCaps(s *string) (*relay.CapsState, error) {
	if s == nil {
		return nil, nil
	}
	c := &relay.CapsState{}
	if err := json.Unmarshal([]byte(*s), c); err != nil {
		return nil, err
	}
	return c, nil
}

// TraceSeqs encodes a push-trace entry's list of message seqs as JSON, or "" when it has none.
func TraceSeqs(seqs []uint64) (string, error) {
	if len(seqs) == 0 {
		return "", nil
	}
	b, err := json.Marshal(seqs)
	return string(b), err
}

// ParseTraceSeqs decodes what TraceSeqs wrote: "" is no seqs.
func ParseTraceSeqs(s string) ([]uint64, error) {
	if s == "" {
		return nil, nil
	}
	var seqs []uint64
	if err := json.Unmarshal([]byte(s), &seqs); err != nil {
		return nil, err
	}
	return seqs, nil
}

// CheckSchemaVersion refuses a database's schema_version that the code knowing known migrations
// cannot migrate from: a newer one (wrapping tooNew, the store's sentinel) or a negative one.
func CheckSchemaVersion(version, known int, tooNew error) error {
	if version > known {
		return fmt.Errorf("%w: the database has schema version %d, this relay knows versions up to %d: run a newer relay",
			tooNew, version, known)
	}
	if version < 0 {
		return fmt.Errorf("schema_version %d is not a version", version)
	}
	return nil
}

// SessionCols are a session's columns that both SQL stores encode alike.
type SessionCols struct {
	LoginAt any     // Nanos of LoginAt
	Held    string  // JSON array of seqs, or null
	Caps    *string // Caps
}

// Session encodes a session's login time, held seqs and caps.
func Session(ss relay.SessionState) (SessionCols, error) {
	loginAt, err := Nanos(ss.LoginAt)
	if err != nil {
		return SessionCols{}, fmt.Errorf("login time: %w", err)
	}
	held, err := json.Marshal(ss.Held)
	if err != nil {
		return SessionCols{}, fmt.Errorf("held: %w", err)
	}
	caps, err := Caps(ss.Caps)
	if err != nil {
		return SessionCols{}, fmt.Errorf("caps: %w", err)
	}
	return SessionCols{LoginAt: loginAt, Held: string(held), Caps: caps}, nil
}

// CertificateTimes encodes a certificate's status and check times (Nanos).
func CertificateTimes(c relay.Certificate) (since, checkedAt any, err error) {
	if since, err = Nanos(c.Status.Since); err != nil {
		return nil, nil, fmt.Errorf("status since: %w", err)
	}
	if checkedAt, err = Nanos(c.Check.CheckedAt); err != nil {
		return nil, nil, fmt.Errorf("checked at: %w", err)
	}
	return since, checkedAt, nil
}

// PushCols are a pending push's columns that both SQL stores encode alike.
type PushCols struct {
	NotBefore any    // Nanos of NotBefore
	Data      string // Data
	Seqs      string // JSON array of seqs
}

// Push encodes a pending push's not-before time, data and seqs.
func Push(ps relay.PushState) (PushCols, error) {
	notBefore, err := Nanos(ps.NotBefore)
	if err != nil {
		return PushCols{}, fmt.Errorf("not-before time: %w", err)
	}
	data, err := Data(ps.Push.Data)
	if err != nil {
		return PushCols{}, fmt.Errorf("data: %w", err)
	}
	seqs, err := json.Marshal(ps.Push.Seqs)
	if err != nil {
		return PushCols{}, fmt.Errorf("seqs: %w", err)
	}
	return PushCols{NotBefore: notBefore, Data: data, Seqs: string(seqs)}, nil
}
