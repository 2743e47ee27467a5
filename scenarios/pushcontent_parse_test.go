package scenarios

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/yamlfile"
)

// A push expectation's content checks are read, and a bad value is an error at its place in the
// file.
func TestPushContentExpectations(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(header+"  - expect: {device: alice-phone, push: {within: 5s, badge: 4, collapseKey: c2c_bob, data: {conv: c2c_bob, seq: 3}}}\n"))
	require.NoError(t, err)
	p := sc.Steps[0].Expect.Push
	require.Equal(t, 4, *p.Badge)
	require.Equal(t, "c2c_bob", p.CollapseKey)
	require.Equal(t, map[string]string{"conv": "c2c_bob", "seq": "3"}, p.Data)

	for _, tc := range []struct {
		name, body string
		line, col  int
		want       string
	}{
		{"negative badge", "  - expect: {device: alice-phone, push: {within: 5s, badge: -1}}\n", 6, 5, "push badge -1"},
		{"badge not a number", "  - expect: {device: alice-phone, push: {within: 5s, badge: three}}\n", 6, 61, "cannot unmarshal string"},
		{"data not a map", "  - expect: {device: alice-phone, push: {within: 5s, data: [conv]}}\n", 6, 60, "sequence was used where mapping is expected"},
		{"data value not a scalar", "  - expect: {device: alice-phone, push: {within: 5s, data: {conv: [a]}}}\n", 6, 67, "cannot unmarshal"},
		{"empty data key", "  - expect: {device: alice-phone, push: {within: 5s, data: {'': a}}}\n", 6, 5, "a key is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(header+tc.body))
			require.Error(t, err)
			var ye *yamlfile.Error
			require.True(t, errors.As(err, &ye), "want a positioned error, got %v", err)
			require.Equal(t, tc.line, ye.Line, err.Error())
			require.Equal(t, tc.col, ye.Column, err.Error())
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
