package fcmwire

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/pushlab/pushlab/relay"
)

// legacyMessage is a legacy /fcm/send body for one token.
type legacyMessage struct {
	To                    string            `json:"to"`
	CollapseKey           string            `json:"collapse_key,omitempty"`
	Priority              string            `json:"priority"`
	TimeToLive            int64             `json:"time_to_live"`
	RestrictedPackageName string            `json:"restricted_package_name,omitempty"`
	Notification          *legacyNotif      `json:"notification,omitempty"` // nil for a silent push
	Data                  map[string]string `json:"data,omitempty"`
}

// legacyNotif is the notification of a legacy /fcm/send body.
type legacyNotif struct {
	Title       string `json:"title"`
	Body        string `json:"body"`
	Tag         string `json:"tag,omitempty"`
	Sound       string `json:"sound,omitempty"`
	ClickAction string `json:"click_action,omitempty"`
	ChannelID   string `json:"android_channel_id,omitempty"`
}

// LegacyBody is the legacy /fcm/send body the relay sends for a push. The legacy API has no
// badge field, so the unread count travels in data as "badge". A silent push has no
// notification: its content is in the data (SilentData).
func LegacyBody(cert relay.Certificate, p relay.Push) []byte {
	msg := legacyMessage{
		To: p.Token, CollapseKey: p.CollapseKey, Priority: "high",
		TimeToLive:            int64(p.TTL.D() / time.Second),
		RestrictedPackageName: cert.PackageName,
	}
	if p.Silent {
		msg.Data = SilentData(p)
	} else {
		data := make(map[string]string, len(p.Data)+1)
		for k, v := range p.Data {
			data[k] = v
		}
		data[DataBadge] = strconv.Itoa(p.NotificationCount)
		msg.Data = data
		msg.Notification = &legacyNotif{Title: p.Title, Body: p.Body, Tag: p.CollapseKey,
			Sound: p.Sound, ClickAction: p.ClickAction, ChannelID: p.ChannelID}
	}
	b, _ := json.Marshal(msg)
	return b
}

// LegacyError maps a legacy API per-token error string (NotRegistered, InvalidRegistration, …) to
// the relay's terms, FCM's v1 codes; unknown strings count as INTERNAL.
func LegacyError(name string) *relay.PushError {
	e := &relay.PushError{Message: name}
	switch name {
	case "NotRegistered":
		e.Code = "UNREGISTERED"
	case "InvalidRegistration", "MissingRegistration":
		e.Code, e.TokenInvalid = "INVALID_ARGUMENT", true
	case "MismatchSenderId":
		e.Code = "SENDER_ID_MISMATCH"
	case "InvalidPackageName", "MessageTooBig", "InvalidDataKey", "InvalidTtl", "InvalidParameters":
		e.Code = "INVALID_ARGUMENT"
	case "DeviceMessageRateExceeded":
		e.Code = "QUOTA_EXCEEDED"
	case "Unavailable":
		e.Code = "UNAVAILABLE"
	default: // InternalServerError and anything unknown
		e.Code = "INTERNAL"
	}
	return e
}
