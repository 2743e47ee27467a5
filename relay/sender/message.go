// Package sender sends the relay's pushes to FCM: HTTP v1 through the firebase Admin SDK's
// messaging client for certificates with a service account, the legacy /fcm/send API for
// certificates with a server key. A certificate that names an endpoint (a fakefcm) is pointed at
// it; one that does not goes to Google.
package sender

import (
	"encoding/json"
	"strconv"
	"time"

	"firebase.google.com/go/v4/messaging"

	"github.com/pushlab/pushlab/relay"
)

// Message is the HTTP v1 message the relay sends for a push: a high-priority notification with
// the conversation as collapse key, restricted to the certificate's package, carrying the unread
// count as the Android badge. The simulator encodes the same message to drive fakefcm's core.
func Message(cert relay.Certificate, p relay.Push) *messaging.Message {
	ttl := p.TTL.D()
	count := p.NotificationCount
	return &messaging.Message{
		Token:        p.Token,
		Notification: &messaging.Notification{Title: p.Title, Body: p.Body},
		Data:         p.Data,
		Android: &messaging.AndroidConfig{
			CollapseKey:           p.CollapseKey,
			Priority:              "high",
			TTL:                   &ttl,
			RestrictedPackageName: cert.PackageName,
			Notification: &messaging.AndroidNotification{
				Tag:               p.CollapseKey,
				NotificationCount: &count,
			},
		},
	}
}

// V1Body is the HTTP v1 request body the Admin SDK writes for a push.
func V1Body(cert relay.Certificate, p relay.Push) []byte {
	b, _ := json.Marshal(map[string]any{"message": Message(cert, p)}) // plain values: cannot fail
	return b
}

// legacyMessage is a legacy /fcm/send body for one token.
type legacyMessage struct {
	To                    string            `json:"to"`
	CollapseKey           string            `json:"collapse_key,omitempty"`
	Priority              string            `json:"priority"`
	TimeToLive            int64             `json:"time_to_live"`
	RestrictedPackageName string            `json:"restricted_package_name,omitempty"`
	Notification          legacyNotif       `json:"notification"`
	Data                  map[string]string `json:"data,omitempty"`
}

type legacyNotif struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	Tag   string `json:"tag,omitempty"`
}

// LegacyBody is the legacy /fcm/send body the relay sends for a push. The legacy API has no
// badge field, so the unread count travels in data as "badge".
func LegacyBody(cert relay.Certificate, p relay.Push) []byte {
	data := make(map[string]string, len(p.Data)+1)
	for k, v := range p.Data {
		data[k] = v
	}
	data["badge"] = strconv.Itoa(p.NotificationCount)
	b, _ := json.Marshal(legacyMessage{
		To: p.Token, CollapseKey: p.CollapseKey, Priority: "high",
		TimeToLive:            int64(p.TTL.D() / time.Second),
		RestrictedPackageName: cert.PackageName,
		Notification:          legacyNotif{Title: p.Title, Body: p.Body, Tag: p.CollapseKey},
		Data:                  data,
	})
	return b
}
