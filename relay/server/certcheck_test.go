package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/logbuf"
	"github.com/pushlab/pushlab/internal/testca"
	"github.com/pushlab/pushlab/relay"
)

type certAnswer struct {
	ID    int64           `json:"id"`
	Check relay.CertCheck `json:"check"`
}

// TestCertificateCheck runs the relay on SQLite against a fakefcm on TLS: creating a
// certificate checks it and answers the verdict (ok for fakefcm's service account, failed with
// the token endpoint's words for a key it never issued, failed at once for a legacy certificate
// aimed at Google); :check checks again; the verdicts are in the push trace and the metrics and
// survive a restart; no answer, trace or log line holds a private key, a server key or an OAuth
// access token.
func TestCertificateCheck(t *testing.T) {
	l := startLiveLogged(t, overTLS, &logbuf.Buffer{})
	apps := fmt.Sprintf("/admin/v1/apps/%d", appID)
	var answers []string
	call := func(method, path, body string, want int) string {
		t.Helper()
		status, got := l.admin(method, path, body)
		require.Equal(t, want, status, "%s %s: %s", method, path, got)
		answers = append(answers, got)
		return got
	}
	check := func(body string) relay.CertCheck {
		t.Helper()
		var a certAnswer
		require.NoError(t, json.Unmarshal([]byte(body), &a), body)
		return a.Check
	}

	good := check(call("GET", fmt.Sprintf("%s/certificates/%d", apps, certID), "", http.StatusOK))
	require.Equal(t, relay.CheckOK, good.Status, "startLive's certificate: fakefcm's own service account")
	require.False(t, good.CheckedAt.IsZero())

	foreign := testca.ForeignServiceAccount(t, l.creds.ServiceAccount)
	bad := check(call("POST", apps+"/certificates", fmt.Sprintf(`{"id":7001,"packageName":"com.example.im","serviceAccount":%s,"endpoint":%q}`, foreign, l.fcm.URL), http.StatusCreated))
	require.Equal(t, relay.CheckFailed, bad.Status, "a failed check does not refuse the certificate")
	require.Contains(t, bad.Error, "the OAuth token endpoint refused the service account (HTTP 401, invalid_client)")

	legacy := check(call("POST", apps+"/certificates", fmt.Sprintf(`{"id":7002,"packageName":"com.example.im","serverKey":%q}`, legacyServerKey), http.StatusCreated))
	require.Equal(t, relay.CheckFailed, legacy.Status)
	require.Equal(t, relay.LegacyShutdownError, legacy.Error)

	again := check(call("POST", fmt.Sprintf("%s/certificates/%d:check", apps, certID), "", http.StatusOK))
	require.Equal(t, relay.CheckOK, again.Status)
	require.False(t, again.CheckedAt.Before(good.CheckedAt))
	call("POST", apps+"/certificates/9999:check", "", http.StatusNotFound)
	call("POST", apps+"/certificates/7001:verify", "", http.StatusNotFound)

	trace := call("GET", apps+"/push-trace?certificateId=7001", "", http.StatusOK)
	require.Contains(t, trace, `"reason":"certificate-check-failed"`)
	require.Contains(t, trace, "invalid_client")
	metrics := call("GET", "/metrics", "", http.StatusOK)
	for _, line := range []string{`relay_certificates{check="ok"} 1`, `relay_certificates{check="failed"} 2`, `relay_certificates{check="unchecked"} 0`} {
		require.Contains(t, metrics, line)
	}

	l.restartRelay()
	require.Equal(t, bad, check(call("GET", apps+"/certificates/7001", "", http.StatusOK)), "the verdict survives a restart")
	require.Equal(t, legacy, check(call("GET", apps+"/certificates/7002", "", http.StatusOK)))
	require.Contains(t, call("GET", "/metrics", "", http.StatusOK), `relay_certificates{check="failed"} 2`)

	var sa struct {
		PrivateKey string `json:"private_key"`
	}
	require.NoError(t, json.Unmarshal(l.creds.ServiceAccount, &sa))
	secrets := []string{"PRIVATE KEY", "ya29.", legacyServerKey, l.creds.ServerKey, strings.Split(sa.PrivateKey, "\n")[1]}
	logs := l.log.String()
	require.Contains(t, logs, "certificate checked")
	for _, text := range append(answers, logs) {
		for _, s := range secrets {
			require.NotContains(t, text, s)
		}
	}
}
