package relay_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

func TestPageNewestFirst(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// read makes what a store reads newest first: n entries, the newest at t0+n-1s with seq 10+n-1.
	read := func(n int) ([]relay.TraceEntry, []uint64) {
		var entries []relay.TraceEntry
		var seqs []uint64
		for i := n - 1; i >= 0; i-- {
			entries = append(entries, relay.TraceEntry{Time: t0.Add(time.Duration(i) * time.Second), Reason: string(rune('a' + i))})
			seqs = append(seqs, uint64(10+i))
		}
		return entries, seqs
	}
	reasons := func(p relay.TracePage) string {
		s := ""
		for _, e := range p.Entries {
			s += e.Reason
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		n       int
		limit   int
		want    string
		wantNxt relay.TraceCursor
	}{
		{"none", 0, 3, "", relay.TraceCursor{}},
		{"no limit", 4, 0, "abcd", relay.TraceCursor{}},
		{"fewer than the limit", 2, 3, "ab", relay.TraceCursor{}},
		{"exactly the limit", 3, 3, "abc", relay.TraceCursor{}},
		{"one more than the limit", 4, 3, "bcd", relay.TraceCursor{Time: t0.Add(time.Second), Seq: 11}},
		{"limit one", 2, 1, "b", relay.TraceCursor{Time: t0.Add(time.Second), Seq: 11}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, seqs := read(tc.n)
			p := relay.PageNewestFirst(entries, seqs, tc.limit)
			require.Equal(t, tc.want, reasons(p), "the newest limit entries, oldest first")
			require.Empty(t, cmp.Diff(tc.wantNxt, p.Next), "Next")
			require.Equal(t, tc.wantNxt.IsZero(), p.Next.IsZero())
		})
	}
}
