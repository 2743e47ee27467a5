package relay

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

var (
	// channelIDPattern is what the relay takes as a NotificationChannel ID. Android itself takes
	// any string, but an ID with spaces or markup is almost always a display name given by
	// mistake, which would send the notification to FCM's fallback channel.
	channelIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	// soundPattern is "default" or a raw resource name, with an optional file extension.
	soundPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9]+)?$`)
	// intentActionPattern is an intent action: a dotted Java-style name such as
	// com.example.im.OPEN_CHAT, or a bare one such as OPEN_CHAT.
	intentActionPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	// schemePattern is a URL scheme (RFC 3986).
	schemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)
)

// checkChannelID says what is wrong with a notification channel ID named at field, or "".
func checkChannelID(field, id string) string {
	switch {
	case len(id) > MaxChannelIDBytes:
		return fmt.Sprintf("%s is %d bytes; the limit is %d", field, len(id), MaxChannelIDBytes)
	case !channelIDPattern.MatchString(id):
		return fmt.Sprintf("%s %q: expected the ID of a NotificationChannel the app created (letters, digits, '.', '_' or '-'), such as \"messages\"", field, id)
	}
	return ""
}

// checkAndroidPush says what is wrong with a message's Android options, or "" if nothing is.
func checkAndroidPush(a AndroidPush) string {
	if a.ChannelID != "" {
		if bad := checkChannelID("offlinePush.android.channelId", a.ChannelID); bad != "" {
			return bad
		}
	}
	if s := a.Sound; s != "" {
		switch {
		case len(s) > MaxSoundBytes:
			return fmt.Sprintf("offlinePush.android.sound is %d bytes; the limit is %d", len(s), MaxSoundBytes)
		case !soundPattern.MatchString(s):
			return fmt.Sprintf("offlinePush.android.sound %q: expected \"default\" or the name of a sound in the app's res/raw (lower-case letters, digits, '_'), such as \"ping\"", s)
		}
	}
	if ca := a.ClickAction; ca != "" {
		if len(ca) > MaxClickActionBytes {
			return fmt.Sprintf("offlinePush.android.clickAction is %d bytes; the limit is %d", len(ca), MaxClickActionBytes)
		}
		if !validClickAction(ca) {
			return fmt.Sprintf("offlinePush.android.clickAction %q: expected an intent action the app's activity filters for (such as com.example.im.OPEN_CHAT) or a URL it opens (such as https://example.com/chat/1 or example://chat/1), without spaces", ca)
		}
	}
	return ""
}

// validClickAction reports whether s is an intent action or an absolute URL without spaces or
// control characters.
func validClickAction(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	if intentActionPattern.MatchString(s) {
		return true
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" || !schemePattern.MatchString(scheme) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Opaque != "" || u.Host != "" || u.Path != "")
}
