package sim

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/sender"
)

// TestPropertySDKConversionMatchesTheWire draws pushes and checks that the fast conversion gives
// fakefcm the same message as the Admin SDK's JSON read by fakefcm's decoder.
func TestPropertySDKConversionMatchesTheWire(t *testing.T) {
	cert := relay.Certificate{ID: 1, PackageName: "com.example.im", ServiceAccount: secret.New("{}")}
	rapid.Check(t, func(t *rapid.T) {
		str := rapid.StringMatching(`[a-zA-Z0-9 é_]{0,20}`)
		p := relay.Push{
			Token: rapid.StringMatching(`[a-zA-Z0-9:_-]{1,40}`).Draw(t, "token"),
			Title: str.Draw(t, "title"), Body: str.Draw(t, "body"), CollapseKey: str.Draw(t, "collapse"),
			Data:              rapid.MapOf(rapid.StringMatching(`[a-z]{1,6}`), str).Draw(t, "data"),
			TTL:               duration.Of(time.Duration(rapid.Int64Range(0, int64(fakefcm.MaxTTL)).Draw(t, "ttl"))),
			NotificationCount: rapid.IntRange(0, 999).Draw(t, "badge"),
		}
		fast := sdkToFakeFCM(sender.Message(cert, p))
		wire, err := fakefcm.DecodeV1Request(sender.V1Body(cert, p))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if diff := cmp.Diff(wire.Message, fast, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("fast conversion differs from the wire (-wire +fast):\n%s", diff)
		}
	})
}
