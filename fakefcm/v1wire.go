package fakefcm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// V1Request is a decoded HTTP v1 send body: {"validate_only": …, "message": {…}}.
type V1Request struct {
	ValidateOnly bool
	Message      Message
}

// V1Response is the HTTP v1 success body.
type V1Response struct {
	Name string `json:"name"`
}

// The member names the HTTP v1 API knows, in lowerCamelCase. Names fakefcm does not model (apns,
// webpush, light settings, …) are accepted and ignored so that any valid request passes.
var (
	requestFields             = []string{"validateOnly", "message"}
	messageFields             = []string{"name", "data", "notification", "android", "webpush", "apns", "fcmOptions", "token", "topic", "condition"}
	notificationFields        = []string{"title", "body", "image"}
	androidFields             = []string{"collapseKey", "priority", "ttl", "restrictedPackageName", "data", "notification", "fcmOptions", "directBootOk", "bandwidthConstrainedOk", "restrictedSatelliteOk"}
	androidNotificationFields = []string{
		"title", "body", "icon", "color", "sound", "tag", "clickAction", "bodyLocKey", "bodyLocArgs",
		"titleLocKey", "titleLocArgs", "channelId", "ticker", "sticky", "eventTime", "localOnly",
		"notificationPriority", "defaultSound", "defaultVibrateTimings", "defaultLightSettings",
		"vibrateTimings", "visibility", "notificationCount", "lightSettings", "image",
		"bypassProxyNotification", "proxy",
	}
	durationPattern = regexp.MustCompile(`^(-?)(\d+)(?:\.(\d{1,9}))?s$`)
)

// DecodeV1Request decodes an HTTP v1 send body. It accepts the snake_case names the Admin SDK
// writes and the lowerCamelCase names of proto3 JSON, refuses unknown members, non-string data
// values and malformed durations with Google's INVALID_ARGUMENT answers, and does not yet apply
// the message rules (Send does).
func DecodeV1Request(body []byte) (*V1Request, *SendError) {
	if req, ok := decodeV1Fast(body); ok {
		return req, nil
	}
	return decodeV1Precise(body)
}

// decodeV1Precise decodes a body member by member, so that a refusal names the member at fault
// the way Google's answers do. It is the slow path: DecodeV1Request tries the one-pass typed
// decoder first.
func decodeV1Precise(body []byte) (*V1Request, *SendError) {
	top, err := decodeObject(body, "", requestFields)
	if err != nil {
		return nil, err
	}
	req := &V1Request{}
	if req.ValidateOnly, err = top.boolean("validateOnly"); err != nil {
		return nil, err
	}
	if !top.has("message") {
		return nil, invalidArg("message", "", "Invalid JSON payload received. 'message' is required.")
	}
	msg, err := top.object("message", messageFields)
	if err != nil {
		return nil, err
	}
	m := &req.Message
	if err := msg.strs(map[string]*string{"token": &m.Token, "topic": &m.Topic, "condition": &m.Condition}); err != nil {
		return nil, err
	}
	if m.Data, err = msg.strMap("data"); err != nil {
		return nil, err
	}
	if msg.has("notification") {
		n, err := msg.object("notification", notificationFields)
		if err != nil {
			return nil, err
		}
		m.Notification = &Notification{}
		if err := n.strs(map[string]*string{"title": &m.Notification.Title, "body": &m.Notification.Body, "image": &m.Notification.Image}); err != nil {
			return nil, err
		}
	}
	for _, opaque := range []string{"webpush", "apns", "fcmOptions"} {
		if msg.has(opaque) {
			if _, err := msg.object(opaque, nil); err != nil {
				return nil, err
			}
		}
	}
	if msg.has("android") {
		if m.Android, err = decodeAndroid(msg); err != nil {
			return nil, err
		}
	}
	return req, nil
}

func decodeAndroid(msg object) (*AndroidConfig, *SendError) {
	o, err := msg.object("android", androidFields)
	if err != nil {
		return nil, err
	}
	a := &AndroidConfig{}
	if err := o.strs(map[string]*string{"collapseKey": &a.CollapseKey, "priority": &a.Priority, "restrictedPackageName": &a.RestrictedPackageName}); err != nil {
		return nil, err
	}
	if o.has("ttl") {
		s, err := o.str("ttl")
		if err != nil {
			return nil, err
		}
		d, perr := parseDuration(s)
		if perr != nil {
			return nil, invalidArg(o.path+".ttl", "InvalidTtl", "Invalid value at '%s.ttl' (type.googleapis.com/google.protobuf.Duration), %q: %v", o.path, s, perr)
		}
		a.TTL = &d
	}
	if a.Data, err = o.strMap("data"); err != nil {
		return nil, err
	}
	if o.has("notification") {
		n, err := o.object("notification", androidNotificationFields)
		if err != nil {
			return nil, err
		}
		an := &AndroidNotification{}
		if err := n.strs(map[string]*string{
			"title": &an.Title, "body": &an.Body, "icon": &an.Icon, "color": &an.Color, "sound": &an.Sound,
			"tag": &an.Tag, "clickAction": &an.ClickAction, "channelId": &an.ChannelID, "image": &an.Image,
		}); err != nil {
			return nil, err
		}
		if n.has("notificationCount") {
			c, err := n.integer("notificationCount")
			if err != nil {
				return nil, err
			}
			an.NotificationCount = &c
		}
		a.Notification = an
	}
	for _, opaque := range []string{"fcmOptions"} {
		if o.has(opaque) {
			if _, err := o.object(opaque, nil); err != nil {
				return nil, err
			}
		}
	}
	return a, nil
}

