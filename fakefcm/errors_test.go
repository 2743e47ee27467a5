package fakefcm

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestErrorCodesAnswerGooglesStatuses holds the core's plain status numbers to net/http's names
// and to the status → code mapping fault rules use.
func TestErrorCodesAnswerGooglesStatuses(t *testing.T) {
	for code, status := range map[ErrorCode]int{
		InvalidArgument:     http.StatusBadRequest,
		ThirdPartyAuthError: http.StatusUnauthorized,
		SenderIDMismatch:    http.StatusForbidden,
		Unregistered:        http.StatusNotFound,
		QuotaExceeded:       http.StatusTooManyRequests,
		Internal:            http.StatusInternalServerError,
		Unavailable:         http.StatusServiceUnavailable,
	} {
		require.True(t, code.Valid(), code)
		require.Equal(t, status, code.HTTPStatus(), code)
		back, ok := CodeForStatus(status)
		require.True(t, ok, status)
		require.Equal(t, code, back, status)
	}
	_, ok := CodeForStatus(http.StatusOK)
	require.False(t, ok)
}
