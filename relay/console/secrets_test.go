package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// TestAppsAndCertificatesKeepEverySecretOffPagesAndLogs walks every apps and certificates page
// and form of a real relay — create, edit with and without a new secret, refusals, check,
// delete — and requires that no page and no log line holds the app secret, the service
// account's private key, the server key, the admin key or the session cookie's value.
func TestAppsAndCertificatesKeepEverySecretOffPagesAndLogs(t *testing.T) {
	r := startRelay(t)
	sa, keyLine := serviceAccount(t)
	p := newPerson(t, r.URL)
	tok := p.SignIn(adminKey)
	ctx := context.Background()

	status, page := p.Post("/console/apps", url.Values{"csrf": {tok}, "sdkAppId": {"1400000001"}, "name": {"Demo"},
		"secretKey": {appSecret}, "loginPolicy": {"multi"}, "perMinute": {"60"}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "App 1400000001 created")
	var app relay.AppView
	require.NoError(t, r.Admin.Do(ctx, "GET", "/admin/v1/apps/1400000001", nil, &app))
	require.Equal(t, relay.AppView{SDKAppID: 1400000001, Name: "Demo", LoginPolicy: relay.PolicyMulti,
		Caps: relay.Caps{PerMinute: 60, PerHour: 3000, Burst: 18, Refill: app.Caps.Refill}}, app)

	status, page = p.Post("/console/apps", url.Values{"csrf": {tok}, "sdkAppId": {"1400000002"}, "secretKey": {"short"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, page, "secretKey must be at least 16 bytes", "the API's own words")

	_, page = p.Get("/console/apps/1400000001")
	require.Contains(t, page, `value="Demo"`)
	status, page = p.Post("/console/apps/1400000001", url.Values{"csrf": {tok}, "name": {"Renamed"}, "loginPolicy": {"single"}, "secretKey": {""}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "App 1400000001 saved")
	require.NoError(t, r.Admin.Do(ctx, "GET", "/admin/v1/apps/1400000001", nil, &app))
	require.Equal(t, "Renamed", app.Name, "saved without retyping the secret")
	const newSecret = "console-new-app-secret-98765"
	status, _ = p.Post("/console/apps/1400000001", url.Values{"csrf": {tok}, "name": {"Renamed"}, "secretKey": {newSecret}})
	require.Equal(t, http.StatusOK, status)

	status, page = p.Post("/console/apps/1400000001/certificates", url.Values{"csrf": {tok}, "packageName": {"com.example.im"},
		"senderId": {"1234567890"}, "api": {"v1"}, "serviceAccount": {sa}, "serverKey": {serverKey}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, `data-created-id="1"`, "the relay picked the ID")
	require.Contains(t, page, "Certificate 1 created")
	status, page = p.Post("/console/apps/1400000001/certificates", url.Values{"csrf": {tok}, "id": {"6768"}, "packageName": {"com.example.legacy"},
		"api": {"legacy"}, "serverKey": {serverKey}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, `data-created-id="6768"`)
	require.Contains(t, page, "legacy FCM HTTP API (server keys) was shut down", "the check's failure is shown")
	require.Contains(t, page, ">Google<", "an empty endpoint is Google's")
	status, page = p.Post("/console/apps/1400000001/certificates", url.Values{"csrf": {tok}, "packageName": {"com.example.im"},
		"api": {"v1"}, "serviceAccount": {strings.Replace(sa, "service_account", "user", 1)}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, page, "serviceAccount must be a service-account key file")

	var certs struct {
		Certificates []relay.CertificateView `json:"certificates"`
	}
	require.NoError(t, r.Admin.Do(ctx, "GET", "/admin/v1/apps/1400000001/certificates", nil, &certs))
	require.Len(t, certs.Certificates, 2)
	require.Equal(t, "v1", certs.Certificates[0].API, "only the chosen API's field is sent")

	_, page = p.Get("/console/apps/1400000001/certificates/1")
	require.Contains(t, page, `value="com.example.im"`)
	status, page = p.Post("/console/apps/1400000001/certificates/1", url.Values{"csrf": {tok}, "packageName": {"com.example.renamed"},
		"api": {"keep"}, "endpoint": {"http://127.0.0.1:1"}, "channelId": {"chat_messages"}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Certificate 1 saved")
	require.Contains(t, page, ">chat_messages<", "the list shows the default Android channel")
	status, page = p.Post("/console/apps/1400000001/certificates/1", url.Values{"csrf": {tok}, "packageName": {"com.example.renamed"},
		"api": {"keep"}, "endpoint": {"http://127.0.0.1:1"}, "channelId": {"Chat messages"}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, page, "expected the ID of a NotificationChannel the app created", "a display name given as the channel is refused")
	_, page = p.Get("/console/apps/1400000001/certificates/1")
	require.Contains(t, page, `value="chat_messages"`, "the edit form shows the stored channel")
	status, page = p.Post("/console/apps/1400000001/certificates/6768", url.Values{"csrf": {tok}, "packageName": {"com.example.legacy"},
		"api": {"v1"}, "serviceAccount": {sa}})
	require.Equal(t, http.StatusOK, status, page)
	require.NoError(t, r.Admin.Do(ctx, "GET", "/admin/v1/apps/1400000001/certificates", nil, &certs))
	require.Equal(t, []string{"com.example.renamed", "v1", "console-demo", "v1"},
		[]string{certs.Certificates[0].PackageName, certs.Certificates[0].API, certs.Certificates[0].ProjectID, certs.Certificates[1].API})
	require.Equal(t, "chat_messages", certs.Certificates[0].ChannelID)

	status, page = p.Post("/console/apps/1400000001/certificates/1/check", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Certificate 1 checked: failed")
	for _, path := range []string{"/console/apps", "/console/apps/1400000001/delete", "/console/apps/1400000001/certificates/6768/delete", "/console/apps/1400000001/certificates/99"} {
		p.Get(path)
	}
	status, page = p.Post("/console/apps/1400000001/certificates/6768/delete", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Certificate 6768 deleted")
	status, page = p.Post("/console/apps/1400000001/delete", url.Values{"csrf": {tok}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "App 1400000001 deleted")
	require.NotContains(t, page, "Renamed")

	cookie := p.Cookie()
	require.NotEmpty(t, cookie)
	logs := r.Log.String()
	require.Contains(t, logs, "console: certificate created", "the log is captured")
	for i, text := range append(p.Pages, logs) {
		for _, s := range []string{appSecret, newSecret, keyLine, "PRIVATE KEY", serverKey, adminKey, cookie} {
			require.NotContains(t, text, s, fmt.Sprintf("text %d of %d (the last is the log)", i, len(p.Pages)+1))
		}
	}
}
