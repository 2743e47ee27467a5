package console

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay/client"
)

// The trace page asks the admin API for its page size, with the form's filters trimmed.
func TestTraceAPIQuery(t *testing.T) {
	f := traceForm{App: "7", Cert: "6768", User: " alice ", Device: "\tphone ", Msg: " m1", From: "2026-12-06T12:00", PageToken: " p "}
	q, problems := parseTraceForm(f)
	require.Empty(t, problems)
	require.Equal(t, "/admin/v1/apps/7/push-trace?certificateId=6768&deviceId=phone&from=2026-12-06T12%3A00%3A00Z"+
		"&limit=100&msgId=m1&pageToken=p&userId=alice", client.PushTracePath(q.App, traceAPIQuery(f, q)))
	require.Equal(t, "/admin/v1/apps/7/push-trace?limit=100", client.PushTracePath(7, traceAPIQuery(traceForm{User: "  "}, traceQuery{})))
}
