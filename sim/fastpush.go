package sim

import (
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/fcmwire"
)

// fastMessage is the HTTP v1 message the relay sends for a push as fakefcm's core takes it: what
// fakefcm.DecodeV1Request reads from fcmwire.V1Body, built without the JSON round trip (the fast
// path of long runs, VirtualConfig.FastPushes).
func fastMessage(cert relay.Certificate, p relay.Push) fakefcm.Message {
	m := fcmwire.NewV1Message(cert, p)
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
