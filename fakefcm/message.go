package fakefcm

import (
	"regexp"
	"strings"
	"time"
)

// Message is a send request's message, whichever wire API it came through, in the shape the core
// validates and delivers. Exactly one of Token, Topic and Condition is set in a valid message.
type Message struct {
	Token     string
	Topic     string
	Condition string

	Notification *Notification
	Data         map[string]string
	Android      *AndroidConfig
}

// Notification is the platform-independent notification of a message.
type Notification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
	Image string `json:"image,omitempty"`
}

// AndroidConfig holds the Android options of a message.
type AndroidConfig struct {
	// Priority is "normal" or "high"; empty means normal.
	Priority string
	// TTL is how long FCM keeps the message for an offline device; nil means four weeks.
	TTL                   *time.Duration
	CollapseKey           string
	RestrictedPackageName string
	// Data, when set, replaces the message's Data for Android.
	Data         map[string]string
	Notification *AndroidNotification
}

// AndroidNotification is what the Android system tray shows, as far as a test can observe it.
type AndroidNotification struct {
	Title             string `json:"title,omitempty"`
	Body              string `json:"body,omitempty"`
	Icon              string `json:"icon,omitempty"`
	Color             string `json:"color,omitempty"`
	Sound             string `json:"sound,omitempty"`
	Tag               string `json:"tag,omitempty"`
	ClickAction       string `json:"clickAction,omitempty"`
	ChannelID         string `json:"channelId,omitempty"`
	Image             string `json:"image,omitempty"`
	NotificationCount *int   `json:"notificationCount,omitempty"`
}

// RemoteMessage is a message as the device's FCM SDK hands it to the app (Android's
// RemoteMessage): what arrives on a device channel and what records keep as the payload.
type RemoteMessage struct {
	MessageID    string               `json:"messageId"`
	From         string               `json:"from"` // the sender ID
	CollapseKey  string               `json:"collapseKey,omitempty"`
	Priority     string               `json:"priority"` // "high" or "normal"
	TTLSeconds   int64                `json:"ttl"`
	SentTime     int64                `json:"sentTime"` // Unix milliseconds at which FCM accepted it
	Data         map[string]string    `json:"data,omitempty"`
	Notification *AndroidNotification `json:"notification,omitempty"`
}

// Limits FCM enforces on a message (FCM.md).
const (
	MaxPayloadBytes      = 4096
	MaxTopicPayloadBytes = 2048
	MaxTTL               = 28 * 24 * time.Hour // 2,419,200 s
	DefaultTTL           = MaxTTL
)

