package load

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/sender"
	relayserver "github.com/pushlab/pushlab/relay/server"
)

func TestKilledPhonesAreSpreadAtTheRatio(t *testing.T) {
	for _, ratio := range []float64{0.01, 0.1, 0.25, 1} {
		n := 0
		for i := range 1000 {
			if (Config{KillRatio: ratio}).killed(i) {
				n++
			}
		}
		require.Equal(t, int(ratio*1000), n, "ratio %v", ratio)
	}
	require.False(t, Config{}.killed(3), "no ratio, no kill")
}

// A virtual load: every message is acknowledged, the killed tenth of the phones gets a push for
// each message to it, after the simulated network's latencies.
func TestVirtualLoadPushesTheKilledPhones(t *testing.T) {
	res, err := RunVirtual(Config{Devices: 200, Rate: 100, Duration: 5 * time.Second, Seed: 1})
	require.NoError(t, err)
	require.Equal(t, 200-20+10, res.Connected, "200 phones and 10 senders, a tenth of the phones killed")
	require.InDelta(t, 100, res.MessagesPerSecond, 1)
	require.InDelta(t, 10, res.PushesPerSecond, 6, "about a tenth of the messages go to killed phones")
	require.Positive(t, res.PushLatencyMs.Count)
	require.InDelta(t, 45, res.PushLatencyMs.P99, 1, "20 ms to the relay, 5 to FCM, 20 to the phone")
	require.Zero(t, res.Errors)
}

// A live load against a relay and fakefcm on loopback in this process: phones connect, the
// killed ones get their pushes on their FCM channels.
func TestLiveLoadAgainstRunningServers(t *testing.T) {
	ctx := context.Background()
	fcm, err := fcmserver.Listen("127.0.0.1:0", fcmserver.Config{Core: fakefcm.Config{Seed: 1}})
	require.NoError(t, err)
	defer fcm.Shutdown(ctx)
	rs, err := relayserver.Listen(ctx, "127.0.0.1:0", relayserver.Config{Store: relay.NewMemoryStore(),
		Sender: sender.New(sender.Config{}), AdminKey: secret.New("load-test-admin-key-0123")})
	require.NoError(t, err)
	defer rs.Shutdown(ctx)
	res, err := RunLive(ctx, Config{Devices: 40, Senders: 4, Rate: 40, Duration: 2 * time.Second, KillRatio: 0.5,
		RelayURL: rs.URL, FCMURL: fcm.URL, AdminKey: "load-test-admin-key-0123", Seed: 2})
	require.NoError(t, err)
	require.Zero(t, res.Errors)
	require.Equal(t, 40-20+4, res.Connected)
	require.Equal(t, 40+4, res.PeakConnected, "every phone and sender, before the kills")
	require.InDelta(t, 40, res.MessagesPerSecond, 8)
	require.Positive(t, res.PushLatencyMs.Count, "killed phones got pushes")
	require.InDelta(t, res.MessagesPerSecond/2, res.PushesPerSecond, 12)
	require.NotEmpty(t, res.Series)
}

func TestConfigRefusesWhatCannotWork(t *testing.T) {
	for _, c := range []Config{{KillRatio: 2}, {Rate: -1}, {Devices: -1}, {Sources: 300}, {RelayURL: "http://x"}} {
		require.Error(t, c.Validate(), "%+v", c)
	}
}
