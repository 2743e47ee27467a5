package relay

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The core's trace ring keeps the newest limit entries, oldest first, across many times its
// limit and chunk boundaries.
func TestTraceLogKeepsTheNewest(t *testing.T) {
	l := traceLog{limit: 2500}
	ids := func() []uint64 {
		var out []uint64
		l.each(func(e *TraceEntry) { out = append(out, e.PushID) })
		return out
	}
	span := func(from, to uint64) []uint64 {
		var out []uint64
		for id := from; id <= to; id++ {
			out = append(out, id)
		}
		return out
	}
	for id := uint64(1); id <= 2000; id++ {
		l.add(TraceEntry{PushID: id})
	}
	require.Equal(t, span(1, 2000), ids(), "under its limit, it keeps everything")
	for id := uint64(2001); id <= 7777; id++ {
		l.add(TraceEntry{PushID: id})
	}
	require.Equal(t, span(7777-2500+1, 7777), ids())
}
