package client

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// The admin API's paths, built in one place for every caller (Admin's methods and the relay's
// console). User, device and group IDs are path-escaped, so any ID makes one path segment.

// AppsPath is the admin API's collection of apps.
const AppsPath = "/admin/v1/apps"

// SettingsPath is the admin API's path of the rules the relay runs with.
const SettingsPath = "/admin/v1/settings"

// AppPath is the admin API's path of an app.
func AppPath(app uint64) string { return fmt.Sprintf("%s/%d", AppsPath, app) }

// CertificatesPath is the admin API's collection of an app's certificates.
func CertificatesPath(app uint64) string { return AppPath(app) + "/certificates" }

// CertificatePath is the admin API's path of a certificate.
func CertificatePath(app uint64, cert int64) string {
	return fmt.Sprintf("%s/%d", CertificatesPath(app), cert)
}

// CertificateCheckPath is the admin API's call that checks a certificate's credentials.
func CertificateCheckPath(app uint64, cert int64) string {
	return CertificatePath(app, cert) + ":check"
}

// UserPath is the admin API's path of a user.
func UserPath(app uint64, user string) string {
	return AppPath(app) + "/users/" + url.PathEscape(user)
}

// KickPath is the admin API's call that kicks every device of a user.
func KickPath(app uint64, user string) string { return UserPath(app, user) + "/kick" }

// PushSettingsPath is the admin API's path of a user's push settings.
func PushSettingsPath(app uint64, user string) string { return UserPath(app, user) + "/pushSettings" }

// ProfilePath is the admin API's path of a user's profile.
func ProfilePath(app uint64, user string) string { return UserPath(app, user) + "/profile" }

// TestPushPath is the admin API's call that sends a test push to one device of a user.
func TestPushPath(app uint64, user, device string) string {
	return UserPath(app, user) + "/devices/" + url.PathEscape(device) + ":test-push"
}

// GroupPath is the admin API's path of a group.
func GroupPath(app uint64, group string) string {
	return AppPath(app) + "/groups/" + url.PathEscape(group)
}

// PushTracePath is the admin API's call for one page of an app's push trace.
func PushTracePath(app uint64, q TraceQuery) string {
	return AppPath(app) + "/push-trace?" + q.Values().Encode()
}

// Values is the query string of the push-trace call: the query's set fields, none of the
// zero ones.
func (q TraceQuery) Values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"userId": q.UserID, "deviceId": q.DeviceID, "msgId": q.MsgID, "pageToken": q.PageToken} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.CertificateID != 0 {
		v.Set("certificateId", strconv.FormatInt(q.CertificateID, 10))
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.Format(time.RFC3339Nano))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}
