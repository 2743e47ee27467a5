package fakefcm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDecodeLegacyRequest(t *testing.T) {
	req, err := DecodeLegacyRequest([]byte(`{"registration_ids":["a","b"],"collapse_key":"c","priority":"high","time_to_live":60,"dry_run":true,
		"notification":{"title":"T","body":"B","android_channel_id":"ch"},"data":{"s":"x","n":5,"o":{"k":true}}}`))
	require.Nil(t, err)
	require.Equal(t, []string{"a", "b"}, req.Targets)
	require.True(t, req.DryRun)
	a := req.Message.Android
	require.Equal(t, "c", a.CollapseKey)
	require.Equal(t, "high", a.Priority)
	require.Equal(t, time.Minute, *a.TTL)
	require.Equal(t, "ch", a.Notification.ChannelID)
	require.Equal(t, map[string]string{"s": "x", "n": "5", "o": `{"k":true}`}, req.Message.Data)

	topic, err := DecodeLegacyRequest([]byte(`{"to":"/topics/news","data":{"a":"b"}}`))
	require.Nil(t, err)
	require.Equal(t, "news", topic.Message.Topic)
	require.Empty(t, topic.Targets)
}

func TestDecodeLegacyRefusesWholeRequests(t *testing.T) {
	ids := make([]string, MaxLegacyTargets+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("%q", fmt.Sprint(i))
	}
	for _, tc := range []struct{ name, body, want string }{
		{"bad json", `{"to":`, "JSON_PARSING_ERROR"},
		{"trailing data", `{"to":"a"} {}`, "JSON_PARSING_ERROR"},
		{"too many targets", `{"registration_ids":[` + strings.Join(ids, ",") + `]}`, "exceeds maximum allowed (1000)"},
		{"both targets", `{"to":"a","registration_ids":["b"]}`, "both"},
		{"channel not a string", `{"to":"a","notification":{"android_channel_id":5}}`, "JSON_PARSING_ERROR"},
		{"click action not a string", `{"to":"a","notification":{"click_action":["x"]}}`, "JSON_PARSING_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeLegacyRequest([]byte(tc.body))
			require.NotNil(t, err)
			require.Equal(t, 400, err.Status)
			require.Contains(t, err.Body, tc.want)
		})
	}
}

func TestLegacyOutOfRangeTTLIsRefusedPerTarget(t *testing.T) {
	req, err := DecodeLegacyRequest([]byte(`{"to":"t","time_to_live":99999999999}`))
	require.Nil(t, err)
	req.Message.Token = "t"
	verr := req.Message.validate()
	require.NotNil(t, verr)
	require.Equal(t, "InvalidTtl", verr.LegacyError())
}

func FuzzDecodeLegacyRequest(f *testing.F) {
	f.Add([]byte(`{"to":"t","notification":{"title":"a"}}`))
	f.Add([]byte(`{"registration_ids":["a","b"],"time_to_live":-5,"data":{"x":[1,2]}}`))
	f.Add([]byte(`{"to":"/topics/x","dry_run":true}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeLegacyRequest(body)
		if err != nil {
			if err.Status != 400 || err.Body == "" {
				t.Fatalf("whole-request refusal without a 400 and a body: %v", err)
			}
			return
		}
		for _, tok := range req.Targets {
			m := req.Message
			m.Token = tok
			if verr := m.validate(); verr != nil && verr.LegacyError() == "" {
				t.Fatalf("per-target refusal without a legacy error string: %v", verr)
			}
		}
	})
}
