package fakefcm

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMessageNamesReadAsFCMWritesThem: the name and message ID built by hand read as the
// formats they stand for, whatever the widths of the time and the number.
func TestMessageNamesReadAsFCMWritesThem(t *testing.T) {
	long := "project-" + string(make([]byte, 200)) // past the builder's stack buffer
	for _, tc := range []struct {
		project string
		now     time.Time
		seq     uint64
	}{
		{"demo", time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), 1},
		{"p", time.UnixMicro(7), 0xabcdef},
		{long, time.UnixMicro(1 << 60), 1<<64 - 1},
		{"x", time.UnixMicro(-5), 16},
	} {
		name, id := messageName(tc.project, tc.now, tc.seq)
		wantID := fmt.Sprintf("0:%d%%%016x", tc.now.UnixMicro(), tc.seq)
		require.Equal(t, wantID, id)
		require.Equal(t, "projects/"+tc.project+"/messages/"+wantID, name)
	}
}

// TestAReservedKeyIsNamedInKeyOrder: among several reserved data keys, the refusal names the
// first in sorted order, whatever order the map yields them in.
func TestAReservedKeyIsNamedInKeyOrder(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	for range 20 {
		r := w.send(Message{Token: tok, Data: map[string]string{"ok": "1", "message_type": "x", "gcm.a": "1", "google.b": "2", "from": "y"}})
		require.NotNil(t, r.Err)
		require.Contains(t, r.Err.Message, `"from" is reserved`)
		require.Nil(t, w.send(Message{Token: tok, Data: map[string]string{"ok": "1", "fine": "2"}}).Err)
	}
}
