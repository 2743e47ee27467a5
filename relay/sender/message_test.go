package sender

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/fcmwire"
)

// TestV1BodyIsTheAdminSDKs holds fcmwire's HTTP v1 body to what the Admin SDK writes for the
// message the relay hands it: JSON-equal, and byte for byte.
func TestV1BodyIsTheAdminSDKs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *relay.Certificate, p *relay.Push)
	}{
		{"data", func(*relay.Certificate, *relay.Push) {}},
		{"no data", func(_ *relay.Certificate, p *relay.Push) { p.Data = nil }},
		{"empty data", func(_ *relay.Certificate, p *relay.Push) { p.Data = map[string]string{} }},
		{"ttl 0", func(_ *relay.Certificate, p *relay.Push) { p.TTL = duration.Of(0) }},
		{"ttl four weeks", func(_ *relay.Certificate, p *relay.Push) { p.TTL = duration.Of(28 * 24 * time.Hour) }},
		{"ttl with a fraction", func(_ *relay.Certificate, p *relay.Push) { p.TTL = duration.Of(1500 * time.Millisecond) }},
		{"ttl of a nanosecond", func(_ *relay.Certificate, p *relay.Push) { p.TTL = duration.Of(time.Nanosecond) }},
		{"count 0", func(_ *relay.Certificate, p *relay.Push) { p.NotificationCount = 0 }},
		{"count 999", func(_ *relay.Certificate, p *relay.Push) { p.NotificationCount = 999 }},
		{"empty title and body", func(_ *relay.Certificate, p *relay.Push) { p.Title, p.Body = "", "" }},
		{"no collapse key", func(_ *relay.Certificate, p *relay.Push) { p.CollapseKey = "" }},
		{"no package", func(c *relay.Certificate, _ *relay.Push) { c.PackageName = "" }},
		{"unicode", func(_ *relay.Certificate, p *relay.Push) {
			p.Title, p.Body, p.Data = "Zoë 🐈", "你好, \u2028ça va ?", map[string]string{"émoji": "😀"}
		}},
		{"markup and control characters", func(_ *relay.Certificate, p *relay.Push) {
			p.Title, p.Body = `<b>"a" & 'b'</b>`, "tab\tline\nnul\x00"
		}},
		{"invalid UTF-8", func(_ *relay.Certificate, p *relay.Push) { p.Body = "bad \xff byte" }},
		{"channel, sound and click action", func(_ *relay.Certificate, p *relay.Push) {
			p.ChannelID, p.Sound, p.ClickAction = "messages", "ping", "https://example.com/chat?u=bob&x=<1>"
		}},
		{"silent", func(_ *relay.Certificate, p *relay.Push) { p.Silent = true }},
		{"silent without data", func(_ *relay.Certificate, p *relay.Push) { p.Silent, p.Data = true, nil }},
		{"silent with channel and click action", func(_ *relay.Certificate, p *relay.Push) {
			p.Silent, p.ChannelID, p.ClickAction = true, "messages", "com.example.im.OPEN_CHAT"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := relay.Certificate{ID: 1, PackageName: "com.example.im", ServiceAccount: secret.New("{}")}
			p := relay.Push{Token: "tok:APA91b-x_y", Title: "bob", Body: "hi", CollapseKey: "c2c_bob",
				Data: map[string]string{"conv": "c2c_bob", "seq": "1"}, TTL: duration.Of(24 * time.Hour), NotificationCount: 3}
			tc.change(&cert, &p)
			sdk, err := json.Marshal(map[string]any{"message": Message(cert, p)})
			require.NoError(t, err)
			got := fcmwire.V1Body(cert, p)
			require.JSONEq(t, string(sdk), string(got))
			require.Equal(t, string(sdk), string(got), "same JSON, other bytes")
		})
	}
}
