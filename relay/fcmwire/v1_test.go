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

// TestV1BodyCarriesTheAndroidOptions checks that a push's channel, sound and click action reach
// the Android notification as fakefcm (and FCM) read them.
func TestV1BodyCarriesTheAndroidOptions(t *testing.T) {
	cert := relay.Certificate{ID: 2, PackageName: "com.example.im"}
	p := relay.Push{Token: "tok", Title: "bob", Body: "hi", CollapseKey: "c2c_bob", Data: map[string]string{"conv": "c2c_bob"},
		TTL: duration.Of(time.Hour), NotificationCount: 3, ChannelID: "messages", Sound: "ping", ClickAction: "com.example.im.OPEN_CHAT"}
	req, derr := fakefcm.DecodeV1Request(V1Body(cert, p))
	require.Nil(t, derr)
	count, ttl := 3, time.Hour
	want := fakefcm.Message{Token: "tok", Data: map[string]string{"conv": "c2c_bob"},
		Notification: &fakefcm.Notification{Title: "bob", Body: "hi"},
		Android: &fakefcm.AndroidConfig{Priority: "high", TTL: &ttl, CollapseKey: "c2c_bob", RestrictedPackageName: "com.example.im",
			Notification: &fakefcm.AndroidNotification{Tag: "c2c_bob", Sound: "ping", ClickAction: "com.example.im.OPEN_CHAT",
				ChannelID: "messages", NotificationCount: &count}}}
	if diff := cmp.Diff(want, req.Message); diff != "" {
		t.Fatalf("v1 message (-want +got):\n%s", diff)
	}
}

// TestSilentPushIsADataMessage checks that a silent push has no notification block at all, on
// either API, and carries its title, body, badge and Android options in the data.
func TestSilentPushIsADataMessage(t *testing.T) {
	cert := relay.Certificate{ID: 2, PackageName: "com.example.im"}
	p := relay.Push{Token: "tok", Title: "bob", Body: "hi", CollapseKey: "c2c_bob", Data: map[string]string{"conv": "c2c_bob"},
		TTL: duration.Of(time.Hour), NotificationCount: 3, ChannelID: "messages", ClickAction: "example://chat/bob", Silent: true}
	wantData := map[string]string{"conv": "c2c_bob", "title": "bob", "body": "hi", "badge": "3", "channelId": "messages",
		"clickAction": "example://chat/bob"}
	v1, derr := fakefcm.DecodeV1Request(V1Body(cert, p))
	require.Nil(t, derr)
	require.Nil(t, v1.Message.Notification, "no notification block")
	require.Nil(t, v1.Message.Android.Notification, "no Android notification block")
	require.Equal(t, "high", v1.Message.Android.Priority, "high priority wakes the app's handler")
	require.Equal(t, wantData, v1.Message.Data)
	require.NotContains(t, string(V1Body(cert, p)), "notification")

	legacy, lerr := fakefcm.DecodeLegacyRequest(LegacyBody(cert, p))
	require.Nil(t, lerr)
	require.Nil(t, legacy.Message.Android.Notification, "no legacy notification")
	require.Equal(t, wantData, legacy.Message.Data)
	require.Equal(t, map[string]string{"conv": "c2c_bob"}, p.Data, "the push's data is left alone")
}
