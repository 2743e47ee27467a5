package fakefcm

import (
	"bytes"
	"encoding/json"
	jsonv2 "encoding/json/v2"
	"strconv"
)

// The typed shapes below decode a well-formed HTTP v1 body in one pass. Each member has a field
// per spelling (snake_case as the Admin SDK writes, lowerCamelCase as proto3 JSON allows); members
// fakefcm does not model are kept as raw JSON. Anything unusual — an unknown member, both
// spellings, a wrong type — makes DecodeV1Request fall back to the member-by-member decoder,
// which says precisely what is wrong.
type v1FastBody struct {
	ValidateOnly  *bool          `json:"validate_only"`
	ValidateOnlyC *bool          `json:"validateOnly"`
	Message       *v1FastMessage `json:"message"`
}

type v1FastMessage struct {
	Name         string            `json:"name"`
	Token        string            `json:"token"`
	Topic        string            `json:"topic"`
	Condition    string            `json:"condition"`
	Data         map[string]string `json:"data"`
	Notification *Notification     `json:"notification"`
	Android      *v1FastAndroid    `json:"android"`
	Webpush      json.RawMessage   `json:"webpush"`
	APNS         json.RawMessage   `json:"apns"`
	FCMOptions   json.RawMessage   `json:"fcm_options"`
	FCMOptionsC  json.RawMessage   `json:"fcmOptions"`
}

type v1FastAndroid struct {
	CollapseKey             *string            `json:"collapse_key"`
	CollapseKeyC            *string            `json:"collapseKey"`
	Priority                string             `json:"priority"`
	TTL                     *string            `json:"ttl"`
	RestrictedPackageName   *string            `json:"restricted_package_name"`
	RestrictedPackageNameC  *string            `json:"restrictedPackageName"`
	Data                    map[string]string  `json:"data"`
	Notification            *v1FastAndroidNote `json:"notification"`
	FCMOptions              json.RawMessage    `json:"fcm_options"`
	FCMOptionsC             json.RawMessage    `json:"fcmOptions"`
	DirectBootOK            *bool              `json:"direct_boot_ok"`
	DirectBootOKC           *bool              `json:"directBootOk"`
	BandwidthConstrainedOK  *bool              `json:"bandwidth_constrained_ok"`
	BandwidthConstrainedOKC *bool              `json:"bandwidthConstrainedOk"`
	RestrictedSatelliteOK   *bool              `json:"restricted_satellite_ok"`
	RestrictedSatelliteOKC  *bool              `json:"restrictedSatelliteOk"`
}

type v1FastAndroidNote struct {
	Title                    string          `json:"title"`
	Body                     string          `json:"body"`
	Icon                     string          `json:"icon"`
	Color                    string          `json:"color"`
	Sound                    string          `json:"sound"`
	Tag                      string          `json:"tag"`
	Image                    string          `json:"image"`
	Ticker                   string          `json:"ticker"`
	Sticky                   *bool           `json:"sticky"`
	Visibility               string          `json:"visibility"`
	Proxy                    string          `json:"proxy"`
	ClickAction              *string         `json:"click_action"`
	ClickActionC             *string         `json:"clickAction"`
	ChannelID                *string         `json:"channel_id"`
	ChannelIDC               *string         `json:"channelId"`
	NotificationCount        json.RawMessage `json:"notification_count"`
	NotificationCountC       json.RawMessage `json:"notificationCount"`
	BodyLocKey               json.RawMessage `json:"body_loc_key"`
	BodyLocKeyC              json.RawMessage `json:"bodyLocKey"`
	BodyLocArgs              json.RawMessage `json:"body_loc_args"`
	BodyLocArgsC             json.RawMessage `json:"bodyLocArgs"`
	TitleLocKey              json.RawMessage `json:"title_loc_key"`
	TitleLocKeyC             json.RawMessage `json:"titleLocKey"`
	TitleLocArgs             json.RawMessage `json:"title_loc_args"`
	TitleLocArgsC            json.RawMessage `json:"titleLocArgs"`
	EventTime                json.RawMessage `json:"event_time"`
	EventTimeC               json.RawMessage `json:"eventTime"`
	LocalOnly                json.RawMessage `json:"local_only"`
	LocalOnlyC               json.RawMessage `json:"localOnly"`
	NotificationPriority     json.RawMessage `json:"notification_priority"`
	NotificationPriorityC    json.RawMessage `json:"notificationPriority"`
	DefaultSound             json.RawMessage `json:"default_sound"`
	DefaultSoundC            json.RawMessage `json:"defaultSound"`
	DefaultVibrateTimings    json.RawMessage `json:"default_vibrate_timings"`
	DefaultVibrateTimingsC   json.RawMessage `json:"defaultVibrateTimings"`
	DefaultLightSettings     json.RawMessage `json:"default_light_settings"`
	DefaultLightSettingsC    json.RawMessage `json:"defaultLightSettings"`
	VibrateTimings           json.RawMessage `json:"vibrate_timings"`
	VibrateTimingsC          json.RawMessage `json:"vibrateTimings"`
	LightSettings            json.RawMessage `json:"light_settings"`
	LightSettingsC           json.RawMessage `json:"lightSettings"`
	BypassProxyNotification  json.RawMessage `json:"bypass_proxy_notification"`
	BypassProxyNotificationC json.RawMessage `json:"bypassProxyNotification"`
}

