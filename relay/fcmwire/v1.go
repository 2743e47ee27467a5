// Package fcmwire holds what the relay sends to FCM, as bytes and shapes rather than as a client:
// the HTTP v1 message of a push (exactly as the firebase Admin SDK writes it), the legacy /fcm/send
// body, the reading of the legacy API's error names, and the same push as fakefcm's core takes it.
// It imports neither net/http nor the Admin SDK, so the simulator can build what the relay sends
// without them; relay/sender hands the same message to the SDK for the real send.
package fcmwire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/pushlab/pushlab/relay"
)

// V1Message is the HTTP v1 message the relay sends for a push. Its members are the ones the relay
// sets, spelled and ordered as the Admin SDK writes them, so that its JSON is the SDK's byte for
// byte (relay/sender's tests hold it to that).
type V1Message struct {
	Data map[string]string `json:"data,omitempty"`
	// Notification is nil for a silent (data-only) push.
	Notification *V1Notification `json:"notification,omitempty"`
	Android      V1Android       `json:"android"`
	Token        string          `json:"token,omitempty"`
}

// V1Notification is the platform-independent notification of a V1Message.
type V1Notification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
}

// V1Android is the Android options of a V1Message.
type V1Android struct {
	TTL                   Duration               `json:"ttl"`
	CollapseKey           string                 `json:"collapse_key,omitempty"`
	Priority              string                 `json:"priority,omitempty"`
	RestrictedPackageName string                 `json:"restricted_package_name,omitempty"`
	Notification          *V1AndroidNotification `json:"notification,omitempty"` // nil for a silent push
}

// V1AndroidNotification is the Android notification of a V1Message.
type V1AndroidNotification struct {
	Sound             string `json:"sound,omitempty"`
	Tag               string `json:"tag,omitempty"`
	ClickAction       string `json:"click_action,omitempty"`
	ChannelID         string `json:"channel_id,omitempty"`
	NotificationCount int    `json:"notification_count"`
}

// Duration is a google.protobuf.Duration as the Admin SDK writes it: whole seconds ("90s"), or
// seconds with nine decimals when there is a fraction ("1.500000000s").
type Duration time.Duration

// MarshalText spells d the Admin SDK's way.
func (d Duration) MarshalText() ([]byte, error) {
	secs := int64(time.Duration(d) / time.Second)
	nanos := int64(time.Duration(d) - time.Duration(secs)*time.Second)
	if nanos > 0 {
		return fmt.Appendf(nil, "%d.%09ds", secs, nanos), nil
	}
	return fmt.Appendf(nil, "%ds", secs), nil
}

// NewV1Message is the HTTP v1 message the relay sends for a push: a high-priority notification
// with the conversation as collapse key and tag, restricted to the certificate's package, carrying
// the unread count as the Android badge and the push's channel, sound and click action. A silent
// push is a high-priority data message instead (high, so that it wakes the app's handler on a
// dozing phone): no notification block, its content in the data (SilentData).
func NewV1Message(cert relay.Certificate, p relay.Push) V1Message {
	m := V1Message{
		Token: p.Token,
		Data:  p.Data,
		Android: V1Android{
			CollapseKey:           p.CollapseKey,
			Priority:              "high",
			TTL:                   Duration(p.TTL.D()),
			RestrictedPackageName: cert.PackageName,
		},
	}
	if p.Silent {
		m.Data = SilentData(p)
		return m
	}
	m.Notification = &V1Notification{Title: p.Title, Body: p.Body}
	m.Android.Notification = &V1AndroidNotification{
		Sound:             p.Sound,
		Tag:               p.CollapseKey,
		ClickAction:       p.ClickAction,
		ChannelID:         p.ChannelID,
		NotificationCount: p.NotificationCount,
	}
	return m
}

// The data keys that carry a silent push's content to the app, which renders it itself.
const (
	DataTitle       = "title"
	DataBody        = "body"
	DataBadge       = "badge"
	DataChannelID   = "channelId"
	DataSound       = "sound"
	DataClickAction = "clickAction"
)

// SilentData is a silent push's data: the push's own, plus its title, body and badge, and the
// channel, sound and click action when set, for the app to build the notification from.
func SilentData(p relay.Push) map[string]string {
	data := make(map[string]string, len(p.Data)+6)
	for k, v := range p.Data {
		data[k] = v
	}
	data[DataTitle], data[DataBody], data[DataBadge] = p.Title, p.Body, strconv.Itoa(p.NotificationCount)
	for k, v := range map[string]string{DataChannelID: p.ChannelID, DataSound: p.Sound, DataClickAction: p.ClickAction} {
		if v != "" {
			data[k] = v
		}
	}
	return data
}

// v1Request is the body of an HTTP v1 send.
type v1Request struct {
	Message V1Message `json:"message"`
}

// V1Body is the HTTP v1 request body the Admin SDK writes for a push.
func V1Body(cert relay.Certificate, p relay.Push) []byte {
	b, _ := json.Marshal(v1Request{Message: NewV1Message(cert, p)}) // strings, ints, a string map: cannot fail
	return b
}
