package sim

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/fcmwire"
)

// TestPropertyfastMessageIsTheDecodedBody draws pushes and checks that fastMessage gives
// fakefcm's core the message that fakefcm's decoder reads from V1Body.
func TestPropertyfastMessageIsTheDecodedBody(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		str := rapid.StringMatching(`[a-zA-Z0-9 é😀<&"_\\]{0,20}`)
		cert := relay.Certificate{ID: 1, PackageName: rapid.SampledFrom([]string{"", "com.example.im"}).Draw(t, "package"),
			ServiceAccount: secret.New("{}")}
		p := relay.Push{
			Token: rapid.StringMatching(`[a-zA-Z0-9:_-]{1,40}`).Draw(t, "token"),
			Title: str.Draw(t, "title"), Body: str.Draw(t, "body"), CollapseKey: str.Draw(t, "collapse"),
			Data: rapid.OneOf(rapid.Just[map[string]string](nil),
				rapid.MapOf(rapid.StringMatching(`[a-z]{1,6}`), str)).Draw(t, "data"),
			TTL: duration.Of(rapid.OneOf(rapid.Just(time.Duration(0)), rapid.Just(fakefcm.MaxTTL),
				rapid.Map(rapid.Int64Range(0, int64(fakefcm.MaxTTL)), func(n int64) time.Duration { return time.Duration(n) })).Draw(t, "ttl")),
			NotificationCount: rapid.IntRange(0, 999).Draw(t, "count"),
			ChannelID:         rapid.SampledFrom([]string{"", "messages"}).Draw(t, "channel"),
			Sound:             rapid.SampledFrom([]string{"", "default", "ping"}).Draw(t, "sound"),
			ClickAction:       rapid.SampledFrom([]string{"", "com.example.im.OPEN_CHAT", "https://example.com/c?a=1&b=é"}).Draw(t, "clickAction"),
			Silent:            rapid.Bool().Draw(t, "silent"),
		}
		wire, err := fakefcm.DecodeV1Request(fcmwire.V1Body(cert, p))
		if err != nil {
			t.Fatalf("decode %s: %v", fcmwire.V1Body(cert, p), err)
		}
		if diff := cmp.Diff(wire.Message, fastMessage(cert, p)); diff != "" {
			t.Fatalf("fastMessage differs from the decoded body (-decoded +built):\n%s", diff)
		}
	})
}
