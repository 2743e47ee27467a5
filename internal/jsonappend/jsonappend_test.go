package jsonappend

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// String writes json.Marshal's bytes for every kind of character encoding/json escapes, and
// leaves strings that are not valid UTF-8 to it.
func TestStringQuotesAsEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnl\ncr\rnul\x00bell\x07\x1f\x7f backspace\b formfeed\f",
		"line\u2028sep\u2029", "中文 émoji 🎉", "\ufffd"} {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		got, ok := String([]byte("kept"), s)
		require.True(t, ok, s)
		require.Equal(t, "kept"+string(want), string(got), s)
	}
	for _, s := range []string{"bad \xff utf-8", "\xed\xa0\x80 surrogate"} {
		got, ok := String([]byte("kept"), s)
		require.False(t, ok, s)
		require.Equal(t, "kept", string(got))
	}
}