// decodeV1Fast decodes a well-formed body in one pass; ok is false for anything the precise
// decoder must look at.
func decodeV1Fast(body []byte) (req *V1Request, ok bool) {
	var b v1FastBody
	// Unmarshal takes one value and nothing after it but space. It is stricter than the precise
	// decoder (names match case for case, a name may not repeat, strings must be valid UTF-8):
	// what it refuses, the precise decoder judges.
	if err := jsonv2.Unmarshal(body, &b, jsonv2.RejectUnknownMembers(true)); err != nil || b.Message == nil {
		return nil, false
	}
	vo, ok := one(b.ValidateOnly, b.ValidateOnlyC)
	if !ok {
		return nil, false
	}
	fm := b.Message
	if !rawOne(fm.FCMOptions, fm.FCMOptionsC) || !isObjectOrAbsent(fm.Webpush) || !isObjectOrAbsent(fm.APNS) ||
		!isObjectOrAbsent(fm.FCMOptions) || !isObjectOrAbsent(fm.FCMOptionsC) {
		return nil, false
	}
	req = &V1Request{Message: Message{Token: fm.Token, Topic: fm.Topic, Condition: fm.Condition, Data: fm.Data, Notification: fm.Notification}}
	if vo != nil {
		req.ValidateOnly = *vo
	}
	if a := fm.Android; a != nil {
		out := &AndroidConfig{Priority: a.Priority, Data: a.Data}
		var okk, okr bool
		var ck, rp *string
		ck, okk = one(a.CollapseKey, a.CollapseKeyC)
		rp, okr = one(a.RestrictedPackageName, a.RestrictedPackageNameC)
		_, okd := one(a.DirectBootOK, a.DirectBootOKC)
		_, okb := one(a.BandwidthConstrainedOK, a.BandwidthConstrainedOKC)
		_, oks := one(a.RestrictedSatelliteOK, a.RestrictedSatelliteOKC)
		if !okk || !okr || !okd || !okb || !oks || !rawOne(a.FCMOptions, a.FCMOptionsC) ||
			!isObjectOrAbsent(a.FCMOptions) || !isObjectOrAbsent(a.FCMOptionsC) {
			return nil, false
		}
		out.CollapseKey, out.RestrictedPackageName = deref(ck), deref(rp)
		if a.TTL != nil {
			d, err := parseDuration(*a.TTL)
			if err != nil {
				return nil, false
			}
			out.TTL = &d
		}
		if n := a.Notification; n != nil {
			ca, ok1 := one(n.ClickAction, n.ClickActionC)
			ch, ok2 := one(n.ChannelID, n.ChannelIDC)
			if !ok1 || !ok2 {
				return nil, false
			}
			for _, pair := range [][2]json.RawMessage{
				{n.NotificationCount, n.NotificationCountC}, {n.BodyLocKey, n.BodyLocKeyC}, {n.BodyLocArgs, n.BodyLocArgsC},
				{n.TitleLocKey, n.TitleLocKeyC}, {n.TitleLocArgs, n.TitleLocArgsC}, {n.EventTime, n.EventTimeC},
				{n.LocalOnly, n.LocalOnlyC}, {n.NotificationPriority, n.NotificationPriorityC}, {n.DefaultSound, n.DefaultSoundC},
				{n.DefaultVibrateTimings, n.DefaultVibrateTimingsC}, {n.DefaultLightSettings, n.DefaultLightSettingsC},
				{n.VibrateTimings, n.VibrateTimingsC}, {n.LightSettings, n.LightSettingsC}, {n.BypassProxyNotification, n.BypassProxyNotificationC},
			} {
				if !rawOne(pair[0], pair[1]) {
					return nil, false
				}
			}
			an := &AndroidNotification{Title: n.Title, Body: n.Body, Icon: n.Icon, Color: n.Color, Sound: n.Sound,
				Tag: n.Tag, Image: n.Image, ClickAction: deref(ca), ChannelID: deref(ch)}
			if raw := firstRaw(n.NotificationCount, n.NotificationCountC); raw != nil {
				c, ok := parseInt32(raw)
				if !ok {
					return nil, false
				}
				an.NotificationCount = &c
			}
			out.Notification = an
		}
		req.Message.Android = out
	}
	return req, true
}

// one returns whichever of two spellings is set, and false if both are.
func one[T any](snake, camel *T) (*T, bool) {
	if snake != nil && camel != nil {
		return nil, false
	}
	if snake != nil {
		return snake, true
	}
	return camel, true
}

func rawOne(snake, camel json.RawMessage) bool { return snake == nil || camel == nil }

func firstRaw(a, b json.RawMessage) json.RawMessage {
	if a != nil && !bytes.Equal(a, []byte("null")) {
		return a
	}
	if b != nil && !bytes.Equal(b, []byte("null")) {
		return b
	}
	return nil
}

func isObjectOrAbsent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || raw[0] == '{' || bytes.Equal(raw, []byte("null"))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// parseInt32 reads an int32 given as a JSON number or a numeric string.
func parseInt32(raw json.RawMessage) (int, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		raw = []byte(s)
	}
	n, err := strconv.ParseInt(string(raw), 10, 32)
	return int(n), err == nil
}
