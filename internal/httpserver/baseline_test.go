package httpserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The baseline decodes the body and answers a name; a body that is not JSON is refused.
func TestBaselineDecodesAndAnswersAName(t *testing.T) {
	for body, want := range map[string]int{`{"message":{"token":"t"}}`: http.StatusOK, `not json`: http.StatusBadRequest} {
		w := httptest.NewRecorder()
		Baseline().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
		require.Equal(t, want, w.Code, body)
		if want == http.StatusOK {
			require.JSONEq(t, `{"name":"projects/demo/messages/1"}`, w.Body.String())
		}
	}
}
