package yamlfile

import (
	"errors"
	"strings"
	"testing"

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
