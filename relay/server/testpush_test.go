package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/memnet"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/sender"
	"github.com/pushlab/pushlab/relay/sqlitestore"
)

// TestTestPushAnswersFCMsVerdict runs a test push through the admin API, the relay's sender
// and fakefcm on an in-memory network: an online device's push is accepted (fcm-ok); after an
// uninstall FCM answers UNREGISTERED, the binding is gone, and a further test push is refused.
func TestTestPushAnswersFCMsVerdict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		fcmLn := memnet.Listen()
		fcm, err := fcmserver.New(fcmserver.Config{BaseURL: "http://fakefcm.test", Core: fakefcm.Config{Seed: 2}})
		require.NoError(t, err)
		fcmHS := &http.Server{Handler: fcm.Handler()}
		go fcmHS.Serve(fcmLn)
		fcmc := &control.Client{BaseURL: "http://fakefcm.test", HTTP: fcmLn.HTTPClient()}
		creds, err := fcmc.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "demo"})
		require.NoError(t, err)

		store, err := sqlitestore.Open(filepath.Join(t.TempDir(), "relay.db"))
		require.NoError(t, err)
		pool := sender.New(sender.Config{Transport: &http.Transport{DialContext: fcmLn.Dial}})
		b := &bubble{t: t, ln: memnet.Listen(), store: store}
		b.srv, err = New(ctx, Config{Store: store, Sender: pool, AdminKey: secret.New(adminKey)})
		require.NoError(t, err)
		hs := &http.Server{Handler: b.srv.Handler()}
		go hs.Serve(b.ln)
		b.http = b.ln.HTTPClient()
		defer func() {
			b.srv.Close()
			require.NoError(t, hs.Shutdown(ctx))
			fcm.Close()
			require.NoError(t, fcmHS.Shutdown(ctx))
			store.Close()
		}()
		status, body := b.admin("POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"secretKey":%q}`, appID, appSecret))
		require.Equal(t, http.StatusCreated, status, body)
		status, body = b.admin("POST", fmt.Sprintf("/admin/v1/apps/%d/certificates", appID),
			fmt.Sprintf(`{"id":%d,"packageName":"com.example.im","serviceAccount":%s,"endpoint":"http://fakefcm.test"}`, certID, creds.ServiceAccount))
		require.Equal(t, http.StatusCreated, status, body)

		tok, err := fcmc.RegisterDevice(ctx, creds.SenderID, "com.example.im")
		require.NoError(t, err)
		alice := b.dial()
		sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: "alice", Expire: time.Now().Add(time.Hour).Unix()})
		require.NoError(t, alice.Login(ctx, appID, "alice", sig, "alice:phone", "android")) // a ':' of its own
		_, err = alice.Do(ctx, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: certID, Token: tok})
		require.NoError(t, err)
		path := fmt.Sprintf("/admin/v1/apps/%d/users/alice/devices/alice:phone:test-push", appID)

		// Online, and still pushed: FCM accepts it.
		status, body = b.admin("POST", path, `{"title":"hello","body":"from the console"}`)
		require.Equal(t, http.StatusOK, status, body)
		var got relay.TestPushResult
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		require.Equal(t, "fcm-ok", got.Result, body)
		require.NotEmpty(t, got.FCMName)
		require.Equal(t, relay.TestPushResult{PushID: got.PushID, CertificateID: certID, Token: relay.ShortToken(tok),
			Result: "fcm-ok", FCMName: got.FCMName}, got)
		for _, s := range []string{tok, adminKey, appSecret, "PRIVATE KEY"} {
			require.NotContains(t, body, s, "the answer shows no secret and no whole token")
		}
		recs, err := fcmc.Messages(ctx, fakefcm.RecordFilter{Token: tok})
		require.NoError(t, err)
		require.Len(t, recs, 1)

		// Uninstalled: FCM says UNREGISTERED, and the relay drops the binding as for any push.
		require.NoError(t, fcmc.Uninstall(ctx, tok))
		admin := &client.Admin{BaseURL: baseURL, Key: adminKey, HTTP: b.http}
		got, err = admin.TestPush(ctx, appID, "alice", "alice:phone", "", "")
		require.NoError(t, err)
		require.Equal(t, "fcm-UNREGISTERED", got.Result)
		require.True(t, strings.HasPrefix(got.Detail, "binding removed"), got.Detail)
		status, body = b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/users/alice", appID), "")
		require.Equal(t, http.StatusOK, status)
		require.NotContains(t, body, `"binding"`)
		_, trace := b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/push-trace?userId=alice", appID), "")
		var tr traceAnswer
		require.NoError(t, json.Unmarshal([]byte(trace), &tr))
		var reasons []string
		for _, e := range tr.Entries {
			reasons = append(reasons, e.Reason)
		}
		require.Equal(t, []string{"test-push", "fcm-ok", "test-push", "fcm-UNREGISTERED"}, reasons)
		last := tr.Entries[len(tr.Entries)-1]
		require.Equal(t, got.PushID, last.PushID)
		require.Equal(t, last.Detail, got.Detail, "the answer says what the trace says")

		_, err = admin.TestPush(ctx, appID, "alice", "alice:phone", "", "")
		var refused *client.AdminError
		require.ErrorAs(t, err, &refused)
		require.Equal(t, http.StatusConflict, refused.Status)
		require.Contains(t, refused.Message, "no FCM token reported")
		status, _ = b.admin("POST", fmt.Sprintf("/admin/v1/apps/%d/users/alice/devices/tablet:test-push", appID), "")
		require.Equal(t, http.StatusNotFound, status)
		status, _ = b.admin("POST", fmt.Sprintf("/admin/v1/apps/%d/users/nobody/devices/alice-phone:test-push", appID), "")
		require.Equal(t, http.StatusNotFound, status)
		status, _ = b.admin("POST", "/admin/v1/apps/42/users/alice/devices/alice-phone:test-push", "")
		require.Equal(t, http.StatusNotFound, status)
		alice.Drop()
	})
}
