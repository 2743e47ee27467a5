package yamlfile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
)

type doc struct {
	Name  string            `yaml:"name"`
	Wait  duration.Duration `yaml:"wait"`
	Items []int             `yaml:"items"`
}

func TestDecodeNamesFileLineColumn(t *testing.T) {
	for _, tc := range []struct {
		body      string
		line, col int
		msg       string
	}{
		{"name: x\nwiat: 1s\n", 2, 1, `unknown field "wiat"`},
		{"name: x\nwait: later\n", 2, 7, `duration "later"`},
		{"name: x\nitems: [1, two]\n", 2, 12, "cannot unmarshal"},
		{"name: [\n", 1, 7, ""},
	} {
		var d doc
		err := Decode("s.yaml", []byte(tc.body), &d)
		require.Error(t, err, tc.body)
		var ye *Error
		require.True(t, errors.As(err, &ye), "%q: %v", tc.body, err)
		require.Equal(t, "s.yaml", ye.File)
		require.Equal(t, tc.line, ye.Line, "%q: %v", tc.body, err)
		require.Equal(t, tc.col, ye.Column, "%q: %v", tc.body, err)
		require.Contains(t, err.Error(), tc.msg)
		require.True(t, strings.HasPrefix(err.Error(), "s.yaml:"), err.Error())
	}
}

func TestDecodeRefusesHugeAndEmptyFiles(t *testing.T) {
	var d doc
	require.ErrorContains(t, Decode("big.yaml", make([]byte, MaxSize+1), &d), "limit")
	require.ErrorContains(t, Decode("empty.yaml", nil, &d), "empty")
}

// decodeWithin decodes on another goroutine and fails the test if that takes longer than d: a
// guard that stops working shows as a test that fails, not one that hangs.
func decodeWithin(t *testing.T, d time.Duration, name string, data []byte, v any) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- Decode(name, data, v) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s: Decode took longer than %v", name, d)
		return nil
	}
}

// go-yaml panics on a tag over a mapping where a list is expected (goccy/go-yaml#735, found by
// FuzzParse); Decode answers an error naming the file instead.
func TestDecodeSurvivesTheDecodersPanics(t *testing.T) {
	type item struct {
		ID string `yaml:"id"`
	}
	var v struct {
		Items []item `yaml:"items"`
	}
	for _, body := range []string{"items: ! {id: a}\n", "items:\n  ! {id: a}\n"} {
		err := Decode("tag.yaml", []byte(body), &v)
		require.ErrorContains(t, err, "tag.yaml: not a file pushlab can read", body)
	}
}

// Deep nesting would take go-yaml's parser hours on a file under the size limit (its time grows
// with the square of the depth), and eight anchors of nine aliases stand for 9⁸ values: both are
// refused at once, with the place where the file goes wrong.
func TestDecodeRefusesDeepNestingAndAliasBombs(t *testing.T) {
	var bomb strings.Builder
	bomb.WriteString("x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 8; i++ {
		fmt.Fprintf(&bomb, "x%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 9), ", "))
	}
	bomb.WriteString("name: *a7\n")
	for _, tc := range []struct {
		name, body string
		line, col  int
		msg        string
	}{
		{"flow", "name: " + strings.Repeat("[", 100_000), 1, 70, "nested deeper than 64 levels"},
		{"block", "name: x\nitems:\n" + strings.Repeat("- ", 100_000) + "x\n", 3, 129, "nested deeper than 64 levels"},
		{"maps", "name: " + strings.Repeat("{a: ", 50_000), 1, 259, "nested deeper than 64 levels"},
		{"billion laughs", bomb.String(), 7, 10, "stand for more than 1048576 values once expanded"},
	} {
		var d doc
		err := decodeWithin(t, 10*time.Second, tc.name+".yaml", []byte(tc.body), &d)
		var ye *Error
		require.True(t, errors.As(err, &ye), "%s: %v", tc.name, err)
		require.Equal(t, tc.line, ye.Line, "%s: %v", tc.name, err)
		require.Equal(t, tc.col, ye.Column, "%s: %v", tc.name, err)
		require.Contains(t, err.Error(), tc.msg, tc.name)
	}
	// What pushlab's files do stays allowed: a few levels, and aliases for a few values.
	var d doc
	require.NoError(t, Decode("ok.yaml", []byte("name: &n x\nitems: &i [1, 2]\n"), &d))
	var many struct {
		A []int   `yaml:"a"`
		B [][]int `yaml:"b"`
	}
	require.NoError(t, Decode("ok.yaml", []byte("a: &a [1, 2, 3]\nb: ["+strings.TrimSuffix(strings.Repeat("*a, ", 1000), ", ")+"]\n"), &many))
	require.Len(t, many.B, 1000)
}

// An error on a huge line names its place without printing the line (go-yaml's excerpt of it
// takes time quadratic in its length: minutes for this half-megabyte line). The time bound is a
// hang guard, far above what the linear path takes even on a loaded machine under -race, not a
// speed measurement.
func TestErrorOnAHugeLineIsShort(t *testing.T) {
	var d doc
	err := decodeWithin(t, 60*time.Second, "long.yaml", []byte("name: "+strings.Repeat("x ", 1<<18)+": y\n"), &d)
	require.Error(t, err)
	require.Less(t, len(err.Error()), 200, err.Error())
	require.True(t, strings.HasPrefix(err.Error(), "long.yaml:1:"), err.Error())
}

// TestErrorExcerptsHideSecrets: an error next to an inline secret shows where it is, not the
// secret (config files may hold app secrets, server keys and private keys inline).
func TestErrorExcerptsHideSecrets(t *testing.T) {
	var cfg struct {
		Apps []struct {
			SecretKey string `yaml:"secretKey"`
			Name      string `yaml:"name"`
		} `yaml:"apps"`
		Cert map[string]string `yaml:"cert"`
	}
	data := "apps:\n  - secretKey: TOPSECRET-app-0123\n    nmae: demo\ncert: {serverKey: AAAA-server-key, private_key: \"-----BEGIN PRIVATE KEY-----x\"}\n"
	err := Decode("relay.yaml", []byte(data), &cfg)
	require.ErrorContains(t, err, "relay.yaml:3:5")
	require.ErrorContains(t, err, "nmae")
	require.ErrorContains(t, err, "secretKey: ***")
	for _, s := range []string{"TOPSECRET", "AAAA-server-key", "BEGIN PRIVATE KEY"} {
		require.NotContains(t, err.Error(), s)
	}
}
