package pgstore

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// u64 bit-casts a uint64 to the int64 a BIGINT column holds; reading it back as int64 and
// converting restores it.
func u64(v uint64) int64 { return int64(v) }

// b is a string as a BYTEA value: never nil, which would be NULL.
func b(s string) []byte { return append([]byte{}, s...) }

// The times a UnixNano integer can hold.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// timeToDB converts a time to its column value: UnixNano, or NULL for the zero time.
func timeToDB(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, fmt.Errorf("time %v is out of the range the store keeps (%v to %v)", t, minTime.UTC(), maxTime.UTC())
	}
	return t.UnixNano(), nil
}

// timeFromDB converts a column value back to a time, in UTC.
func timeFromDB(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return time.Unix(0, *v).UTC()
}

// marshalStrings encodes a list of strings as JSON, refusing strings JSON would alter (invalid
// UTF-8 comes back replaced by U+FFFD).
func marshalStrings(ss []string) (string, error) {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return "", fmt.Errorf("%q is not valid UTF-8", s)
		}
	}
	b, err := json.Marshal(ss)
	return string(b), err
}

// marshalData encodes a push's data as JSON, refusing strings JSON would alter.
func marshalData(m map[string]string) (string, error) {
	for k, v := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return "", fmt.Errorf("%q: %q is not valid UTF-8", k, v)
		}
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// upsert is an INSERT of cols into table that replaces the row with the same keys (the first
// nkeys of cols), as SQLite's INSERT OR REPLACE does.
func upsert(table string, nkeys int, cols ...string) string {
	params := make([]string, len(cols))
	for i := range cols {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	sets := make([]string, 0, len(cols)-nkeys)
	for _, c := range cols[nkeys:] {
		sets = append(sets, c+" = excluded."+c)
	}
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(params, ", ") +
		") ON CONFLICT (" + strings.Join(cols[:nkeys], ", ") + ") DO UPDATE SET " + strings.Join(sets, ", ")
}
