package sqlitestore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// u64 bit-casts a uint64 to the int64 an INTEGER column holds (database/sql refuses uint64 values
// of 2^63 and above); reading it back as int64 and converting restores it.
func u64(v uint64) int64 { return int64(v) }

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
func timeFromDB(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64).UTC()
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
