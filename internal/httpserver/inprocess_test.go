package httpserver

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInProcessServesAsAServerWould(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.RemoteAddr+" "+r.RequestURI+" "+string(b))
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		_, _ = io.WriteString(w, "answer")
	})
	c := &http.Client{Transport: InProcess{Handler: h}}
	res, err := c.Get("http://in.process/a?b=c")
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "a handler that only writes answers 200")
	require.Equal(t, "answer", string(body))
	require.Equal(t, "192.0.2.1:1234 /a?b=c ", res.Header.Get("X-Seen"))

	c = &http.Client{Transport: InProcess{Handler: h, RemoteAddr: "198.51.100.2:9"}}
	res, err = c.Post("http://in.process/form", "text/plain", strings.NewReader("x=1"))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	require.Equal(t, "198.51.100.2:9 /form x=1", res.Header.Get("X-Seen"))
}
