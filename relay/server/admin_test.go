package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// legacyServerKey is a legacy certificate's server key in these tests.
const legacyServerKey = "AAAAlegacy-server-key-0123456789:xyz9"

// TestAdminAnswersNeverCarrySecrets calls every admin path that answers a body — creations,
// updates, listings, a user, the push trace, a refusal, the metrics — and greps each answer for
// the app secret, the service account's private key and the legacy server key.
func TestAdminAnswersNeverCarrySecrets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		b.provision()
		secrets := []string{appSecret, adminKey, legacyServerKey, "secret-material", "PRIVATE KEY", "ya29."}
		var answers []string
		call := func(method, path, body string, want int) string {
			t.Helper()
			status, got := b.admin(method, path, body)
			require.Equal(t, want, status, "%s %s: %s", method, path, got)
			answers = append(answers, method+" "+path+" → "+got)
			return got
		}
		apps := fmt.Sprintf("/admin/v1/apps/%d", appID)
		sa := `{"type":"service_account","project_id":"demo","private_key":"-----BEGIN PRIVATE KEY-----\nsecret-material\n-----END PRIVATE KEY-----\n","client_email":"x@demo.iam.gserviceaccount.com","private_key_id":"0123456789abcdef"}`

		body := call("POST", apps+"/certificates", fmt.Sprintf(`{"id":6769,"packageName":"com.example.im","senderId":"123","serverKey":%q}`, legacyServerKey), http.StatusCreated)
		require.Contains(t, body, `"serverKey":"…xyz9"`, "the server key shows masked")
		require.Contains(t, body, `"api":"legacy"`)
		call("PUT", apps+"/certificates/6769", fmt.Sprintf(`{"packageName":"com.example.im","serverKey":%q}`, legacyServerKey), http.StatusOK)
		call("PUT", fmt.Sprintf("%s/certificates/%d", apps, certID), fmt.Sprintf(`{"packageName":"com.example.im","serviceAccount":%s}`, sa), http.StatusOK)
		call("POST", apps+"/certificates", fmt.Sprintf(`{"id":6770,"packageName":"com.example.im","serviceAccount":%q}`, sa), http.StatusCreated)
		call("POST", apps+"/certificates", `{"id":6771,"packageName":"com.example.im","serviceAccount":{"type":"service_account","private_key":"secret-material"}}`, http.StatusBadRequest)
		call("GET", apps+"/certificates", "", http.StatusOK)
		for _, id := range []int64{certID, 6769, 6770} {
			call("GET", fmt.Sprintf("%s/certificates/%d", apps, id), "", http.StatusOK)
		}
		call("PUT", apps, fmt.Sprintf(`{"secretKey":%q,"name":"Demo"}`, appSecret), http.StatusOK)
		call("POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"secretKey":%q}`, appID+1, appSecret), http.StatusCreated)
		call("GET", "/admin/v1/apps", "", http.StatusOK)
		call("GET", apps, "", http.StatusOK)

		alice := b.launch("alice", "alice-phone")
		bob := b.launch("bob", "bob-phone")
		require.NoError(t, alice.conn.Drop())
		bob.send("alice", "hi")
		synctest.Wait()
		require.Len(t, b.sender.sent(), 1)
		call("GET", apps+"/users/alice", "", http.StatusOK)
		call("GET", apps+"/push-trace?userId=alice", "", http.StatusOK)
		call("GET", "/metrics", "", http.StatusOK)

		for _, a := range answers {
			for _, s := range secrets {
				require.NotContains(t, a, s)
			}
		}
		bob.conn.Close()
	})
}

// TestPushTraceLimitIsBounded: one push-trace page holds at most 10,000 entries; more is refused
// with 400 and a message saying how to page.
func TestPushTraceLimitIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		b.provision()
		path := fmt.Sprintf("/admin/v1/apps/%d/push-trace?limit=", appID)
		status, body := b.admin("GET", path+"10000", "")
		require.Equal(t, http.StatusOK, status, body)
		for _, tc := range []struct{ limit, msg string }{
			{"10001", "limit 10001: at most 10000 entries per page; follow the answer's next with pageToken="},
			{"-1", `limit \"-1\": expected a number`},
			{"many", `limit \"many\": expected a number`},
		} {
			status, body = b.admin("GET", path+tc.limit, "")
			require.Equal(t, http.StatusBadRequest, status, tc.limit)
			require.JSONEq(t, fmt.Sprintf(`{"error":{"code":400,"message":"%s"}}`, tc.msg), body)
		}
	})
}

