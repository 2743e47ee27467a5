package main_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pushlab/pushlab/cmd/relay/relayproc"
	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/logbuf"
	"github.com/pushlab/pushlab/internal/pgtest"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// pg is the throwaway PostgreSQL server of the crash test's PostgreSQL run; TestMain stops it.
var pg pgtest.Shared

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(pg.Wrap(m),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

const (
	crashAdminKey  = "crash-test-admin-key-0123"
	crashApp       = uint64(1400000001)
	crashAppSecret = "crash-test-app-secret-0123"
	v1Cert         = int64(6768)
	legacyCert     = int64(6769)
	// killAfter is how many acknowledged sends the traffic reaches before the relay is killed.
	killAfter = 300
)

// buildRelay compiles cmd/relay into a temporary folder (go's build cache makes it quick after
// the first time).
func buildRelay(t *testing.T) string {
	t.Helper()
	bin, err := relayproc.Build(t.TempDir())
	require.NoError(t, err)
	return bin
}

// logBuffer keeps a relay process's log lines (written from relayproc's reader goroutine).
type logBuffer struct {
	logbuf.Buffer
	written chan struct{} // made by newLogBuffer; has a value after a write waitFor has not seen
}

func newLogBuffer() *logBuffer { return &logBuffer{written: make(chan struct{}, 1)} }

func (l *logBuffer) Write(p []byte) (int, error) {
	n, err := l.Buffer.Write(p)
	select {
	case l.written <- struct{}{}:
	default:
	}
	return n, err
}

// waitFor waits until the log holds s, at most 30 s.
func (l *logBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(l.String(), s) {
		select {
		case <-l.written:
		case <-deadline:
			t.Fatalf("no log line with %q within 30s; log:\n%s", s, l)
		}
	}
}

// crashBench is an in-process fakefcm and a relay process on a SQLite file.
type crashBench struct {
	t     *testing.T
	bin   string
	db    string
	pg    string // the PostgreSQL URL the relay keeps its state in, instead of db
	jnl   string // the journal the relay keeps its state in, instead of db
	cfg   string
	env   []string // added to the relay's environment
	fcm   *fcmserver.Listening
	fcmc  *control.Client
	creds control.ProjectCredentials
	proc  *relayproc.Process
	admin *client.Admin
	logs  *logBuffer
	// http and dialer reach the relay (nil: Go's defaults); a TLS test's trust its test CA.
	http   *http.Client
	dialer *websocket.Dialer
}

func (b *crashBench) start() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := relayproc.Start(ctx, relayproc.Options{Bin: b.bin, DB: b.db, Postgres: b.pg, Journal: b.jnl, Config: b.cfg, Env: b.env, AdminKey: crashAdminKey, Stderr: b.logs})
	require.NoError(b.t, err, "relay log:\n%s", b.logs)
	// However the test ends, no relay process outlives it (Kill after an exit does nothing).
	b.t.Cleanup(func() { _ = p.Kill() })
	b.proc = p
	b.admin = &client.Admin{BaseURL: p.URL, Key: crashAdminKey, HTTP: b.http}
}

// phone is a device: an FCM token with its device channel, and the app's relay connection.
type phone struct {
	user, dev string
	cert      int64
	token     string
	pushes    chan fakefcm.RemoteMessage
	app       *client.Conn
}

