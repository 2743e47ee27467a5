package console

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// A killed app's state is the push rule's own reason, in its order: pushes off wins over a
// missing token, and a deleted certificate is named, never shown as "pushed".
func TestDeviceStateSaysTheRulesReason(t *testing.T) {
	killed := relay.DeviceView{LoggedIn: true}
	for _, tc := range []struct {
		reason, detail, want, tone string
	}{
		{"", "", "messages are pushed", "warn"},
		{relay.ReasonUserDisabled, "the user turned pushes off", "the user turned pushes off, so nothing is pushed", "bad"},
		{relay.ReasonNoBinding, "", "no token reported, so nothing can be pushed", "bad"},
		{relay.ReasonNoBinding, "certificate 7 was deleted", "certificate 7 was deleted, so nothing can be pushed", "bad"},
	} {
		d := killed
		d.Unpushable, d.UnpushableDetail = tc.reason, tc.detail
		words, tone := deviceState(d)
		require.Equal(t, "logged in · app killed (no connection): "+tc.want, words, tc.reason)
		require.Equal(t, tc.tone, tone, tc.reason)
	}
	online := relay.DeviceView{LoggedIn: true, Online: true, Unpushable: relay.ReasonOnline}
	words, _ := deviceState(online)
	require.Equal(t, "logged in · connected · foreground", words)
}
