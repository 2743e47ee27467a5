package proccpu

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Work done on the CPU shows in Self, which never goes back.
func TestSelfGrowsWithWork(t *testing.T) {
	before, err := Self()
	require.NoError(t, err)
	sum := 0
	for i := range 50_000_000 {
		sum += i % 7
	}
	after, err := Self()
	require.NoError(t, err)
	require.Positive(t, sum)
	require.Greater(t, after, before)
}
