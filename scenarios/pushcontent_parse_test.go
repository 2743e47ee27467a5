package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A push expectation's content checks are read (a bad value is an error at its place in the file:
// TestParseErrorsNameFileLineColumn).
func TestPushContentExpectations(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(header+"  - expect: {device: alice-phone, push: {within: 5s, badge: 4, collapseKey: c2c_bob, data: {conv: c2c_bob, seq: 3}}}\n"))
	require.NoError(t, err)
	p := sc.Steps[0].Expect.Push
	require.Equal(t, 4, *p.Badge)
	require.Equal(t, "c2c_bob", p.CollapseKey)
	require.Equal(t, map[string]string{"conv": "c2c_bob", "seq": "3"}, p.Data)
}
