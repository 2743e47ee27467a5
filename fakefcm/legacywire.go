package fakefcm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// MaxLegacyTargets is the most registration_ids one legacy request may name.
const MaxLegacyTargets = 1000

// LegacyRequest is a decoded legacy /fcm/send body: one message template and its targets.
type LegacyRequest struct {
	// Targets are the registration tokens, from "to" or "registration_ids". A topic target
	// ("/topics/x" in "to") is in Message.Topic instead.
	Targets []string
	DryRun  bool
	// Message is the template; Send is called once per target with Message.Token set.
	Message Message
}

// legacyBody is the JSON shape of a legacy send body.
type legacyBody struct {
	To                    *string        `json:"to"`
	RegistrationIDs       []string       `json:"registration_ids"`
	CollapseKey           string         `json:"collapse_key"`
	Priority              string         `json:"priority"`
	TimeToLive            *int64         `json:"time_to_live"`
	RestrictedPackageName string         `json:"restricted_package_name"`
	DryRun                bool           `json:"dry_run"`
	Notification          *legacyNotif   `json:"notification"`
	Data                  map[string]any `json:"data"`
	Condition             string         `json:"condition"`
}

type legacyNotif struct {
	Title       string `json:"title"`
	Body        string `json:"body"`
	Icon        string `json:"icon"`
	Color       string `json:"color"`
	Sound       string `json:"sound"`
	Tag         string `json:"tag"`
	ClickAction string `json:"click_action"`
	ChannelID   string `json:"android_channel_id"`
	Image       string `json:"image"`
}

// LegacyDecodeError is a legacy request refused as a whole: the status and the plain-text body
// legacy FCM answered with.
type LegacyDecodeError struct {
	Status int
	Body   string
}

func (e *LegacyDecodeError) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Body) }

// DecodeLegacyRequest decodes a legacy /fcm/send body. A body legacy FCM refused as a whole (bad
// JSON, too many registration_ids) gives a LegacyDecodeError with its 400 answer; problems FCM
// reported per target are left to Send.
func DecodeLegacyRequest(body []byte) (*LegacyRequest, *LegacyDecodeError) {
	var b legacyBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&b); err != nil {
		return nil, &LegacyDecodeError{Status: 400, Body: "JSON_PARSING_ERROR: " + err.Error()}
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return nil, &LegacyDecodeError{Status: 400, Body: "JSON_PARSING_ERROR: unexpected data after the JSON object"}
	}
	if len(b.RegistrationIDs) > MaxLegacyTargets {
		return nil, &LegacyDecodeError{Status: 400, Body: fmt.Sprintf("Number of messages on bulk (%d) exceeds maximum allowed (%d)", len(b.RegistrationIDs), MaxLegacyTargets)}
	}
	if b.To != nil && b.RegistrationIDs != nil {
		return nil, &LegacyDecodeError{Status: 400, Body: "Invalid request: both \"to\" and \"registration_ids\" are set; set one."}
	}
	req := &LegacyRequest{DryRun: b.DryRun}
	m := &req.Message
	switch {
	case b.To != nil && strings.HasPrefix(*b.To, "/topics/"):
		m.Topic = strings.TrimPrefix(*b.To, "/topics/")
	case b.To != nil:
		req.Targets = []string{*b.To}
	case b.Condition != "":
		m.Condition = b.Condition
	default:
		req.Targets = b.RegistrationIDs
	}
	if b.Data != nil {
		m.Data = make(map[string]string, len(b.Data))
		for k, v := range b.Data {
			// Legacy FCM accepted any JSON value and delivered it as its JSON text.
			if s, ok := v.(string); ok {
				m.Data[k] = s
			} else {
				js, _ := json.Marshal(v)
				m.Data[k] = string(js)
			}
		}
	}
	a := &AndroidConfig{CollapseKey: b.CollapseKey, Priority: b.Priority, RestrictedPackageName: b.RestrictedPackageName}
	if a.Priority == "" {
		a.Priority = "normal"
	}
	if b.TimeToLive != nil {
		// An out-of-range value is kept (clamped against overflow) so that Send answers it per
		// target with InvalidTtl, as legacy FCM did.
		secs := min(max(*b.TimeToLive, -1), int64(MaxTTL/time.Second)+1)
		ttl := time.Duration(secs) * time.Second
		a.TTL = &ttl
	}
	if n := b.Notification; n != nil {
		a.Notification = &AndroidNotification{
			Title: n.Title, Body: n.Body, Icon: n.Icon, Color: n.Color, Sound: n.Sound, Tag: n.Tag,
			ClickAction: n.ClickAction, ChannelID: n.ChannelID, Image: n.Image,
		}
	}
	m.Android = a
	return req, nil
}

// LegacyResponse is the legacy /fcm/send success body for registration-token targets.
type LegacyResponse struct {
	MulticastID  int64          `json:"multicast_id"`
	Success      int            `json:"success"`
	Failure      int            `json:"failure"`
	CanonicalIDs int            `json:"canonical_ids"`
	Results      []LegacyResult `json:"results"`
}

// LegacyResult is one target's outcome: a message ID or an error string.
type LegacyResult struct {
	MessageID string `json:"message_id,omitempty"`
	Error     string `json:"error,omitempty"`
}

// LegacyTopicResponse is the legacy success body for a topic or condition target.
type LegacyTopicResponse struct {
	MessageID int64 `json:"message_id"`
}
