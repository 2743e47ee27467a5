package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

func TestConfigFileProvisionsAppsAndCertificates(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	key := write("app.key", appSecret+"\n")
	sa := write("sa.json", `{"type":"service_account","project_id":"demo","private_key":"k","client_email":"a@demo.iam.gserviceaccount.com"}`)
	cfgPath := write("relay.yaml", fmt.Sprintf(`
relay:
  heartbeatDeadline: 45s
  defaultCaps: {burst: 5}
maxConnections: 10
sendTimeout: 3s
apps:
  - {sdkAppId: %d, name: Demo, secretKeyFile: %s, loginPolicy: single}
certificates:
  - {id: %d, app: %d, packageName: com.example.im, serviceAccountFile: %s, endpoint: http://127.0.0.1:4000, channelId: chat_messages}
`, appID, key, certID, appID, sa))
	data, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	fc, err := ParseFileConfig(cfgPath, data)
	require.NoError(t, err)
	require.Equal(t, 45*time.Second, fc.Relay.HeartbeatDeadline.D())
	require.Equal(t, 3*time.Second, fc.SendTimeout.D())
	require.Equal(t, appSecret, fc.Apps[0].SecretKey.Reveal())

	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), fc.Relay)
		require.NoError(t, b.srv.Provision(context.Background(), fc))
		require.NoError(t, b.srv.Provision(context.Background(), fc), "provisioning again updates in place")
		status, body := b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d", appID), "")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `"loginPolicy":"single"`)
		require.Contains(t, body, `"burst":5`)
		status, body = b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/certificates/%d", appID, certID), "")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `"endpoint":"http://127.0.0.1:4000"`)
		require.Contains(t, body, `"api":"v1"`)
		require.Contains(t, body, `"channelId":"chat_messages"`)
	})

	_, err = ParseFileConfig("bad.yaml", []byte("relay:\n  heartbeatDeadline: soon\n"))
	require.ErrorContains(t, err, "bad.yaml:2:22")
	_, err = ParseFileConfig("bad.yaml", []byte("apps:\n  - {sdkAppId: 1, secretKeyFile: /nonexistent}\n"))
	require.ErrorContains(t, err, "secretKeyFile")
}