func (b *crashBench) phone(user, dev string, cert int64) *phone {
	b.t.Helper()
	ctx := context.Background()
	tok, err := b.fcmc.RegisterDevice(ctx, b.creds.SenderID, "com.example.im")
	require.NoError(b.t, err)
	ch, err := b.fcmc.Connect(ctx, tok)
	require.NoError(b.t, err)
	p := &phone{user: user, dev: dev, cert: cert, token: tok, pushes: make(chan fakefcm.RemoteMessage, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
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
	b.t.Cleanup(func() { ch.Close(); <-done })
	return p
}

// launch opens the app: connect, log in, report the token, sync from since; it returns what the
// sync returned, every page of it.
func (b *crashBench) launch(p *phone, since uint64) []relay.MsgFrame {
	b.t.Helper()
	ctx := context.Background()
	app, err := client.Dial(ctx, b.proc.URL, client.Options{Dialer: b.dialer})
	require.NoError(b.t, err)
	sig := relay.MakeUserSig(crashAppSecret, relay.UserSigClaims{SDKAppID: crashApp, UserID: p.user, Expire: time.Now().Add(time.Hour).Unix()})
	require.NoError(b.t, app.Login(ctx, crashApp, p.user, sig, p.dev, "android"))
	_, err = app.Do(ctx, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: p.cert, Token: p.token})
	require.NoError(b.t, err)
	var msgs []relay.MsgFrame
	for {
		r, err := app.Do(ctx, relay.ClientFrame{Op: relay.OpSync, Since: since})
		require.NoError(b.t, err)
		msgs = append(msgs, r.Msgs...)
		if len(r.Msgs) > 0 {
			since = r.Msgs[len(r.Msgs)-1].Seq
		}
		if !r.More {
			break
		}
	}
	p.app = app
	b.t.Cleanup(func() { app.Drop() })
	return msgs
}

// acked is a send the relay acknowledged: its recipient and message ID, in the sender's order.
type acked struct {
	sender, to, msgID string
}

// waitPush waits for a notification with the given body on the phone's device channel; if none
// comes it says what the relay decided and what fakefcm received.
func (b *crashBench) waitPush(p *phone, body string) {
	b.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m := <-p.pushes:
			if m.Notification != nil && m.Notification.Body == body {
				return
			}
		case <-deadline:
			ctx := context.Background()
			var trace struct {
				Entries []relay.TraceEntry `json:"entries"`
			}
			_ = b.admin.Do(ctx, "GET", fmt.Sprintf("/admin/v1/apps/%d/push-trace?userId=%s&limit=10000", crashApp, p.user), nil, &trace)
			recs, _ := b.fcmc.Messages(ctx, fakefcm.RecordFilter{Token: p.token})
			if n := len(trace.Entries); n > 5 {
				trace.Entries = trace.Entries[n-5:]
			}
			if n := len(recs); n > 3 {
				recs = recs[n-3:]
			}
			b.t.Fatalf("%s: no push %q within 30s; latest trace %+v; latest fakefcm records %+v", p.dev, body, trace.Entries, recs)
		}
	}
}