// parseDuration parses a google.protobuf.Duration in its JSON form ("3.5s").
func parseDuration(s string) (time.Duration, error) {
	m := durationPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("expected seconds with up to 9 decimals and the suffix s, like \"3.5s\"")
	}
	secs, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil || secs > int64(MaxTTL/time.Second)*100 {
		return 0, fmt.Errorf("seconds out of range")
	}
	d := time.Duration(secs) * time.Second
	if m[3] != "" {
		frac := m[3] + strings.Repeat("0", 9-len(m[3]))
		nanos, _ := strconv.ParseInt(frac, 10, 64) // nine digits always parse
		d += time.Duration(nanos)
	}
	if m[1] == "-" {
		d = -d
	}
	return d, nil
}

// object is a JSON object whose member names have been normalised to lowerCamelCase.
type object struct {
	path    string // where the object sits in the request, for error messages ("message.android")
	members map[string]json.RawMessage
}

// decodeObject decodes raw as a JSON object at path. known lists the member names allowed (in
// lowerCamelCase); nil allows any member. Both spellings of a name are accepted, not both at once.
func decodeObject(raw []byte, path string, known []string) (object, *SendError) {
	o := object{path: path, members: map[string]json.RawMessage{}}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		where := path
		if where == "" {
			where = "the request body"
		}
		return o, invalidArg(path, "", "Invalid JSON payload received. %s is not a JSON object: %v", where, err)
	}
	if m == nil && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return o, invalidArg(path, "", "Invalid JSON payload received.")
	}
	for _, name := range sortedKeys(m) {
		canon := lowerCamel(name)
		if known != nil {
			// Member names match case-insensitively, as the one-pass decoder (encoding/json) does.
			if i := slices.IndexFunc(known, func(k string) bool { return strings.EqualFold(k, canon) }); i >= 0 {
				canon = known[i]
			}
		}
		if known != nil && !slices.Contains(known, canon) {
			at := path
			if at == "" {
				at = "the request"
			}
			return o, invalidArg(join(path, name), "", "Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", name, at)
		}
		if _, dup := o.members[canon]; dup {
			return o, invalidArg(join(path, name), "", "Invalid JSON payload received. Field %q is set twice (as snake_case and lowerCamelCase).", canon)
		}
		o.members[canon] = m[name]
	}
	return o, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// lowerCamel turns snake_case into lowerCamelCase and leaves other names alone.
func lowerCamel(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// has reports whether the member is present and not null.
func (o object) has(name string) bool {
	raw, ok := o.members[name]
	return ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func (o object) object(name string, known []string) (object, *SendError) {
	return decodeObject(o.members[name], join(o.path, name), known)
}

func (o object) str(name string) (string, *SendError) {
	if !o.has(name) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(o.members[name], &s); err != nil {
		return "", invalidArg(join(o.path, name), "", "Invalid value at '%s' (TYPE_STRING), %s", join(o.path, name), o.members[name])
	}
	return s, nil
}

func (o object) strs(dst map[string]*string) *SendError {
	for _, name := range sortedKeys(dst) {
		s, err := o.str(name)
		if err != nil {
			return err
		}
		*dst[name] = s
	}
	return nil
}

func (o object) boolean(name string) (bool, *SendError) {
	if !o.has(name) {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(o.members[name], &b); err != nil {
		return false, invalidArg(join(o.path, name), "", "Invalid value at '%s' (TYPE_BOOL), %s", join(o.path, name), o.members[name])
	}
	return b, nil
}

// integer decodes an int32 given as a JSON number or as a numeric string, as proto3 JSON allows.
func (o object) integer(name string) (int, *SendError) {
	n, ok := parseInt32(o.members[name])
	if !ok {
		return 0, invalidArg(join(o.path, name), "", "Invalid value at '%s' (TYPE_INT32), %s", join(o.path, name), o.members[name])
	}
	return n, nil
}

// strMap decodes a map<string, string> member; any non-string value is refused as Google does.
func (o object) strMap(name string) (map[string]string, *SendError) {
	if !o.has(name) {
		return nil, nil
	}
	path := join(o.path, name)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(o.members[name], &raw); err != nil {
		return nil, invalidArg(path, "", "Invalid value at '%s': expected a JSON object of strings.", path)
	}
	out := make(map[string]string, len(raw))
	for i, k := range sortedKeys(raw) {
		var s string
		if err := json.Unmarshal(raw[k], &s); err != nil {
			return nil, invalidArg(fmt.Sprintf("%s[%d].value", path, i), "", "Invalid value at '%s[%d].value' (TYPE_STRING), %s", path, i, raw[k])
		}
		out[k] = s
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
