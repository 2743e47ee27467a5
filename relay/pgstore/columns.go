package pgstore

import (
	"fmt"
	"strings"
)

// u64 bit-casts a uint64 to the int64 a BIGINT column holds; reading it back as int64 and
// converting restores it.
func u64(v uint64) int64 { return int64(v) }

// b is a string as a BYTEA value: never nil, which would be NULL.
func b(s string) []byte { return append([]byte{}, s...) }

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
