package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/logbuf"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/testca"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/sender"
	"github.com/pushlab/pushlab/relay/sqlitestore"
)

// live is a relay and a fakefcm running as real HTTP servers on loopback, the relay on SQLite and
// pushing through the firebase Admin SDK.
type live struct {
	t      *testing.T
	fcm    *fcmserver.Listening
	fcmc   *control.Client
	creds  control.ProjectCredentials
	relay  *Listening
	dbPath string
	// ca, when set, is the test CA both servers' certificates come from: they serve TLS, and
	// every client (apps, admin, the relay's FCM sender and its OAuth) trusts ca alone.
	ca     *testca.CA
	http   *http.Client
	dialer *websocket.Dialer
	// log, when set before the relay starts, receives the relay's log lines.
	log *logbuf.Buffer
}

// The two ways servers are reached: plain HTTP (loopback, tests) and TLS (staging).
const (
	plainHTTP = "plain"
	overTLS   = "tls"
)

// clientTLS is a client TLS configuration trusting l's CA, or nil (Go's default) over plain HTTP.
func (l *live) clientTLS() *tls.Config {
	if l.ca == nil {
		return nil
	}
	return l.ca.ClientConfig()
}

// serverTLS is a server TLS configuration with a certificate of l's CA, or nil for plain HTTP.
func (l *live) serverTLS() *tls.Config {
	if l.ca == nil {
		return nil
	}
	return l.ca.ServerConfig()
}

func startLive(t *testing.T, mode string) *live { return startLiveLogged(t, mode, nil) }

