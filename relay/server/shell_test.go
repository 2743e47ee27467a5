package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/httpserver"
	"github.com/pushlab/pushlab/internal/memnet"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

const (
	appID     = uint64(1400000001)
	appSecret = "app-secret-0123456789"
	adminKey  = "admin-key-0123456789"
	certID    = int64(6768)
	baseURL   = "http://relay.test"
)

// fakeSender answers pushes the way a test says and keeps them.
type fakeSender struct {
	mu     sync.Mutex
	pushes []relay.Push
	certs  map[int64]relay.Certificate
	answer func(relay.Push) relay.PushResult
}

func (f *fakeSender) Set(_ context.Context, c relay.Certificate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.certs == nil {
		f.certs = map[int64]relay.Certificate{}
	}
	f.certs[c.ID] = c
	return nil
}

func (f *fakeSender) Remove(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.certs, id)
}

func (f *fakeSender) Send(_ context.Context, p relay.Push) relay.PushResult {
	f.mu.Lock()
	f.pushes = append(f.pushes, p)
	answer := f.answer
	f.mu.Unlock()
	if answer != nil {
		return answer(p)
	}
	return relay.PushResult{ID: p.ID, Name: fmt.Sprintf("projects/demo/messages/%d", p.ID)}
}

func (f *fakeSender) sent() []relay.Push {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]relay.Push(nil), f.pushes...)
}

// bubble is a relay on an in-memory network inside a synctest bubble.
type bubble struct {
	t      *testing.T
	srv    *Server
	ln     *memnet.Listener
	http   *http.Client
	sender *fakeSender
	store  relay.Store
}

// startRelay starts a relay on the store; opts adjust the shell's Config (MaxConnections, …).
// A *relay.MemoryStore is run as a StagedStore whose commits go through at once (a gatedStore
// never held), so that the shell's tests run the loop as it runs on SQLite, committing a batch
// while it takes in the next events; inLine(store) runs the loop as it runs on the memory store.
func startRelay(t *testing.T, store relay.Store, cfg relay.Config, opts ...func(*Config)) *bubble {
	t.Helper()
	if ms, ok := store.(*relay.MemoryStore); ok {
		store = newGatedStore(ms)
	}
	b := &bubble{t: t, ln: memnet.Listen(), sender: &fakeSender{}, store: store}
	sc := Config{Core: cfg, Store: store, Sender: b.sender, AdminKey: secret.New(adminKey)}
	for _, o := range opts {
		o(&sc)
	}
	srv, err := New(context.Background(), sc)
	require.NoError(t, err)
	b.srv = srv
	// The HTTP server Listen uses, so that its limits against slow clients are what tests meet.
	hs := httpserver.New(srv.Handler())
	go hs.Serve(b.ln)
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, hs.Shutdown(context.Background()))
		b.ln.Close()
	})
	b.http = b.ln.HTTPClient()
	return b
}

// inLineStore is a store the loop writes in line, each batch before it takes in the next
// events: it hides the Stage of the store it holds.
type inLineStore struct{ relay.Store }

// inLine is store written in line by the loop (see startRelay).
func inLine(store relay.Store) relay.Store { return inLineStore{store} }

// eachLoop runs test in a synctest bubble on each of the loop's two ways of storing a batch: in
// line (the memory store) and committed while the next events are taken in (a StagedStore).
func eachLoop(t *testing.T, test func(t *testing.T, store relay.Store)) {
	for _, loop := range []struct {
		name  string
		store func() relay.Store
	}{
		{"in line", func() relay.Store { return inLine(relay.NewMemoryStore()) }},
		{"pipelined", func() relay.Store { return relay.NewMemoryStore() }}, // see startRelay
	} {
		t.Run(loop.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { test(t, loop.store()) })
		})
	}
}