// TestRelaySurvivesSIGKILLMidTraffic runs the relay binary on a SQLite file, and again on a
// PostgreSQL database, provisions an app and
// two certificates (HTTP v1 and legacy) pointing at an in-process fakefcm, binds phones, and
// drives messages from several app connections and the admin API; after 300 acknowledged sends
// it kills the relay with SIGKILL while the traffic goes on, restarts it on the same store, and
// checks that apps, certificates, bindings and logged-in sessions are as before, that every
// acknowledged message syncs after a relogin (from 0, in order, once), and that phones killed
// while logged in — before the crash, or by it — are pushed again. On SQLite this is the
// guarantee the README states: with WAL and synchronous=NORMAL an acknowledged change survives a
// SIGKILL of the relay (not necessarily a power loss); the journal store promises the same.
func TestRelaySurvivesSIGKILLMidTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the relay binary")
	}
	bin := buildRelay(t)
	t.Run("sqlite", func(t *testing.T) {
		relaySurvivesSIGKILL(t, &crashBench{t: t, bin: bin, db: filepath.Join(t.TempDir(), "relay.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		relaySurvivesSIGKILL(t, &crashBench{t: t, bin: bin, pg: pg.Database(t)})
	})
	t.Run("journal", func(t *testing.T) {
		relaySurvivesSIGKILL(t, &crashBench{t: t, bin: bin, jnl: filepath.Join(t.TempDir(), "relay.journal")})
	})
}

// relaySurvivesSIGKILL is the crash test on the store b names.
func relaySurvivesSIGKILL(t *testing.T, b *crashBench) {
	// fakefcm's per-device throttles off: kate gets hundreds of pushes before the crash, and the
	// one after it must reach her phone, not wait for FCM's collapsible bucket.
	off := fakefcm.Throttles{DevicePerMinute: -1, DevicePerHour: -1, CollapsibleBurst: -1}
	fcm, err := fcmserver.Listen("127.0.0.1:0", fcmserver.Config{Core: fakefcm.Config{Seed: 9, Behaviour: fakefcm.Behaviour{Throttles: off}}})
	require.NoError(t, err)
	t.Cleanup(func() { fcm.Shutdown(context.Background()) })
	b.fcm, b.fcmc, b.logs = fcm, &control.Client{BaseURL: fcm.URL}, newLogBuffer()
	b.cfg = filepath.Join(t.TempDir(), "relay.yaml")
	// The senders go as fast as the relay answers: lift the per-connection frame limit.
	require.NoError(t, os.WriteFile(b.cfg, []byte("relay: {framesPerSecond: 1000000, frameBurst: 1000000}\n"), 0o600))
	ctx := context.Background()
	b.creds, err = b.fcmc.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "demo", PackageNames: []string{"com.example.im"}})
	require.NoError(t, err)
	b.start()
	defer func() {
		if t.Failed() {
			t.Logf("relay log:\n%s", b.logs)
		}
	}()

	// Caps wide open: kate gets hundreds of messages, and the pushes after the crash must not
	// wait for her bucket to refill (caps are stored too).
	caps := relay.Caps{PerMinute: 1_000_000, PerHour: 1_000_000, Burst: 1_000_000, Refill: duration.Of(time.Millisecond)}
	require.NoError(t, b.admin.PutApp(ctx, relay.AppConfig{SDKAppID: crashApp, Name: "Crash", SecretKey: secret.New(crashAppSecret), LoginPolicy: relay.PolicyMulti, Caps: caps}))
	require.NoError(t, b.admin.PutCertificate(ctx, relay.Certificate{SDKAppID: crashApp, ID: v1Cert, PackageName: "com.example.im",
		ServiceAccount: secret.New(string(b.creds.ServiceAccount)), Endpoint: fcm.URL}))
	require.NoError(t, b.admin.PutCertificate(ctx, relay.Certificate{SDKAppID: crashApp, ID: legacyCert, PackageName: "com.example.im",
		ServerKey: secret.New(b.creds.ServerKey), Endpoint: fcm.URL}))

	// kate and luke kill their apps before the crash; alice and carol are online when it comes;
	// bob, dan and eve send.
	kate, luke := b.phone("kate", "kate-phone", v1Cert), b.phone("luke", "luke-phone", legacyCert)
	alice, carol := b.phone("alice", "alice-phone", v1Cert), b.phone("carol", "carol-phone", legacyCert)
	senders := []*phone{b.phone("bob", "bob-phone", v1Cert), b.phone("dan", "dan-phone", v1Cert), b.phone("eve", "eve-phone", v1Cert)}
	for _, p := range []*phone{kate, luke, alice, carol} {
		b.launch(p, 0)
	}
	for _, p := range senders {
		b.launch(p, 0)
	}
	require.NoError(t, kate.app.Drop())
	require.NoError(t, luke.app.Drop())
	for _, p := range []*phone{alice, carol} { // alice and carol read their live frames
		events := p.app.Events() // taken here: launch sets p.app again after the crash
		go func() {
			for range events {
			}
		}()
	}
	before := b.snapshot([]string{"kate", "luke"})

	// The traffic: each sender sends to alice, carol and kate in turn, one message at a time,
	// and an admin client sends server-side messages to alice, until the relay dies.
	var mu sync.Mutex
	var acks []acked
	var count atomic.Int64
	killNow := make(chan struct{})
	var once sync.Once
	ack := func(a acked) {
		mu.Lock()
		acks = append(acks, a)
		mu.Unlock()
		if count.Add(1) == killAfter {
			once.Do(func() { close(killNow) })
		}
	}
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Go(func() {
			for i := 0; ; i++ {
				to := []string{"alice", "carol", "kate"}[i%3]
				r, err := s.app.Do(ctx, relay.ClientFrame{Op: relay.OpSend, To: to, Text: fmt.Sprintf("%s %d", s.user, i), ClientMsgID: fmt.Sprintf("%s-%d", s.user, i)})
				if err != nil {
					return // the relay is gone: this send was never acknowledged
				}
				ack(acked{sender: s.user, to: to, msgID: r.MsgID})
			}
		})
	}
	wg.Go(func() {
		for i := 0; ; i++ {
			var out struct {
				MsgID string `json:"msgId"`
			}
			err := b.admin.Do(ctx, "POST", fmt.Sprintf("/admin/v1/apps/%d/messages", crashApp), map[string]any{"from": "system", "to": "alice", "text": fmt.Sprintf("system %d", i)}, &out)
			if err != nil {
				return
			}
			ack(acked{sender: "system", to: "alice", msgID: out.MsgID})
		}
	})
	select {
	case <-killNow:
	case <-time.After(time.Minute):
		t.Fatalf("only %d sends acknowledged in a minute", count.Load())
	}
	// What the relay's push trace says of kate just before the crash.
	traceBefore, err := b.admin.PushTracePage(ctx, crashApp, client.TraceQuery{UserID: "kate", Limit: client.MaxTracePage})
	require.NoError(t, err)
	require.NoError(t, b.proc.Kill()) // SIGKILL, mid-traffic
	wg.Wait()
	mu.Lock()
	acknowledged := slices.Clone(acks)
	mu.Unlock()
	t.Logf("%d sends acknowledged before SIGKILL (killed after the %dth)", len(acknowledged), killAfter)

	b.start() // the same SQLite file or PostgreSQL database
	after := b.snapshot([]string{"kate", "luke"})
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("apps, certificates, sessions or bindings changed across the crash (-before +after):\n%s", diff)
	}
	// The push trace survives too: every entry read before the crash, and a "pushed" entry for
	// every acknowledged message to kate (killed: each one was pushed, in the batch that stored
	// it, before it was acknowledged).
	traceAfter, err := b.admin.PushTracePage(ctx, crashApp, client.TraceQuery{UserID: "kate", Limit: client.MaxTracePage})
	require.NoError(t, err)
	type traced struct {
		at            time.Time
		reason, msgID string
		pushID        uint64
	}
	kept := map[traced]bool{}
	pushed := map[string]bool{}
	for _, e := range traceAfter.Entries {
		kept[traced{e.Time.UTC(), e.Reason, e.MsgID, e.PushID}] = true
		if e.Reason == relay.ReasonPushed {
			pushed[e.MsgID] = true
		}
	}
	require.NotEmpty(t, traceBefore.Entries)
	for _, e := range traceBefore.Entries {
		require.True(t, kept[traced{e.Time.UTC(), e.Reason, e.MsgID, e.PushID}], "trace entry from before the crash lost: %+v", e)
	}
	toKate := 0
	for _, a := range acknowledged {
		if a.to == "kate" {
			toKate++
			require.True(t, pushed[a.msgID], "kate: message %s from %s was acknowledged before the crash; its push trace is lost", a.msgID, a.sender)
		}
	}
	require.NotZero(t, toKate)
	t.Logf("kate's push trace: %d entries before the crash, %d after the restart; %d acknowledged messages to her", len(traceBefore.Entries), len(traceAfter.Entries), toKate)

	for _, u := range []string{"alice", "carol"} {
		v, err := b.admin.User(ctx, crashApp, u)
		require.NoError(t, err)
		require.Len(t, v.Devices, 1)
		d := v.Devices[0]
		require.True(t, d.LoggedIn && !d.Online && d.Binding != nil, "%s: online at the crash, now killed but logged in and bound: %+v", u, d)
	}

	// Every acknowledged message syncs after a relogin, in order, once.
	synced := map[string][]relay.MsgFrame{}
	for _, p := range []*phone{alice, carol, kate} {
		synced[p.user] = b.launch(p, 0)
		require.NoError(t, p.app.Drop()) // killed again, still logged in
	}
	for user, msgs := range synced {
		at := map[string]int{}
		for i, m := range msgs {
			_, dup := at[m.ID]
			require.False(t, dup, "%s: message %s synced twice", user, m.ID)
			at[m.ID] = i
			if i > 0 {
				require.Greater(t, m.Seq, msgs[i-1].Seq, "%s: sync out of order", user)
			}
		}
		last := map[string]int{} // per sender: the position of its previous acknowledged message
		for _, a := range acknowledged {
			if a.to != user {
				continue
			}
			i, ok := at[a.msgID]
			require.True(t, ok, "%s: message %s from %s was acknowledged before the crash and is lost", user, a.msgID, a.sender)
			if prev, seen := last[a.sender]; seen {
				require.Greater(t, i, prev, "%s: %s's messages out of order", user, a.sender)
			}
			last[a.sender] = i
		}
	}

	// Phones killed while logged in are pushed again: kate and luke (killed before the crash,
	// one on each API) and alice (killed by it).
	bob := senders[0]
	b.launch(bob, 0)
	for _, p := range []*phone{kate, luke, alice} {
		body := "after the crash, for " + p.user
		_, err := bob.app.Do(ctx, relay.ClientFrame{Op: relay.OpSend, To: p.user, Text: body})
		require.NoError(t, err)
		b.waitPush(p, body)
	}
	require.NoError(t, b.proc.Stop())
}