// TestKickTakesAnEmptyBodyOfAnyTransferEncoding: the kick's body is optional — none, an empty
// chunked one, or a reason — and the kicked device sees the reason.
func TestKickTakesAnEmptyBodyOfAnyTransferEncoding(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		b.provision()
		path := fmt.Sprintf("/admin/v1/apps/%d/users/alice/kick", appID)
		for _, tc := range []struct {
			name   string
			kick   func() (int, string)
			reason string
		}{
			{"no body", func() (int, string) { return b.admin("POST", path, "") }, "kicked by the administrator"},
			{"empty chunked body", func() (int, string) {
				return b.raw("POST " + path + " HTTP/1.1\r\nHost: relay.test\r\nAuthorization: Bearer " + adminKey +
					"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n")
			}, "kicked by the administrator"},
			{"chunked blank body", func() (int, string) {
				return b.raw("POST " + path + " HTTP/1.1\r\nHost: relay.test\r\nAuthorization: Bearer " + adminKey +
					"\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n\r\n\r\n0\r\n\r\n")
			}, "kicked by the administrator"},
			{"a reason", func() (int, string) { return b.admin("POST", path, `{"reason":"account review"}`) }, "account review"},
		} {
			alice := b.launch("alice", "alice-phone")
			status, body := tc.kick()
			require.Equal(t, http.StatusOK, status, "%s: %s", tc.name, body)
			require.JSONEq(t, `{"kicked":1}`, body, tc.name)
			f := alice.next()
			require.Equal(t, relay.OpKicked, f.Op, tc.name)
			require.Equal(t, tc.reason, f.Reason, tc.name)
			<-alice.conn.Done()
		}
		status, body := b.admin("POST", path, `{"reason":`)
		require.Equal(t, http.StatusBadRequest, status, body)
	})
}

// raw sends a hand-written HTTP/1.1 request to the relay and returns the answer's status and body.
func (b *bubble) raw(request string) (int, string) {
	b.t.Helper()
	conn, err := b.ln.Dial(context.Background(), "tcp", "relay.test:80")
	require.NoError(b.t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, request)
	require.NoError(b.t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(out)
}

// TestUpdatesWithoutSecretsKeepTheStoredOnes: PUT of an app without secretKey keeps its secret
// (its UserSigs still verify), PUT of a certificate with neither serviceAccount nor serverKey
// keeps its credentials; a create still needs them, and a new secret replaces the old one.
func TestUpdatesWithoutSecretsKeepTheStoredOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		b.provision()
		apps := fmt.Sprintf("/admin/v1/apps/%d", appID)

		status, body := b.admin("PUT", apps, `{"name":"Renamed","loginPolicy":"multi","caps":{"perMinute":7}}`)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"name":"Renamed"`)
		require.Contains(t, body, `"perMinute":7`)
		alice := b.launch("alice", "alice-phone") // signed with the secret given at creation

		status, body = b.admin("PUT", fmt.Sprintf("%s/certificates/%d", apps, certID), `{"packageName":"com.example.renamed","senderId":"42"}`)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"api":"v1"`)
		require.Contains(t, body, `"projectId":"demo"`, "the service account is kept")
		require.Contains(t, body, `"packageName":"com.example.renamed"`)

		status, body = b.admin("PUT", fmt.Sprintf("%s/certificates/%d", apps, certID), `{"packageName":"com.example.renamed","channelId":"chat_messages"}`)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"channelId":"chat_messages"`, "the default Android channel is set and shown")
		status, body = b.admin("PUT", fmt.Sprintf("%s/certificates/%d", apps, certID), `{"packageName":"com.example.renamed","channelId":"Chat messages"}`)
		require.Equal(t, http.StatusBadRequest, status, body)
		require.Contains(t, body, `channelId \"Chat messages\": expected the ID of a NotificationChannel the app created`)
		status, body = b.admin("POST", apps+"/messages", `{"from":"bob","to":"alice","text":"x","offlinePush":{"android":{"clickAction":"OPEN CHAT"}}}`)
		require.Equal(t, http.StatusBadRequest, status, body)
		require.Contains(t, body, "offlinePush.android.clickAction")

		status, body = b.admin("POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"name":"no secret"}`, appID+1))
		require.Equal(t, http.StatusBadRequest, status, "a create needs a secret: %s", body)
		status, body = b.admin("POST", apps+"/certificates", `{"id":9,"packageName":"com.example.im"}`)
		require.Equal(t, http.StatusBadRequest, status, "a create needs credentials: %s", body)

		status, body = b.admin("PUT", apps, `{"secretKey":"another-secret-0123456789"}`)
		require.Equal(t, http.StatusOK, status, body)
		c := b.dial()
		sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: "bob", Expire: time.Now().Add(time.Hour).Unix()})
		require.Error(t, c.Login(context.Background(), appID, "bob", sig, "bob-phone", "android"), "the old secret no longer signs")
		c.Close()
		alice.conn.Close()
	})
}

// The profiles, the execution trace among them, answer only with the admin key.
func TestProfilesNeedTheAdminKey(t *testing.T) {
	b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=0.01"} {
		status, body := b.request("GET", path, "", "")
		require.Equal(t, http.StatusUnauthorized, status, "%s: %s", path, body)
	}
	status, body := b.admin("GET", "/debug/pprof/trace?seconds=0.01", "")
	require.Equal(t, http.StatusOK, status, body)
	require.NotEmpty(t, body, "an execution trace")
}
