package perf

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHugePageModeIsTheBracketedWord(t *testing.T) {
	file := func(content string, err error) func(string) ([]byte, error) {
		return func(path string) ([]byte, error) {
			require.Equal(t, thpPath, path)
			return []byte(content), err
		}
	}
	require.Equal(t, "madvise", hugePageMode(file("always [madvise] never\n", nil)))
	require.Equal(t, "always", hugePageMode(file("[always] madvise never\n", nil)))
	require.Equal(t, "never", hugePageMode(file("always madvise [never]\n", nil)))
	require.Empty(t, hugePageMode(file("", errors.New("no such file"))), "unreadable: say nothing")
	require.Empty(t, hugePageMode(file("always madvise never\n", nil)), "no mode chosen: say nothing")
	require.Empty(t, hugePageMode(file("always [madvise", nil)), "cut short: say nothing")
}