var (
	topicPattern = regexp.MustCompile(`^[a-zA-Z0-9\-_.~%]+$`)
	colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// ttl is the message's time to live.
func (m *Message) ttl() time.Duration {
	if m.Android != nil && m.Android.TTL != nil {
		return *m.Android.TTL
	}
	return DefaultTTL
}

// collapseKey is the message's collapse key, empty if none.
func (m *Message) collapseKey() string {
	if m.Android != nil {
		return m.Android.CollapseKey
	}
	return ""
}

// highPriority reports whether the message asks for high priority.
func (m *Message) highPriority() bool {
	return m.Android != nil && strings.EqualFold(m.Android.Priority, "high")
}

// collapsible reports whether FCM treats the message as collapsible for throttling: it carries a
// collapse key or a notification (FCM.md: all notification messages are collapsible).
func (m *Message) collapsible() bool {
	return m.collapseKey() != "" || m.Notification != nil || (m.Android != nil && m.Android.Notification != nil)
}

// data is the data payload an Android device receives.
func (m *Message) data() map[string]string {
	if m.Android != nil && m.Android.Data != nil {
		return m.Android.Data
	}
	return m.Data
}

// payloadSize counts the bytes FCM's payload limit applies to. FCM does not document its exact
// count; fakefcm counts the keys and values of the message data and of the Android data, the
// title and body of the notification and of the Android notification, and the Android
// notification's channel ID, sound and click action.
func (m *Message) payloadSize() int {
	n := 0
	for k, v := range m.Data {
		n += len(k) + len(v)
	}
	if m.Notification != nil {
		n += len(m.Notification.Title) + len(m.Notification.Body)
	}
	if a := m.Android; a != nil {
		for k, v := range a.Data {
			n += len(k) + len(v)
		}
		if an := a.Notification; an != nil {
			n += len(an.Title) + len(an.Body) + len(an.ChannelID) + len(an.Sound) + len(an.ClickAction)
		}
	}
	return n
}

// reservedKey reports whether a data key is one FCM reserves.
func reservedKey(k string) bool {
	return k == "from" || k == "message_type" || strings.HasPrefix(k, "google.") || strings.HasPrefix(k, "gcm.")
}

// hasReservedKey reports whether data has a key FCM reserves.
func hasReservedKey(data map[string]string) bool {
	for k := range data {
		if reservedKey(k) {
			return true
		}
	}
	return false
}

// validate applies FCM's message rules that do not depend on the target's state. The errors carry
// both the v1 answer and the legacy API's error string.
func (m *Message) validate() *SendError {
	targets := 0
	for _, t := range []string{m.Token, m.Topic, m.Condition} {
		if t != "" {
			targets++
		}
	}
	if targets != 1 {
		return invalidArg("message", "MissingRegistration", "Exactly one of token, topic or condition must be specified.")
	}
	if m.Topic != "" && !topicPattern.MatchString(m.Topic) {
		return invalidArg("message.topic", "InvalidRegistration", "Invalid topic name %q.", m.Topic)
	}
	for _, set := range []struct {
		field string
		data  map[string]string
	}{{"message.data", m.Data}, {"message.android.data", androidData(m.Android)}} {
		// The keys are sorted only to name the first reserved one: most messages have none.
		if !hasReservedKey(set.data) {
			continue
		}
		for _, k := range sortedKeys(set.data) {
			if reservedKey(k) {
				return invalidArg(set.field, "InvalidDataKey", "Invalid data payload key: %q is reserved.", k)
			}
		}
	}
	if a := m.Android; a != nil {
		switch strings.ToLower(a.Priority) {
		case "", "normal", "high":
		default:
			return invalidArg("message.android.priority", "InvalidParameters", "Invalid value at 'message.android.priority': %q is not normal or high.", a.Priority)
		}
		if a.TTL != nil && (*a.TTL < 0 || *a.TTL > MaxTTL) {
			return invalidArg("message.android.ttl", "InvalidTtl", "TTL %v is out of range: it must be between 0 and %d seconds.", *a.TTL, int(MaxTTL/time.Second))
		}
		if n := a.Notification; n != nil {
			if n.Color != "" && !colorPattern.MatchString(n.Color) {
				return invalidArg("message.android.notification.color", "InvalidParameters", "Invalid color %q: expected #RRGGBB.", n.Color)
			}
			if n.NotificationCount != nil && *n.NotificationCount < 0 {
				return invalidArg("message.android.notification.notification_count", "InvalidParameters", "notification_count must not be negative.")
			}
		}
	}
	limit := MaxPayloadBytes
	if m.Topic != "" {
		limit = MaxTopicPayloadBytes
	}
	if size := m.payloadSize(); size > limit {
		return invalidArg("message", "MessageTooBig", "Message is too big: the payload is %d bytes, the limit is %d.", size, limit)
	}
	return nil
}

func androidData(a *AndroidConfig) map[string]string {
	if a == nil {
		return nil
	}
	return a.Data
}

// remote builds what the device receives for m.
func (m *Message) remote(id, senderID string, sent time.Time) *RemoteMessage {
	var n AndroidNotification
	has := false
	if m.Notification != nil {
		n.Title, n.Body, n.Image = m.Notification.Title, m.Notification.Body, m.Notification.Image
		has = true
	}
	if m.Android != nil && m.Android.Notification != nil {
		an := *m.Android.Notification
		// Android fields override the platform-independent ones where set.
		if an.Title == "" {
			an.Title = n.Title
		}
		if an.Body == "" {
			an.Body = n.Body
		}
		if an.Image == "" {
			an.Image = n.Image
		}
		n = an
		has = true
	}
	var rm *RemoteMessage
	if has {
		// The message and its notification in one allocation: one per accepted message.
		both := &remoteWithNotification{n: n}
		rm = &both.rm
		rm.Notification = &both.n
	} else {
		rm = &RemoteMessage{}
	}
	rm.MessageID, rm.From, rm.CollapseKey, rm.Priority = id, senderID, m.collapseKey(), "normal"
	rm.TTLSeconds, rm.SentTime, rm.Data = int64(m.ttl()/time.Second), sent.UnixMilli(), m.data()
	if m.highPriority() {
		rm.Priority = "high"
	}
	return rm
}

// remoteWithNotification is a RemoteMessage and the notification it points to.
type remoteWithNotification struct {
	rm RemoteMessage
	n  AndroidNotification
}
