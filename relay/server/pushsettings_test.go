package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// TestPushSettingsOverTheAdminAPI: GET answers the default for a user never seen; PUT needs
// enabled and answers the settings; a killed device of a user with pushes off gets no push, the
// user view shows the setting, and a relay started again on the same store keeps it. The
// app-protocol op answers the same settings.
func TestPushSettingsOverTheAdminAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := relay.NewMemoryStore()
		b := startRelay(t, store, relay.Config{})
		b.provision()
		path := client.PushSettingsPath(appID, "alice")
		status, body := b.admin("GET", path, "")
		require.Equal(t, http.StatusOK, status, body)
		require.JSONEq(t, `{"enabled":true}`, body, "a user the relay has not heard of has pushes on")
		status, body = b.admin("PUT", path, `{}`)
		require.Equal(t, http.StatusBadRequest, status, body)
		require.Contains(t, body, "enabled is required")
		status, body = b.admin("PUT", path, `{"enabled":"no"}`)
		require.Equal(t, http.StatusBadRequest, status, body)
		status, body = b.admin("PUT", client.PushSettingsPath(appID+7, "alice"), `{"enabled":false}`)
		require.Equal(t, http.StatusNotFound, status, body)

		alice := b.launch("alice", "alice-phone")
		bob := b.launch("bob", "bob-phone")
		admin := &client.Admin{BaseURL: baseURL, Key: adminKey, HTTP: b.http}
		got, err := admin.SetPushSettings(context.Background(), appID, "alice", relay.PushSettings{Enabled: false})
		require.NoError(t, err)
		require.Equal(t, relay.PushSettings{Enabled: false}, got)
		r, err := alice.conn.Do(context.Background(), relay.ClientFrame{Op: relay.OpGetPushSettings})
		require.NoError(t, err)
		require.Equal(t, &relay.PushSettings{Enabled: false}, r.PushSettings, "the app reads what the administrator set")

		require.NoError(t, alice.conn.Drop())
		synctest.Wait()
		bob.send("alice", "hi")
		synctest.Wait()
		require.Empty(t, b.sender.sent(), "no push for a user with pushes off")
		v, err := admin.User(context.Background(), appID, "alice")
		require.NoError(t, err)
		require.Equal(t, relay.PushSettings{Enabled: false}, v.PushSettings)
		bob.conn.Close()

		require.NoError(t, b.srv.Close())
		b2 := startRelay(t, store, relay.Config{})
		admin.HTTP = b2.http
		got, err = admin.PushSettings(context.Background(), appID, "alice")
		require.NoError(t, err)
		require.Equal(t, relay.PushSettings{Enabled: false}, got, "kept across a restart")
		_, err = admin.PushSettings(context.Background(), appID+7, "alice")
		var ae *client.AdminError
		require.True(t, errors.As(err, &ae), fmt.Sprint(err))
		require.Equal(t, http.StatusNotFound, ae.Status)
	})
}
