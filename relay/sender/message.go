// Package sender sends the relay's pushes to FCM: HTTP v1 through the firebase Admin SDK's
// messaging client for certificates with a service account, the legacy /fcm/send API for
// certificates with a server key. A certificate that names an endpoint (a fakefcm) is pointed at
// it; one that does not goes to Google. What is sent is fcmwire's.
package sender

import (
	"time"

	"firebase.google.com/go/v4/messaging"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/fcmwire"
)

// sdkMessage is m as the Admin SDK's message, member for member, so that the SDK writes
// fcmwire.V1Body's bytes.
func sdkMessage(m fcmwire.V1Message) *messaging.Message {
	ttl := time.Duration(m.Android.TTL)
	out := &messaging.Message{
		Token: m.Token,
		Data:  m.Data,
		Android: &messaging.AndroidConfig{
			CollapseKey:           m.Android.CollapseKey,
			Priority:              m.Android.Priority,
			TTL:                   &ttl,
			RestrictedPackageName: m.Android.RestrictedPackageName,
		},
	}
	if n := m.Notification; n != nil {
		out.Notification = &messaging.Notification{Title: n.Title, Body: n.Body}
	}
	if n := m.Android.Notification; n != nil {
		count := n.NotificationCount
		out.Android.Notification = &messaging.AndroidNotification{
			Sound:             n.Sound,
			Tag:               n.Tag,
			ClickAction:       n.ClickAction,
			ChannelID:         n.ChannelID,
			NotificationCount: &count,
		}
	}
	return out
}

// Message is the HTTP v1 message the relay sends for a push, as the Admin SDK's message (what
// Pool.Send hands the SDK).
func Message(cert relay.Certificate, p relay.Push) *messaging.Message {
	return sdkMessage(fcmwire.NewV1Message(cert, p))
}
