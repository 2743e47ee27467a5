package fcmwire

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/relay"
)

// TestLegacyBodyAsFakeFCMReadsIt checks what the legacy API is told for a push: the badge in
// data, the TTL in whole seconds, the collapse key as tag.
func TestLegacyBodyAsFakeFCMReadsIt(t *testing.T) {
	cert := relay.Certificate{ID: 2, PackageName: "com.example.im"}
	p := relay.Push{Token: "tok", Title: "bob", Body: "hi", CollapseKey: "c2c_bob",
		Data: map[string]string{"conv": "c2c_bob"}, TTL: duration.Of(90*time.Second + 500*time.Millisecond), NotificationCount: 3}
	req, derr := fakefcm.DecodeLegacyRequest(LegacyBody(cert, p))
	require.Nil(t, derr)
	ttl := 90 * time.Second
	want := &fakefcm.LegacyRequest{Targets: []string{"tok"}, Message: fakefcm.Message{
		Data: map[string]string{"conv": "c2c_bob", "badge": "3"},
		Android: &fakefcm.AndroidConfig{Priority: "high", TTL: &ttl, CollapseKey: "c2c_bob", RestrictedPackageName: "com.example.im",
			Notification: &fakefcm.AndroidNotification{Title: "bob", Body: "hi", Tag: "c2c_bob"}},
	}}
	if diff := cmp.Diff(want, req); diff != "" {
		t.Fatalf("legacy body (-want +got):\n%s", diff)
	}
	require.Equal(t, map[string]string{"conv": "c2c_bob"}, p.Data, "the push's data is left alone")
}

// TestLegacyBodyCarriesTheAndroidOptions checks the legacy API's names for the channel, sound and
// click action: android_channel_id, sound, click_action.
func TestLegacyBodyCarriesTheAndroidOptions(t *testing.T) {
	cert := relay.Certificate{ID: 2, PackageName: "com.example.im"}
	p := relay.Push{Token: "tok", Title: "bob", Body: "hi", CollapseKey: "c2c_bob", TTL: duration.Of(time.Minute),
		ChannelID: "messages", Sound: "default", ClickAction: "https://example.com/chat/bob"}
	body := LegacyBody(cert, p)
	require.Contains(t, string(body), `"android_channel_id":"messages"`)
	req, derr := fakefcm.DecodeLegacyRequest(body)
	require.Nil(t, derr)
	require.Equal(t, &fakefcm.AndroidNotification{Title: "bob", Body: "hi", Tag: "c2c_bob", Sound: "default",
		ClickAction: "https://example.com/chat/bob", ChannelID: "messages"}, req.Message.Android.Notification)
}

// TestLegacyErrorsInTheRelaysTerms maps the legacy API's per-token error names to FCM's v1 codes.
func TestLegacyErrorsInTheRelaysTerms(t *testing.T) {
	for name, want := range map[string]relay.PushError{
		"NotRegistered":             {Code: "UNREGISTERED"},
		"InvalidRegistration":       {Code: "INVALID_ARGUMENT", TokenInvalid: true},
		"MissingRegistration":       {Code: "INVALID_ARGUMENT", TokenInvalid: true},
		"MismatchSenderId":          {Code: "SENDER_ID_MISMATCH"},
		"InvalidPackageName":        {Code: "INVALID_ARGUMENT"},
		"MessageTooBig":             {Code: "INVALID_ARGUMENT"},
		"InvalidDataKey":            {Code: "INVALID_ARGUMENT"},
		"InvalidTtl":                {Code: "INVALID_ARGUMENT"},
		"InvalidParameters":         {Code: "INVALID_ARGUMENT"},
		"DeviceMessageRateExceeded": {Code: "QUOTA_EXCEEDED"},
		"Unavailable":               {Code: "UNAVAILABLE"},
		"InternalServerError":       {Code: "INTERNAL"},
		"SomethingNew":              {Code: "INTERNAL"},
	} {
		want.Message = name
		require.Equal(t, &want, LegacyError(name), name)
	}
}
