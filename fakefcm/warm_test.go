package fakefcm

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestWarmTokensChangesNothing: the same sends, throttled and not, with or without WarmTokens'
// hints before each (naming the devices and a token FCM never gave), deliver the same messages
// and keep the same records and counts, and a hint registers nothing.
func TestWarmTokensChangesNothing(t *testing.T) {
	type outcome struct {
		Received map[string][]*RemoteMessage
		Records  []Record
		Stats    Stats
		Devices  int
	}
	run := func(warm bool) outcome {
		w := newBench(t, Behaviour{Throttles: Throttles{CollapsibleBurst: -1}})
		on, off := w.device(), w.device()
		w.connect(on)
		for i := range DefaultDevicePerMinute + 5 {
			if warm {
				w.core.WarmTokens([]string{on, off, "no-such-token", ""})
			}
			w.send(dataMsg([]string{on, off}[i%2], i))
		}
		w.advance(2 * time.Minute)
		return outcome{Received: w.received, Records: w.core.Records(RecordFilter{}), Stats: w.core.Stats(), Devices: len(w.core.devices)}
	}
	cold, warm := run(false), run(true)
	require.Equal(t, 2, cold.Devices, "no device for a token only a hint named")
	require.NotEmpty(t, cold.Records)
	require.Empty(t, cmp.Diff(cold, warm))
}