// provision creates the test app and certificate through the admin API.
func (b *bubble) provision() {
	b.t.Helper()
	status, body := b.admin("POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"secretKey":%q,"name":"Demo"}`, appID, appSecret))
	require.Equal(b.t, http.StatusCreated, status, body)
	status, body = b.admin("POST", fmt.Sprintf("/admin/v1/apps/%d/certificates", appID), fmt.Sprintf(`{"id":%d,"packageName":"com.example.im","serviceAccount":{"type":"service_account","project_id":"demo","private_key":"-----BEGIN PRIVATE KEY-----\nsecret-material\n-----END PRIVATE KEY-----\n","client_email":"x@demo.iam.gserviceaccount.com","private_key_id":"0123456789abcdef"}}`, certID))
	require.Equal(b.t, http.StatusCreated, status, body)
}

// admin calls the admin API with the admin key.
func (b *bubble) admin(method, path, body string) (int, string) {
	return b.request(method, path, "Bearer "+adminKey, body)
}

func (b *bubble) request(method, path, auth, body string) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, baseURL+path, strings.NewReader(body))
	require.NoError(b.t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := b.http.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(out)
}

// app is a client that logs in, reports its token and syncs, like the app does on launch.
type app struct {
	b    *bubble
	conn *client.Conn
	user string
	dev  string
	last uint64
}

func (b *bubble) dial() *client.Conn {
	b.t.Helper()
	c, err := client.Dial(context.Background(), baseURL, client.Options{Dialer: &websocket.Dialer{NetDialContext: b.ln.Dial}})
	require.NoError(b.t, err)
	return c
}

func (b *bubble) launch(user, dev string) *app {
	b.t.Helper()
	a := &app{b: b, conn: b.dial(), user: user, dev: dev}
	ctx := context.Background()
	sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: user, Expire: time.Now().Add(time.Hour).Unix()})
	require.NoError(b.t, a.conn.Login(ctx, appID, user, sig, dev, "android"))
	_, err := a.conn.Do(ctx, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: certID, Token: "tok-" + dev})
	require.NoError(b.t, err)
	r, err := a.conn.Do(ctx, relay.ClientFrame{Op: relay.OpSync, Since: a.last})
	require.NoError(b.t, err)
	for _, m := range r.Msgs {
		a.last = m.Seq
	}
	return a
}

func (a *app) send(to, text string) {
	a.b.t.Helper()
	_, err := a.conn.Do(context.Background(), relay.ClientFrame{Op: relay.OpSend, To: to, Text: text})
	require.NoError(a.b.t, err)
}

// next waits for the next event frame.
func (a *app) next() relay.ServerFrame {
	a.b.t.Helper()
	f, ok := <-a.conn.Events()
	require.True(a.b.t, ok, "connection ended: %v", a.conn.Err())
	return f
}

func TestMessagesFlowOverWebSocketsAndKilledDevicesArePushed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		b.provision()
		alice := b.launch("alice", "alice-phone")
		bob := b.launch("bob", "bob-phone")
		bob.send("alice", "hello")
		f := alice.next()
		require.Equal(t, relay.OpMsg, f.Op)
		require.Equal(t, "hello", f.Msg.Text)
		require.Equal(t, "c2c_bob", f.Msg.Conv)
		require.NoError(t, alice.conn.Send(relay.ClientFrame{Op: relay.OpAck, Seq: f.Msg.Seq}))
		synctest.Wait()

		require.NoError(t, alice.conn.Drop()) // killed: the connection just ends
		synctest.Wait()
		bob.send("alice", "are you there?")
		synctest.Wait()
		sent := b.sender.sent()
		require.Len(t, sent, 1)
		require.Equal(t, "are you there?", sent[0].Body)
		require.Equal(t, "tok-alice-phone", sent[0].Token)

		status, body := b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/push-trace?userId=alice", appID), "")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `"reason":"fcm-ok"`)
		require.Contains(t, body, `"fcmName":"projects/demo/messages/1"`)
		bob.conn.Close()
	})
}