// startLiveLogged is startLive with the relay's log lines written to log (nil: discarded).
func startLiveLogged(t *testing.T, mode string, log *logbuf.Buffer) *live {
	t.Helper()
	l := &live{t: t, dbPath: filepath.Join(t.TempDir(), "relay.db"), log: log}
	if mode == overTLS {
		l.ca = testca.New(t)
	}
	l.http = &http.Client{Transport: &http.Transport{TLSClientConfig: l.clientTLS()}}
	l.dialer = &websocket.Dialer{TLSClientConfig: l.clientTLS(), HandshakeTimeout: 10 * time.Second}
	fcm, err := fcmserver.ListenTLS("127.0.0.1:0", fcmserver.Config{Core: fakefcm.Config{Seed: 5}}, l.serverTLS())
	require.NoError(t, err)
	t.Cleanup(func() { fcm.Shutdown(context.Background()) })
	l.fcm, l.fcmc = fcm, &control.Client{BaseURL: fcm.URL, HTTP: l.http, Dialer: l.dialer}
	l.creds, err = l.fcmc.CreateProject(context.Background(), control.CreateProjectRequest{ProjectID: "demo", PackageNames: []string{"com.example.im"}})
	require.NoError(t, err)
	l.startRelay()
	status, body := l.admin("POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"secretKey":%q}`, appID, appSecret))
	require.Equal(t, http.StatusCreated, status, body)
	status, body = l.admin("POST", fmt.Sprintf("/admin/v1/apps/%d/certificates", appID),
		fmt.Sprintf(`{"id":%d,"packageName":"com.example.im","senderId":%q,"serviceAccount":%s,"endpoint":%q}`, certID, l.creds.SenderID, l.creds.ServiceAccount, fcm.URL))
	require.Equal(t, http.StatusCreated, status, body)
	require.NotContains(t, body, "PRIVATE KEY")
	return l
}

func (l *live) startRelay() {
	l.t.Helper()
	store, err := sqlitestore.Open(l.dbPath)
	require.NoError(l.t, err)
	// Over TLS the sender reaches fakefcm (OAuth through the service account's https token_uri,
	// and the sends) trusting the test CA alone.
	var transport http.RoundTripper
	if l.ca != nil {
		transport = &http.Transport{TLSClientConfig: l.clientTLS()}
	}
	cfg := Config{Store: store, Sender: sender.New(sender.Config{Transport: transport}), AdminKey: secret.New(adminKey)}
	if l.log != nil {
		cfg.Logger = l.log.Logger(slog.LevelDebug)
	}
	r, err := ListenTLS(context.Background(), "127.0.0.1:0", cfg, l.serverTLS())
	require.NoError(l.t, err)
	l.relay = r
	l.t.Cleanup(func() {
		r.Shutdown(context.Background())
		store.Close()
	})
}

// restartRelay stops the relay and starts a new one on the same SQLite file.
func (l *live) restartRelay() {
	l.t.Helper()
	require.NoError(l.t, l.relay.Shutdown(context.Background()))
	l.startRelay()
}

func (l *live) admin(method, path, body string) (int, string) {
	l.t.Helper()
	req, err := http.NewRequest(method, l.relay.URL+path, strings.NewReader(body))
	require.NoError(l.t, err)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := l.http.Do(req)
	require.NoError(l.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(l.t, err)
	return resp.StatusCode, string(b)
}

// phone is a simulated phone: an FCM registration with its device channel, and an app
// connection to the relay.
type phone struct {
	l      *live
	user   string
	dev    string
	token  string
	pushes chan fakefcm.RemoteMessage
	ch     *control.DeviceChannel
	app    *client.Conn
}

func (l *live) phone(user, dev string) *phone {
	l.t.Helper()
	ctx := context.Background()
	tok, err := l.fcmc.RegisterDevice(ctx, l.creds.SenderID, "com.example.im")
	require.NoError(l.t, err)
	ch, err := l.fcmc.Connect(ctx, tok)
	require.NoError(l.t, err)
	p := &phone{l: l, user: user, dev: dev, token: tok, pushes: make(chan fakefcm.RemoteMessage, 16), ch: ch}
	go func() {
		for {
			f, err := ch.Receive()
			if err != nil {
				return
			}
			if f.Message != nil {
				_ = ch.Ack(f.Message.MessageID)
				p.pushes <- *f.Message
			}
		}
	}()
	l.t.Cleanup(func() { ch.Close() })
	p.launch()
	return p
}

// launch connects the app, logs in and reports the token, as the app does after every login.
func (p *phone) launch() {
	p.l.t.Helper()
	ctx := context.Background()
	app, err := client.Dial(ctx, p.l.relay.URL, client.Options{Dialer: p.l.dialer})
	require.NoError(p.l.t, err)
	sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: p.user, Expire: time.Now().Add(time.Hour).Unix()})
	require.NoError(p.l.t, app.Login(ctx, appID, p.user, sig, p.dev, "android"))
	_, err = app.Do(ctx, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: certID, Token: p.token})
	require.NoError(p.l.t, err)
	_, err = app.Do(ctx, relay.ClientFrame{Op: relay.OpSync})
	require.NoError(p.l.t, err)
	p.app = app
	p.l.t.Cleanup(func() { app.Drop() })
}

func (p *phone) send(to, text string) {
	p.l.t.Helper()
	_, err := p.app.Do(context.Background(), relay.ClientFrame{Op: relay.OpSend, To: to, Text: text})
	require.NoError(p.l.t, err)
}

// push waits for the next notification on the phone's device channel.
func (p *phone) push() fakefcm.RemoteMessage {
	p.l.t.Helper()
	select {
	case m := <-p.pushes:
		return m
	case <-time.After(10 * time.Second):
		p.l.t.Fatalf("%s: no push within 10s", p.dev)
		return fakefcm.RemoteMessage{}
	}
}

// fcmRecords lists what fakefcm received for the phone's token.
func (p *phone) fcmRecords() []fakefcm.Record {
	recs, err := p.l.fcmc.Messages(context.Background(), fakefcm.RecordFilter{Token: p.token})
	require.NoError(p.l.t, err)
	return recs
}

