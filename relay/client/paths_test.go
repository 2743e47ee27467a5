package client_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay/client"
)

// IDs are path-escaped: any user, device or group ID makes one path segment.
func TestPathsEscapeIDs(t *testing.T) {
	require.Equal(t, "/admin/v1/apps/7/users/a%2Fb%20c%3F", client.UserPath(7, "a/b c?"))
	require.Equal(t, "/admin/v1/apps/7/users/a%2Fb/kick", client.KickPath(7, "a/b"))
	require.Equal(t, "/admin/v1/apps/7/users/a%2Fb/pushSettings", client.PushSettingsPath(7, "a/b"))
	require.Equal(t, "/admin/v1/apps/7/users/u%3F/devices/d%2F1:test-push", client.TestPushPath(7, "u?", "d/1"))
	require.Equal(t, "/admin/v1/apps/7/groups/g%2F1", client.GroupPath(7, "g/1"))
	require.Equal(t, "/admin/v1/apps/7/certificates/6768:check", client.CertificateCheckPath(7, 6768))
}

// The push-trace query names only the fields that are set.
func TestPushTracePath(t *testing.T) {
	require.Equal(t, "/admin/v1/apps/7/push-trace?", client.PushTracePath(7, client.TraceQuery{}))
	q := client.TraceQuery{UserID: "u 1", DeviceID: "d", CertificateID: 6768, MsgID: "m&", Limit: 100, PageToken: "p",
		From: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 6, 13, 0, 0, 500, time.UTC)}
	require.Equal(t, "/admin/v1/apps/7/push-trace?certificateId=6768&deviceId=d&from=2026-12-06T12%3A00%3A00Z&limit=100"+
		"&msgId=m%26&pageToken=p&to=2026-12-06T13%3A00%3A00.0000005Z&userId=u+1", client.PushTracePath(7, q))
}
