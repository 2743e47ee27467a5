package journalstore

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

// BenchmarkSwapTail copies the frames of 2,000 one-push batches (what a swap finds appended at
// a few thousand pushes a second) as bytes (io.Copy, the baseline) and checking each frame's
// checksums (copyFrames), both to a file, so that what the check adds to the swap, on the loop,
// shows as a ratio of the two in the same run.
func BenchmarkSwapTail(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "relay.journal")
	s, err := Open(Config{Path: path, CompactAt: 1 << 40})
	require.NoError(b, err)
	for i := range 2000 {
		require.NoError(b, s.Apply(ctx, []relay.Record{relay.PutCounter{Name: "messages", Value: uint64(i)},
			relay.AppendTrace{Entries: storetest.TraceFixture()[:1]}}))
	}
	require.NoError(b, s.Close())
	file, err := os.ReadFile(path)
	require.NoError(b, err)
	tail := file[headerSize:]
	// Both write to a file, as the swap does (the compacted journal), emptied each time.
	dst, err := os.Create(filepath.Join(b.TempDir(), "relay.journal.compact"))
	require.NoError(b, err)
	defer dst.Close()
	run := func(b *testing.B, copyTail func(src io.Reader) error) {
		b.SetBytes(int64(len(tail)))
		for b.Loop() {
			require.NoError(b, dst.Truncate(0))
			_, err := dst.Seek(0, io.SeekStart)
			require.NoError(b, err)
			if err := copyTail(bytes.NewReader(tail)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("io.Copy", func(b *testing.B) {
		run(b, func(src io.Reader) error { _, err := io.Copy(dst, src); return err })
	})
	b.Run("copyFrames", func(b *testing.B) {
		run(b, func(src io.Reader) error { return copyFrames(dst, src, int64(len(tail))) })
	})
}
