package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecretNeverShowsItsValue(t *testing.T) {
	s := New("hunter2-super-secret")
	type holder struct {
		Key Secret `json:"key"`
	}
	js, err := json.Marshal(holder{Key: s})
	require.NoError(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "key", s, "holder", holder{Key: s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, holder{s}, holder{s}, s), string(js), buf.String()} {
		require.NotContains(t, out, "hunter2", out)
	}
	require.Equal(t, "hunter2-super-secret", s.Reveal())

	var h holder
	require.NoError(t, json.Unmarshal([]byte(`{"key":"abc"}`), &h))
	require.Equal(t, "abc", h.Key.Reveal())
}
