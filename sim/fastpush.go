package sim

import (
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/fcmwire"
)

// fastMessage is the HTTP v1 message the relay sends for a push as fakefcm's core takes it: what
// fakefcm.DecodeV1Request reads from fcmwire.V1Body, built without the JSON round trip (the fast
// path of long runs, VirtualConfig.FastPushes), straight from the push as fcmwire.NewV1Message
// maps it: a notification with its Android block, or for a silent push none, its content in the
// data (fcmwire.SilentData). The two mappings are one rule written twice for speed:
// TestPropertyfastMessageIsTheDecodedBody holds this one to what fakefcm decodes from the wire form.
func fastMessage(cert relay.Certificate, p relay.Push) fakefcm.Message {
	parts := &fastParts{ttl: p.TTL.D(), count: p.NotificationCount}
	parts.android = fakefcm.AndroidConfig{
		Priority:              "high",
		TTL:                   &parts.ttl,
		CollapseKey:           p.CollapseKey,
		RestrictedPackageName: cert.PackageName,
	}
	out := fakefcm.Message{Token: p.Token, Android: &parts.android}
	data := p.Data
	if p.Silent {
		data = fcmwire.SilentData(p)
	} else {
		parts.notification = fakefcm.Notification{Title: p.Title, Body: p.Body}
		parts.androidNotification = fakefcm.AndroidNotification{Sound: p.Sound, Tag: p.CollapseKey, ClickAction: p.ClickAction,
			ChannelID: p.ChannelID, NotificationCount: &parts.count}
		parts.android.Notification = &parts.androidNotification
		out.Notification = &parts.notification
	}
	if len(data) > 0 { // an empty map is left out of the body, so the decoder reads none
		out.Data = data
	}
	return out
}

// fastParts are the parts of a fast message that it points to, made in one allocation rather
// than one each (a day in the life sends hundreds of thousands of pushes).
type fastParts struct {
	android             fakefcm.AndroidConfig
	ttl                 time.Duration
	notification        fakefcm.Notification
	androidNotification fakefcm.AndroidNotification
	count               int
}
