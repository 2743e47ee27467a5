package fakefcm

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestDecodeV1AcceptsSnakeAndCamelCase(t *testing.T) {
	snake := `{"validate_only":true,"message":{"token":"t","data":{"k":"v"},"android":{"collapse_key":"c","priority":"high","ttl":"3.5s","restricted_package_name":"com.example.im","notification":{"title":"T","click_action":"OPEN","channel_id":"ch","notification_count":3}}}}`
	camel := `{"validateOnly":true,"message":{"token":"t","data":{"k":"v"},"android":{"collapseKey":"c","priority":"high","ttl":"3.5s","restrictedPackageName":"com.example.im","notification":{"title":"T","clickAction":"OPEN","channelId":"ch","notificationCount":"3"}}}}`
	a, err := DecodeV1Request([]byte(snake))
	require.Nil(t, err)
	b, err := DecodeV1Request([]byte(camel))
	require.Nil(t, err)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("snake_case and lowerCamelCase decode differently:\n%s", diff)
	}
	require.True(t, a.ValidateOnly)
	require.Equal(t, 3500*time.Millisecond, *a.Message.Android.TTL)
	require.Equal(t, 3, *a.Message.Android.Notification.NotificationCount)
	require.Equal(t, "OPEN", a.Message.Android.Notification.ClickAction)
}

func TestDecodeV1RefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, body, field, msg string
	}{
		{"not json", `{`, "", "not a JSON object"},
		{"array", `[]`, "", "not a JSON object"},
		{"no message", `{}`, "message", "'message' is required"},
		{"unknown member", `{"message":{"tokn":"x"}}`, "message.tokn", `Unknown name "tokn"`},
		{"both spellings", `{"message":{"android":{"collapse_key":"a","collapseKey":"b"}}}`, "message.android.collapse_key", "set twice"},
		{"number in data", `{"message":{"token":"t","data":{"a":"x","n":5}}}`, "message.data[1].value", "TYPE_STRING"},
		{"bad ttl", `{"message":{"token":"t","android":{"ttl":"10"}}}`, "message.android.ttl", "google.protobuf.Duration"},
		{"ttl not a string", `{"message":{"token":"t","android":{"ttl":10}}}`, "message.android.ttl", "TYPE_STRING"},
		{"bad count", `{"message":{"token":"t","android":{"notification":{"notification_count":"x"}}}}`, "message.android.notification.notificationCount", "TYPE_INT32"},
		{"bad validate_only", `{"validate_only":"yes","message":{}}`, "validateOnly", "TYPE_BOOL"},
		{"channel not a string", `{"message":{"token":"t","android":{"notification":{"channel_id":5}}}}`, "message.android.notification.channelId", "TYPE_STRING"},
		{"click action not a string", `{"message":{"token":"t","android":{"notification":{"clickAction":{"url":"x"}}}}}`, "message.android.notification.clickAction", "TYPE_STRING"},
		{"sound not a string", `{"message":{"token":"t","android":{"notification":{"sound":true}}}}`, "message.android.notification.sound", "TYPE_STRING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeV1Request([]byte(tc.body))
			require.NotNil(t, err)
			require.Equal(t, InvalidArgument, err.Code)
			require.Equal(t, tc.field, err.Field)
			require.Contains(t, err.Message, tc.msg)
			var body StatusBody
			require.NoError(t, json.Unmarshal(err.V1Body(), &body))
			require.Equal(t, 400, body.Error.Code)
			require.Equal(t, "INVALID_ARGUMENT", body.Error.Status)
			require.Equal(t, FcmErrorType, body.Error.Details[0].Type)
		})
	}
}

func TestDecodeV1NegativeTTLIsOutOfRange(t *testing.T) {
	req, err := DecodeV1Request([]byte(`{"message":{"token":"t","android":{"ttl":"-1s"}}}`))
	require.Nil(t, err)
	verr := req.Message.validate()
	require.NotNil(t, verr)
	require.Equal(t, "message.android.ttl", verr.Field)
}

