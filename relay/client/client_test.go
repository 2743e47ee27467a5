package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pushlab/pushlab/internal/httpserver"
	"github.com/pushlab/pushlab/internal/memnet"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/server"
)

// Every connection's reader goroutine ends with its connection, however the connection ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

const (
	appID     = uint64(1400000001)
	appSecret = "client-test-secret-0123"
	adminKey  = "client-test-admin-key-0123"
)

// nopSender accepts every push.
type nopSender struct{}

func (nopSender) Set(context.Context, relay.Certificate) error { return nil }
func (nopSender) Remove(int64)                                 {}
func (nopSender) Send(_ context.Context, p relay.Push) relay.PushResult {
	return relay.PushResult{ID: p.ID, Name: fmt.Sprint(p.ID)}
}

// memRelay is a relay served in memory (inside a synctest bubble), with an admin client.
type memRelay struct {
	srv   *server.Server
	hs    *http.Server
	ln    *memnet.Listener
	admin *client.Admin
}

// startMemRelay serves a relay on a memory store that accepts every push, and creates the app.
func startMemRelay(t *testing.T) memRelay {
	t.Helper()
	ln := memnet.Listen()
	srv, err := server.New(context.Background(), server.Config{Store: relay.NewMemoryStore(), Sender: nopSender{}, AdminKey: secret.New(adminKey)})
	require.NoError(t, err)
	hs := httpserver.New(srv.Handler())
	go hs.Serve(ln)
	r := memRelay{srv: srv, hs: hs, ln: ln, admin: &client.Admin{BaseURL: "http://relay.test", Key: adminKey, HTTP: ln.HTTPClient()}}
	require.NoError(t, r.admin.PutApp(context.Background(), relay.AppConfig{SDKAppID: appID, SecretKey: secret.New(appSecret), LoginPolicy: relay.PolicyMulti}))
	return r
}

// stop closes the relay, its HTTP server and its listener.
func (r memRelay) stop() {
	r.srv.Close()
	_ = r.hs.Shutdown(context.Background())
	r.ln.Close()
}

// TestConnectionsEndCleanlyHoweverTheyEnd: a connection closed by the client (Close, Drop), by
// the relay (a kick), or by the relay going away, ends its reader, fails its pending and later
// requests with ErrClosed, and closes Events; the admin client answers refusals as AdminError.
func TestConnectionsEndCleanlyHoweverTheyEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r := startMemRelay(t)
		srv, hs, ln, admin := r.srv, r.hs, r.ln, r.admin
		var ae *client.AdminError
		require.True(t, errors.As((&client.Admin{BaseURL: admin.BaseURL, Key: "wrong-key-0123456789", HTTP: admin.HTTP}).PutApp(ctx,
			relay.AppConfig{SDKAppID: 5, SecretKey: secret.New(appSecret)}), &ae))
		require.Equal(t, http.StatusUnauthorized, ae.Status)

		dial := func(user string) *client.Conn {
			c, err := client.Dial(ctx, "http://relay.test", client.Options{Dialer: &websocket.Dialer{NetDialContext: ln.Dial}})
			require.NoError(t, err)
			sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: user, Expire: time.Now().Add(time.Hour).Unix()})
			require.NoError(t, c.Login(ctx, appID, user, sig, user+"-phone", "android"))
			return c
		}
		ended := func(c *client.Conn, what string) {
			t.Helper()
			<-c.Done()
			_, err := c.Request(ctx, relay.ClientFrame{Op: relay.OpPing})
			require.ErrorIs(t, err, client.ErrClosed, what)
			for range c.Events() { // closed once the connection has ended
			}
		}

		closed := dial("alice")
		require.NoError(t, closed.Close())
		ended(closed, "Close")

		dropped := dial("bob")
		require.NoError(t, dropped.Drop())
		ended(dropped, "Drop")

		kicked := dial("carol")
		require.NoError(t, admin.Kick(ctx, appID, "carol"))
		f := <-kicked.Events()
		require.Equal(t, relay.OpKicked, f.Op)
		ended(kicked, "kicked")
		var ce *websocket.CloseError
		require.True(t, errors.As(kicked.Err(), &ce), "%v", kicked.Err())

		// A connection the relay closes as it goes away ends too.
		orphan := dial("dave")
		srv.Close()
		ended(orphan, "relay closed")
		require.NoError(t, hs.Shutdown(ctx))
		ln.Close()
	})
}

// TestPutCertificateCreatesThenReplaces: PutCertificate sends a relay.Certificate's fields —
// credentials, sender ID, endpoint, channel — creating the certificate, and replaces it when it
// exists (the relay answers the create 409); the relay shows the secrets masked.
func TestPutCertificateCreatesThenReplaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r := startMemRelay(t)
		defer r.stop()
		admin := r.admin
		certs := func() []relay.CertificateView {
			var out struct{ Certificates []relay.CertificateView }
			require.NoError(t, admin.Do(ctx, http.MethodGet, client.CertificatesPath(appID), nil, &out))
			return out.Certificates
		}

		const serviceAccount = `{"type":"service_account","project_id":"demo","private_key_id":"abcd0123456789",` +
			`"private_key":"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n","client_email":"relay@demo.iam.gserviceaccount.com"}`
		require.NoError(t, admin.PutCertificate(ctx, relay.Certificate{SDKAppID: appID, ID: 7, PackageName: "com.example.im",
			SenderID: "123456789012", ServiceAccount: secret.New(serviceAccount), Endpoint: "http://fcm.test", ChannelID: "messages"}))
		got := certs()
		require.Len(t, got, 1)
		require.Equal(t, relay.CertificateView{ID: 7, SDKAppID: appID, Platform: "google", PackageName: "com.example.im",
			SenderID: "123456789012", API: "v1", ProjectID: "demo", ClientEmail: "relay@demo.iam.gserviceaccount.com", KeyID: "abcd…",
			Endpoint: "http://fcm.test", ChannelID: "messages", Check: relay.CertCheck{Status: "unchecked"}}, got[0])

		require.NoError(t, admin.PutCertificate(ctx, relay.Certificate{SDKAppID: appID, ID: 7, PackageName: "com.example.im",
			ServerKey: secret.New("AAAA-legacy-server-key-0123")}))
		got = certs()
		require.Len(t, got, 1)
		require.True(t, strings.HasSuffix(got[0].ServerKey, "0123"), "masked to its last characters: %q", got[0].ServerKey)
		require.NotContains(t, got[0].ServerKey, "AAAA-legacy", "masked")
		// A replacement is the whole certificate: no sender ID, endpoint or channel left over.
		require.Equal(t, relay.CertificateView{ID: 7, SDKAppID: appID, Platform: "google", PackageName: "com.example.im", API: "legacy",
			ServerKey: got[0].ServerKey, Check: got[0].Check}, got[0]) // the check: a legacy key meant for Google fails it

		err := admin.PutCertificate(ctx, relay.Certificate{SDKAppID: appID, ID: 8, PackageName: "com.example.im", ServiceAccount: secret.New("not json")})
		require.ErrorContains(t, err, "put certificate 8 of app 1400000001: serviceAccount is not JSON")
		require.NotContains(t, err.Error(), "not json", "the credentials stay out of the error")
	})
}
