package control

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
)

// An acknowledgement written by hand is what a json.Encoder writes for it; an ID that is not
// valid UTF-8 is left to the Encoder.
func TestAckTextIsWhatAnEncoderWrites(t *testing.T) {
	for _, id := range []string{"0:1733500000123%abcdef0123", "", `"q" \ <&> ` + "\x00\u2028 中文"} {
		var want strings.Builder
		require.NoError(t, json.NewEncoder(&want).Encode(fakefcm.DeviceAck{Ack: id}))
		got, ok := ackText(id)
		require.True(t, ok, id)
		require.Equal(t, want.String(), string(got))
	}
	_, ok := ackText("bad \xff")
	require.False(t, ok)
}