// TestEndToEndKilledLoggedOutKickedAndRestart runs the push flow — killed, restarted, logged out,
// kicked — over plain HTTP and over TLS (wss:// and https:// for apps and the admin API, https://
// for the relay's FCM sends and OAuth).
func TestEndToEndKilledLoggedOutKickedAndRestart(t *testing.T) {
	for _, mode := range []string{plainHTTP, overTLS} {
		t.Run(mode, func(t *testing.T) {
			l := startLive(t, mode)
			if mode == overTLS {
				require.True(t, strings.HasPrefix(l.relay.URL, "https://") && strings.HasPrefix(l.fcm.URL, "https://"), "relay %s, fakefcm %s", l.relay.URL, l.fcm.URL)
				var sa struct {
					TokenURI string `json:"token_uri"`
				}
				require.NoError(t, json.Unmarshal(l.creds.ServiceAccount, &sa))
				require.Equal(t, l.fcm.URL+"/token", sa.TokenURI, "OAuth goes over TLS too")
				// A client that does not trust the test CA is refused: the relay really checks out as TLS.
				_, err := client.Dial(context.Background(), l.relay.URL, client.Options{})
				require.ErrorContains(t, err, "certificate signed by unknown authority")
			}
			alice := l.phone("alice", "alice-phone")
			bob := l.phone("bob", "bob-phone")

			// Killed: the app's connection is gone without a logout; the push arrives through FCM.
			require.NoError(t, alice.app.Drop())
			bob.send("alice", "are you there?")
			m := alice.push()
			require.Equal(t, "bob", m.Notification.Title)
			require.Equal(t, "are you there?", m.Notification.Body)
			require.Equal(t, "c2c_bob", m.CollapseKey)
			require.Equal(t, "high", m.Priority)
			require.Equal(t, 1, *m.Notification.NotificationCount)

			// The relay restarts on the same SQLite file: alice is still logged in, killed and bound.
			l.restartRelay()
			bob.launch()
			bob.send("alice", "after the restart")
			require.Equal(t, "after the restart", alice.push().Notification.Body)

			// Logged out: nothing more is pushed.
			alice.launch()
			_, err := alice.app.Do(context.Background(), relay.ClientFrame{Op: relay.OpLogout})
			require.NoError(t, err)
			require.NoError(t, alice.app.Drop())
			before := len(alice.fcmRecords())
			bob.send("alice", "after logout")

			// Kicked: carol logs in on a second phone (single-platform); her first phone, killed, is
			// kicked offline and loses its binding.
			carol := l.phone("carol", "carol-phone-1")
			require.NoError(t, carol.app.Drop())
			l.phone("carol", "carol-phone-2")
			carolBefore := len(carol.fcmRecords())
			bob.send("carol", "to carol")

			// Everything the relay decided is in its trace once the last send is answered.
			status, body := l.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/push-trace?userId=carol&deviceId=carol-phone-1", appID), "")
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, body, `"reason":"kicked"`)
			status, body = l.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/push-trace?userId=alice", appID), "")
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, body, `"reason":"logged-out"`)
			require.Len(t, alice.fcmRecords(), before, "no push after logout")
			require.Len(t, carol.fcmRecords(), carolBefore, "no push after a kick")
		})
	}
}

// TestUninstallCleansUpTheBindingInMemory runs the relay (on SQLite, pushing through the Admin
// SDK) and fakefcm on an in-memory network inside a synctest bubble, so that every asynchronous
// step — the push, FCM's UNREGISTERED, the binding's removal — has settled at synctest.Wait.
func TestUninstallCleansUpTheBindingInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		b := startFCMBubble(t)
		tok := b.registerDevice()
		alice := b.loginWithToken("alice", "alice-phone", "android", tok)
		require.NoError(t, alice.Drop())
		require.NoError(t, b.fcmc.Uninstall(ctx, tok)) // the app is uninstalled: FCM forgets the token

		bob := b.launch("bob", "bob-phone")
		bob.send("alice", "1")
		synctest.Wait()
		status, body := b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/users/alice", appID), "")
		require.Equal(t, http.StatusOK, status)
		_, trace := b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/push-trace?userId=alice", appID), "")
		require.NotContains(t, body, `"binding"`, "FCM said UNREGISTERED: the binding is gone; trace: %s", trace)
		bob.send("alice", "2")
		status, body = b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/push-trace?userId=alice", appID), "")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `"reason":"fcm-UNREGISTERED"`)
		require.Contains(t, body, `"reason":"no-binding"`)
		recs, err := b.fcmc.Messages(ctx, fakefcm.RecordFilter{Token: tok})
		require.NoError(t, err)
		require.Len(t, recs, 1, "one attempt, refused; nothing after")
		bob.conn.Close()
	})
}
