package sim

import (
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/fcmwire"
)

// fastMessage is the HTTP v1 message the relay sends for a push as fakefcm's core takes it: what
// fakefcm.DecodeV1Request reads from fcmwire.V1Body, built without the JSON round trip (the fast
// path of long runs, VirtualConfig.FastPushes). A notification push is built straight from the
// push, as fcmwire.NewV1Message maps it, rather than through the wire struct and the two
// notification blocks it points to; a silent push, whose data the wire form builds, goes through
// it. The two mappings are one rule written twice for speed: TestPropertyfastMessageIsTheDecodedBody
// holds this one to what fakefcm decodes from the wire form.
func fastMessage(cert relay.Certificate, p relay.Push) fakefcm.Message {
	if p.Silent {
		return fastWireMessage(fcmwire.NewV1Message(cert, p))
	}
	parts := &fastParts{ttl: p.TTL.D(), count: p.NotificationCount}
	parts.android = fakefcm.AndroidConfig{
		Priority:              "high",
		TTL:                   &parts.ttl,
		CollapseKey:           p.CollapseKey,
		RestrictedPackageName: cert.PackageName,
	}
	parts.notification = fakefcm.Notification{Title: p.Title, Body: p.Body}
	parts.androidNotification = fakefcm.AndroidNotification{Sound: p.Sound, Tag: p.CollapseKey, ClickAction: p.ClickAction,
		ChannelID: p.ChannelID, NotificationCount: &parts.count}
	parts.android.Notification = &parts.androidNotification
	out := fakefcm.Message{Token: p.Token, Android: &parts.android, Notification: &parts.notification}
	if len(p.Data) > 0 { // an empty map is left out of the body, so the decoder reads none
		out.Data = p.Data
	}
	return out
}

// fastWireMessage is fakefcm's message for a v1 message of the wire.
func fastWireMessage(m fcmwire.V1Message) fakefcm.Message {
	a := m.Android
	parts := &fastParts{ttl: time.Duration(a.TTL)}
	parts.android = fakefcm.AndroidConfig{
		Priority:              a.Priority,
		TTL:                   &parts.ttl,
		CollapseKey:           a.CollapseKey,
		RestrictedPackageName: a.RestrictedPackageName,
	}
	out := fakefcm.Message{Token: m.Token, Android: &parts.android}
	if n := m.Notification; n != nil {
		parts.notification = fakefcm.Notification{Title: n.Title, Body: n.Body}
		out.Notification = &parts.notification
	}
	if n := a.Notification; n != nil {
		parts.count = n.NotificationCount
		parts.androidNotification = fakefcm.AndroidNotification{Sound: n.Sound, Tag: n.Tag, ClickAction: n.ClickAction,
			ChannelID: n.ChannelID, NotificationCount: &parts.count}
		out.Android.Notification = &parts.androidNotification
	}
	if len(m.Data) > 0 { // an empty map is left out of the body, so the decoder reads none
		out.Data = m.Data
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