// TestPropertyDecodeWhatTheAdminSDKWrites encodes random messages with the firebase Admin SDK's
// own JSON encoding and checks that fakefcm reads back every field it models.
func TestPropertyDecodeWhatTheAdminSDKWrites(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		str := rapid.StringMatching(`[a-zA-Z0-9 é]{0,12}`)
		m := &messaging.Message{Token: rapid.StringMatching(`[a-zA-Z0-9:_-]{1,40}`).Draw(t, "token")}
		if rapid.Bool().Draw(t, "hasData") {
			m.Data = rapid.MapOf(rapid.StringMatching(`[a-z]{1,6}`), str).Draw(t, "data")
		}
		if rapid.Bool().Draw(t, "hasNotification") {
			m.Notification = &messaging.Notification{Title: str.Draw(t, "title"), Body: str.Draw(t, "body")}
		}
		var ttl time.Duration
		if rapid.Bool().Draw(t, "hasAndroid") {
			ttl = time.Duration(rapid.Int64Range(0, int64(MaxTTL)).Draw(t, "ttl"))
			count := rapid.IntRange(0, 999).Draw(t, "count")
			m.Android = &messaging.AndroidConfig{
				CollapseKey: str.Draw(t, "collapseKey"),
				Priority:    rapid.SampledFrom([]string{"normal", "high"}).Draw(t, "priority"),
				TTL:         &ttl,
				Notification: &messaging.AndroidNotification{
					Title: str.Draw(t, "aTitle"), ChannelID: str.Draw(t, "channel"), NotificationCount: &count,
					Sound: str.Draw(t, "sound"), ClickAction: str.Draw(t, "clickAction"),
				},
			}
		}
		body, err := json.Marshal(map[string]any{"message": m})
		if err != nil {
			t.Fatal(err)
		}
		req, serr := DecodeV1Request(body)
		if serr != nil {
			t.Fatalf("decode %s: %v", body, serr)
		}
		got := req.Message
		if got.Token != m.Token || !cmp.Equal(got.Data, m.Data, cmpopts.EquateEmpty()) {
			t.Fatalf("token/data: got %q %v, sent %q %v", got.Token, got.Data, m.Token, m.Data)
		}
		if m.Notification != nil && (got.Notification == nil || got.Notification.Title != m.Notification.Title || got.Notification.Body != m.Notification.Body) {
			t.Fatalf("notification: got %+v, sent %+v", got.Notification, m.Notification)
		}
		if m.Android != nil {
			a := got.Android
			if a == nil || a.CollapseKey != m.Android.CollapseKey || a.Priority != m.Android.Priority ||
				a.TTL == nil || *a.TTL != ttl || a.Notification == nil ||
				a.Notification.ChannelID != m.Android.Notification.ChannelID ||
				a.Notification.Sound != m.Android.Notification.Sound ||
				a.Notification.ClickAction != m.Android.Notification.ClickAction ||
				*a.Notification.NotificationCount != *m.Android.Notification.NotificationCount {
				t.Fatalf("android: got %+v, sent %+v (body %s)", a, m.Android, body)
			}
		}
	})
}

// TestFastAndPreciseDecodersAgree checks the one-pass decoder against the member-by-member one
// on the fuzz seeds and a few spelling variants.
func TestFastAndPreciseDecodersAgree(t *testing.T) {
	for _, body := range []string{
		`{"message":{"token":"t","android":{"collapse_key":"k","ttl":"0s","notification":{"notification_count":2,"click_action":"x"}}}}`,
		`{"validateOnly":true,"message":{"topic":"news","android":{"collapseKey":"k","restrictedPackageName":"com.a.b"}}}`,
		`{"message":{"Token":"t","Data":{"k":"v"}}}`,
		`{"message":{"token":"t","webpush":{"headers":{"a":"b"}},"apns":{},"fcm_options":{"analytics_label":"x"}}}`,
	} {
		checkDecodersAgree(t, []byte(body))
	}
}

// checkDecodersAgree fails if the one-pass decoder accepts what the precise decoder refuses, or
// reads it differently. (Duplicate members would be the one exception, but the one-pass decoder
// refuses them.)
func checkDecodersAgree(t *testing.T, body []byte) {
	t.Helper()
	fast, ok := decodeV1Fast(body)
	if !ok {
		return
	}
	precise, err := decodeV1Precise(body)
	if err != nil {
		if strings.Contains(err.Message, "set twice") {
			return
		}
		t.Fatalf("fast decoder accepts %s; precise refuses: %v", body, err)
	}
	if diff := cmp.Diff(precise, fast, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("decoders disagree on %s (-precise +fast):\n%s", body, diff)
	}
}

func FuzzDecodeV1Request(f *testing.F) {
	f.Add([]byte(`{"message":{"token":"t","notification":{"title":"a","body":"b"}}}`))
	f.Add([]byte(`{"validate_only":true,"message":{"topic":"news","android":{"ttl":"1.5s","priority":"high"}}}`))
	f.Add([]byte(`{"message":{"token":"t","android":{"notification":{"notification_count":"7","color":"#ff0000"}}}}`))
	f.Add([]byte(`{"message":{"data":{"a":1}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkDecodersAgree(t, body)
		req, err := DecodeV1Request(body)
		if err != nil {
			if err.Code != InvalidArgument || !json.Valid(err.V1Body()) {
				t.Fatalf("decode error is not a valid INVALID_ARGUMENT answer: %v", err)
			}
			return
		}
		if verr := req.Message.validate(); verr != nil && !json.Valid(verr.V1Body()) {
			t.Fatalf("validation error body is not JSON: %v", verr)
		}
		_ = req.Message.remote("id", "1", epoch)
	})
}