// state is what must survive a crash as it was: apps, certificates, and the sessions and
// bindings of killed phones.
type state struct {
	Apps         []relay.AppView
	Certificates []relay.CertificateView
	Users        []relay.UserView
}

func (b *crashBench) snapshot(users []string) state {
	b.t.Helper()
	ctx := context.Background()
	var s state
	var apps struct {
		Apps []relay.AppView `json:"apps"`
	}
	require.NoError(b.t, b.admin.Do(ctx, "GET", "/admin/v1/apps", nil, &apps))
	s.Apps = apps.Apps
	var certs struct {
		Certificates []relay.CertificateView `json:"certificates"`
	}
	require.NoError(b.t, b.admin.Do(ctx, "GET", fmt.Sprintf("/admin/v1/apps/%d/certificates", crashApp), nil, &certs))
	s.Certificates = certs.Certificates
	require.Len(b.t, s.Certificates, 2)
	for _, u := range users {
		v, err := b.admin.User(ctx, crashApp, u)
		require.NoError(b.t, err)
		for i := range v.Devices {
			require.True(b.t, v.Devices[i].LoggedIn && !v.Devices[i].Online && v.Devices[i].Binding != nil, "%s: killed, logged in and bound: %+v", u, v.Devices[i])
			// Traffic to kate meanwhile moves her inbox, badge and held (capped) pushes on.
			v.Devices[i].Unread, v.Devices[i].Held, v.Devices[i].Caps = 0, 0, relay.CapsView{}
			// Last seen lives in memory only (a write per heartbeat is not worth it): a restart forgets it.
			v.Devices[i].LastSeen = time.Time{}
		}
		v.LastSeq = 0
		s.Users = append(s.Users, v)
	}
	var ae *client.AdminError
	_, err := b.admin.User(ctx, crashApp, "nobody")
	require.True(b.t, errors.As(err, &ae) && ae.Status == 404)
	return s
}
