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
	ttl := time.Duration(a.TTL)
	out := fakefcm.Message{
		Token: m.Token,
		Android: &fakefcm.AndroidConfig{
			Priority:              a.Priority,
			TTL:                   &ttl,
			CollapseKey:           a.CollapseKey,
			RestrictedPackageName: a.RestrictedPackageName,
		},
	}
	if n := m.Notification; n != nil {
		out.Notification = &fakefcm.Notification{Title: n.Title, Body: n.Body}
	}
	if n := a.Notification; n != nil {
		count := n.NotificationCount
		out.Android.Notification = &fakefcm.AndroidNotification{Sound: n.Sound, Tag: n.Tag, ClickAction: n.ClickAction,
			ChannelID: n.ChannelID, NotificationCount: &count}
	}
	if len(m.Data) > 0 { // an empty map is left out of the body, so the decoder reads none
		out.Data = m.Data
	}
	return out
}
