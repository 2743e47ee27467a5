package duration

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"
)

type holder struct {
	D Duration `json:"d" yaml:"d"`
}

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(holder{D: Of(90 * time.Second)})
	require.NoError(t, err)
	require.JSONEq(t, `{"d":"1m30s"}`, string(b))

	var h holder
	require.NoError(t, json.Unmarshal([]byte(`{"d":"250ms"}`), &h))
	require.Equal(t, 250*time.Millisecond, h.D.D())
	require.NoError(t, json.Unmarshal([]byte(`{"d":2}`), &h))
	require.Equal(t, 2*time.Second, h.D.D())
	require.ErrorContains(t, json.Unmarshal([]byte(`{"d":"soon"}`), &h), `expected a number with a unit`)
}

func TestDurationYAML(t *testing.T) {
	var h holder
	require.NoError(t, yaml.Unmarshal([]byte("d: 10m\n"), &h))
	require.Equal(t, 10*time.Minute, h.D.D())
	out, err := yaml.Marshal(h)
	require.NoError(t, err)
	require.Equal(t, "d: 10m0s\n", string(out))
	require.Error(t, yaml.Unmarshal([]byte("d: later\n"), &h))
}
