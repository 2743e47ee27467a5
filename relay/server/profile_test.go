package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// TestProfilesGroupNamesAndTemplatesOverTheAdminAPI: a profile is PUT and read back, a group
// takes a name, an app takes pushTemplates, and a killed phone's push is titled from them; bad
// input is refused with what to fix.
func TestProfilesGroupNamesAndTemplatesOverTheAdminAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		b.provision()
		apps := fmt.Sprintf("/admin/v1/apps/%d", appID)
		status, body := b.admin("GET", client.ProfilePath(appID, "bob"), "")
		require.Equal(t, http.StatusNotFound, status, body)
		status, body = b.admin("PUT", client.ProfilePath(appID, "bob"), `{"nickname":"Bob 小明"}`)
		require.Equal(t, http.StatusOK, status, body)
		status, body = b.admin("GET", client.ProfilePath(appID, "bob"), "")
		require.Equal(t, http.StatusOK, status, body)
		require.JSONEq(t, fmt.Sprintf(`{"sdkAppId":%d,"userId":"bob","nickname":"Bob 小明"}`, appID), body)
		status, body = b.admin("PUT", client.ProfilePath(appID, "bob"), `{}`)
		require.Equal(t, http.StatusBadRequest, status, body)
		require.Contains(t, body, `nickname\" is required`)
		status, body = b.admin("PUT", client.ProfilePath(appID, "bob"), `{"nickname":"Bob","avatar":"x"}`)
		require.Equal(t, http.StatusBadRequest, status, body)
		status, body = b.admin("PUT", client.ProfilePath(appID+7, "bob"), `{"nickname":"Bob"}`)
		require.Equal(t, http.StatusNotFound, status, body)

		status, body = b.admin("PUT", apps+"/groups/team", `{"members":["alice","bob"],"name":"The Team"}`)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"name":"The Team"`)

		status, body = b.admin("PUT", apps, fmt.Sprintf(`{"secretKey":%q,"pushTemplates":{"en":{"groupTitle":"{nickname} @ {grp}"}}}`, appSecret))
		require.Equal(t, http.StatusBadRequest, status, body)
		require.Contains(t, body, "pushTemplates[en].groupTitle")
		require.Contains(t, body, "{grp}")
		status, body = b.admin("PUT", apps, fmt.Sprintf(`{"secretKey":%q,"pushTemplates":{"en":{"title":"x"}}}`, appSecret))
		require.Equal(t, http.StatusBadRequest, status, body)
		require.Contains(t, body, "title")
		status, body = b.admin("PUT", apps, fmt.Sprintf(`{"secretKey":%q,"pushTemplates":{"en_us":{"groupTitle":"{nickname} @ {group}"}}}`, appSecret))
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"en-US":{"groupTitle":"{nickname} @ {group}"}`, "keys come back canonical")

		alice := b.launch("alice", "alice-phone")
		bob := b.launch("bob", "bob-phone")
		require.NoError(t, alice.conn.Drop())
		synctest.Wait()
		_, err := bob.conn.Do(context.Background(), relay.ClientFrame{Op: relay.OpSend, Group: "team", Text: "standup"})
		require.NoError(t, err)
		bob.send("alice", "hi")
		synctest.Wait()
		sent := b.sender.sent()
		require.Len(t, sent, 2)
		require.Equal(t, "Bob 小明 (The Team)", sent[0].Title, "no en-US locale on the phone: English")
		require.Equal(t, "Bob 小明", sent[1].Title)
		bob.conn.Close()
	})
}

// A config file's bad pushTemplates are refused when it is read, naming the app and the key.
func TestConfigFileRefusesBadPushTemplates(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "relay.yaml")
	require.NoError(t, os.WriteFile(p, []byte(fmt.Sprintf(`
apps:
  - sdkAppId: %d
    secretKey: %s
    defaultLocale: zh-CN
    pushTemplates:
      zh-HK: {summaryBody: "{count} 則新訊息"}
`, appID, appSecret)), 0o600))
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	fc, err := ParseFileConfig(p, data)
	require.NoError(t, err)
	require.Equal(t, "{count} 則新訊息", fc.Apps[0].PushTemplates["zh-HK"].SummaryBody)
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		require.NoError(t, b.srv.Provision(context.Background(), fc))
		status, body := b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d", appID), "")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `"defaultLocale":"zh-CN"`)
		require.Contains(t, body, `"zh-HK":{"summaryBody":"{count} 則新訊息"}`)
	})

	for _, tc := range []struct{ yaml, want string }{
		{`{summaryBody: "{n} new"}`, "pushTemplates[en].summaryBody: unknown placeholder {n}"},
		{`{summaryBody: "x", subtitle: "y"}`, "subtitle"},
	} {
		_, err := ParseFileConfig("bad.yaml", []byte(fmt.Sprintf("apps:\n  - sdkAppId: 1\n    pushTemplates:\n      en: %s\n", tc.yaml)))
		require.ErrorContains(t, err, tc.want)
		require.ErrorContains(t, err, "bad.yaml")
	}
	_, err = ParseFileConfig("bad.yaml", []byte("apps:\n  - sdkAppId: 1\n    pushTemplates:\n      'zh-@@': {summaryBody: x}\n"))
	require.ErrorContains(t, err, `apps[0] (sdkAppId 1): pushTemplates key "zh-@@"`)
}
