package logbuf_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/logbuf"
)

// TestConcurrentWritesAllArrive: lines written from many goroutines at once, while another reads,
// all arrive whole (and the race detector sees no race).
func TestConcurrentWritesAllArrive(t *testing.T) {
	var b logbuf.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				_, err := fmt.Fprintf(&b, "writer %d line %d\n", i, j)
				require.NoError(t, err)
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			_ = b.String()
		}
	})
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	require.Len(t, lines, 8*50)
	for _, l := range lines {
		require.Regexp(t, `^writer \d line \d+$`, l)
	}
}

// TestLoggerWritesJSONAtLevel: the logger writes one JSON object a line, and drops lines below
// its level.
func TestLoggerWritesJSONAtLevel(t *testing.T) {
	var b logbuf.Buffer
	log := b.Logger(slog.LevelInfo)
	log.Debug("dropped")
	log.Info("kept", "n", 1)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(b.String()), &rec), b.String())
	require.Equal(t, "kept", rec["msg"])
	require.Equal(t, 1.0, rec["n"])
}
