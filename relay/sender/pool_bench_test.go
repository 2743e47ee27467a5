package sender

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// cannedFCM answers in process, with no network: an OAuth token for the token endpoint, a
// message name for every send. What a send costs the relay itself is then all that is measured.
type cannedFCM struct{}

func (cannedFCM) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	body := `{"name":"projects/demo/messages/1"}`
	if strings.HasSuffix(req.URL.Path, "/token") {
		body = `{"access_token":"tok","token_type":"Bearer","expires_in":3600}`
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req, ContentLength: int64(len(body))}, nil
}

// BenchmarkPoolSendV1 is one push through the pool and the Admin SDK to an FCM that answers
// at once in process: the message built, the SDK's JSON, its request and the answer read.
func BenchmarkPoolSendV1(b *testing.B) {
	fcm := newBench(b, 0) // for a service account whose key signs the OAuth assertion
	pool := New(Config{Transport: cannedFCM{}})
	require.NoError(b, pool.Set(context.Background(), fcm.v1))
	p := push(fcm.v1.ID, "tok-1")
	require.Nil(b, pool.Send(context.Background(), p).Err)
	b.ReportAllocs()
	for b.Loop() {
		if r := pool.Send(context.Background(), p); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}