func TestHalfOpenConnectionIsDeclaredDeadAndItsFramePushed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		b.provision()
		alice := b.launch("alice", "alice-phone")
		bob := b.launch("bob", "bob-phone")
		// alice's network is gone but nothing tells the relay: she just stops talking.
		bob.send("alice", "into the void")
		for range 4 {
			time.Sleep(25 * time.Second)
			require.NoError(t, bob.conn.Send(relay.ClientFrame{Op: relay.OpPing}))
		}
		synctest.Wait()
		sent := b.sender.sent()
		require.Len(t, sent, 1, "the unacknowledged frame is pushed once the deadline passed")
		require.Equal(t, "into the void", sent[0].Body)
		select {
		case <-bob.conn.Done():
			t.Fatal("bob pinged: his connection stays")
		default:
		}
		alice.conn.Drop()
		bob.conn.Close()
	})
}

func TestBadInputIsRefusedAndOthersKeepBeingServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{FramesPerSecond: 5, FrameBurst: 5})
		b.provision()
		bob := b.launch("bob", "bob-phone")
		ctx := context.Background()
		time.Sleep(time.Second) // refill bob's frame budget

		c := b.dial()
		require.NoError(t, c.SendRaw([]byte(`{"op":"ping","id":`)))
		f := <-c.Events()
		require.Equal(t, relay.CodeBadFrame, f.Code)
		r, err := c.Request(ctx, relay.ClientFrame{Op: "dance"})
		require.NoError(t, err)
		require.Equal(t, relay.CodeUnknownOp, r.Code)
		r, err = c.Request(ctx, relay.ClientFrame{Op: relay.OpLogin, SDKAppID: appID, UserID: "eve", UserSig: "forged.sig", DeviceID: "x"})
		require.NoError(t, err)
		require.Equal(t, relay.CodeBadSignature, r.Code)

		big := c
		require.NoError(t, big.SendRaw(bytes.Repeat([]byte("x"), relay.MaxFrameBytes+1)))
		<-big.Done()
		var ce *websocket.CloseError
		require.True(t, errors.As(big.Err(), &ce), "closed with a close frame: %v", big.Err())
		require.Equal(t, relay.CloseTooBig, ce.Code)

		flood := b.dial()
		for range 20 {
			_ = flood.Send(relay.ClientFrame{Op: relay.OpPing})
		}
		<-flood.Done()
		require.True(t, errors.As(flood.Err(), &ce))
		require.Equal(t, relay.ClosePolicy, ce.Code)

		// bob is still served.
		_, err = bob.conn.Do(ctx, relay.ClientFrame{Op: relay.OpSync})
		require.NoError(t, err)
		bob.conn.Close()
	})
}

func TestAdminAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		status, _ := b.request("GET", "/admin/v1/apps", "", "")
		require.Equal(t, http.StatusUnauthorized, status)
		status, _ = b.request("GET", "/admin/v1/apps", "Bearer wrong-key-0000000000", "")
		require.Equal(t, http.StatusUnauthorized, status)
		b.provision()

		status, body := b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/certificates/%d", appID, certID), "")
		require.Equal(t, http.StatusOK, status)
		require.NotContains(t, body, "secret-material", "private keys are never answered")
		require.Contains(t, body, `"privateKeyId":"0123…"`)
		status, body = b.admin("GET", "/admin/v1/apps", "")
		require.Equal(t, http.StatusOK, status)
		require.NotContains(t, body, appSecret)
		require.Contains(t, body, `"loginPolicy":"single-platform"`)

		for _, tc := range []struct {
			method, path, body string
			status             int
		}{
			{"POST", "/admin/v1/apps", `{"sdkAppId":1,"secretKey":"short"}`, 400},
			{"POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"secretKey":%q}`, appID, appSecret), 409},
			{"POST", "/admin/v1/apps", `{"sdkAppId":2,"secretKey":"0123456789abcdefg","bogus":1}`, 400},
			{"GET", "/admin/v1/apps/999", "", 404},
			{"GET", "/admin/v1/apps/abc", "", 400},
			{"POST", fmt.Sprintf("/admin/v1/apps/%d/certificates", appID), `{"packageName":"bad name"}`, 400},
			{"POST", fmt.Sprintf("/admin/v1/apps/%d/certificates", appID), `{"packageName":"com.a.b","serviceAccount":{"type":"nope"}}`, 400},
			{"GET", fmt.Sprintf("/admin/v1/apps/%d/push-trace?from=yesterday", appID), "", 400},
			{"POST", fmt.Sprintf("/admin/v1/apps/%d/messages", appID), `{"to":"alice"}`, 200},
			{"POST", fmt.Sprintf("/admin/v1/apps/%d/messages", appID), `{"text":"no target"}`, 400},
			{"GET", "/admin/v1/nothing", "", 404},
		} {
			status, body := b.admin(tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, status, "%s %s: %s", tc.method, tc.path, body)
			if tc.status >= 300 {
				require.Contains(t, body, `"error"`, "%s %s", tc.method, tc.path)
			}
		}

		alice := b.launch("alice", "alice-phone")
		status, body = b.admin("POST", fmt.Sprintf("/admin/v1/apps/%d/users/alice/kick", appID), "")
		require.Equal(t, http.StatusOK, status, body)
		require.JSONEq(t, `{"kicked":1}`, body)
		f := alice.next()
		require.Equal(t, relay.OpKicked, f.Op)
		<-alice.conn.Done()

		status, body = b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/users/alice", appID), "")
		require.Equal(t, http.StatusOK, status)
		var u relay.UserView
		require.NoError(t, json.Unmarshal([]byte(body), &u))
		require.Equal(t, "kicked", u.Devices[0].Ended)
		require.Nil(t, u.Devices[0].Binding)

		status, body = b.admin("GET", "/metrics", "")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, "relay_messages_stored_total")
		require.NotContains(t, body, appSecret)
	})
}

func TestRestartOnTheSameStoreKeepsLoginsAndBindings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := relay.NewMemoryStore()
		b := startRelay(t, store, relay.Config{})
		b.provision()
		alice := b.launch("alice", "alice-phone")
		alice.conn.Drop() // killed, still logged in
		bob := b.launch("bob", "bob-phone")
		bob.send("alice", "before the restart")
		synctest.Wait()
		bob.conn.Close()
		b.srv.Close()

		b2 := startRelay(t, store, relay.Config{})
		bob2 := b2.launch("bob", "bob-phone")
		bob2.send("alice", "after the restart")
		synctest.Wait()
		sent := b2.sender.sent()
		require.NotEmpty(t, sent)
		require.Equal(t, "after the restart", sent[len(sent)-1].Body, "alice is still logged in, killed and bound")
		alice2 := b2.launch("alice", "alice-phone")
		var texts []string
		r, err := alice2.conn.Do(context.Background(), relay.ClientFrame{Op: relay.OpSync})
		require.NoError(t, err)
		for _, m := range r.Msgs {
			texts = append(texts, m.Text)
		}
		require.Equal(t, []string{"before the restart", "after the restart"}, texts)
		bob2.conn.Close()
		alice2.conn.Close()
	})
}

// failingStore fails every Apply after the first n.
type failingStore struct {
	relay.Store
	mu sync.Mutex
	n  int
}

func (s *failingStore) Apply(ctx context.Context, rs []relay.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return errors.New("disk full")
	}
	s.n--
	return s.Store.Apply(ctx, rs)
}

func TestStoreFailureStopsTheRelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &failingStore{Store: relay.NewMemoryStore(), n: 2}
		b := startRelay(t, store, relay.Config{})
		b.provision() // two applies: app and certificate
		c := b.dial()
		sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: "alice", Expire: time.Now().Add(time.Hour).Unix()})
		err := c.Login(context.Background(), appID, "alice", sig, "p", "android")
		require.Error(t, err, "a login that cannot be stored is not acknowledged")
		<-b.srv.Done()
		require.ErrorContains(t, b.srv.Err(), "disk full")
		status, _ := b.request("GET", "/healthz", "", "")
		require.Equal(t, http.StatusServiceUnavailable, status)
		c.Drop()
	})
}
