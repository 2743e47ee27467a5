package natsbus_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pushlab/pushlab/relay/cluster"
	"github.com/pushlab/pushlab/relay/cluster/clustertest"
	"github.com/pushlab/pushlab/relay/cluster/natsbus"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	user     = "relay"
	password = "s3cret-pass"
)

// startServer starts an embedded NATS server on 127.0.0.1 at port (server.RANDOM_PORT for any),
// with a user and password, and shuts it down when the test ends (or earlier, by its caller).
func startServer(t *testing.T, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true, Username: user, Password: password})
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	require.True(t, s.ReadyForConnections(5*time.Second), "NATS did not start")
	return s
}

func serverURL(s *server.Server) string {
	return fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", user, password, s.Addr().(*net.TCPAddr).Port)
}

// logs is a slog handler that keeps every record's message and attributes as one line and lets a
// test wait for a message.
type logs struct {
	mu    sync.Mutex
	lines []string
	wake  chan struct{}
}

func newLogs() *logs { return &logs{wake: make(chan struct{}, 1)} }

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) WithAttrs(as []slog.Attr) slog.Handler    { return &withAttrs{l, as} }
func (l *logs) WithGroup(string) slog.Handler            { return l }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	return l.handle(r, nil)
}

func (l *logs) handle(r slog.Record, pre []slog.Attr) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range pre {
		fmt.Fprintf(&b, " %s", a)
	}
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s", a); return true })
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

// count is how many lines start with msg.
func (l *logs) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.HasPrefix(line, msg) {
			n++
		}
	}
	return n
}

// waitFor waits until n lines start with msg, or ctx ends.
func (l *logs) waitFor(ctx context.Context, msg string, n int) error {
	for l.count(msg) < n {
		select {
		case <-l.wake:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d %q: %w", n, msg, ctx.Err())
		}
	}
	return nil
}

func (l *logs) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

type withAttrs struct {
	l  *logs
	as []slog.Attr
}

func (w *withAttrs) Enabled(context.Context, slog.Level) bool { return true }
func (w *withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{w.l, append(append([]slog.Attr(nil), w.as...), as...)}
}
func (w *withAttrs) WithGroup(string) slog.Handler                 { return w }
func (w *withAttrs) Handle(_ context.Context, r slog.Record) error { return w.l.handle(r, w.as) }

func connect(t *testing.T, url, name string, l *logs) *natsbus.Bus {
	t.Helper()
	b, err := natsbus.Connect(natsbus.Config{URL: url, Name: name, ReconnectWait: 20 * time.Millisecond, Logger: slog.New(l)})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return b
}

func TestNATSBusBehaviour(t *testing.T) {
	clustertest.RunBus(t, func(t *testing.T) (cluster.Bus, cluster.Bus) {
		s := startServer(t, server.RANDOM_PORT)
		return connect(t, serverURL(s), "node-a", newLogs()), connect(t, serverURL(s), "node-b", newLogs())
	})
}

// The server goes away and comes back on the same port: both nodes reconnect by themselves, the
// owner's subscription is restored, and a request after that is answered. The password is never
// in the logs.
func TestNATSBusSurvivesServerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := startServer(t, server.RANDOM_PORT)
	port := s.Addr().(*net.TCPAddr).Port
	la, lb := newLogs(), newLogs()
	a, b := connect(t, serverURL(s), "node-a", la), connect(t, serverURL(s), "node-b", lb)
	subject := cluster.PartitionSubject("test", 4)
	unsub, err := b.Subscribe(subject, func(m cluster.Msg) { _ = m.Reply(append([]byte("ok:"), m.Data...)) })
	require.NoError(t, err)
	defer func() { require.NoError(t, unsub()) }()
	back, err := a.Request(ctx, subject, []byte("1"))
	require.NoError(t, err)
	require.Equal(t, "ok:1", string(back))

	s.Shutdown()
	s.WaitForShutdown()
	require.NoError(t, la.waitFor(ctx, "nats disconnected", 1))
	require.NoError(t, lb.waitFor(ctx, "nats disconnected", 1))
	startServer(t, port)
	require.NoError(t, la.waitFor(ctx, "nats reconnected", 1))
	require.NoError(t, lb.waitFor(ctx, "nats reconnected", 1))
	require.NoError(t, b.Flush(ctx), "the owner's subscription is back on the server")
	back, err = a.Request(ctx, subject, []byte("2"))
	require.NoError(t, err)
	require.Equal(t, "ok:2", string(back))

	for _, l := range []*logs{la, lb} {
		all := l.all()
		require.Contains(t, all, "nats connected")
		require.Contains(t, all, "127.0.0.1")
		require.NotContains(t, all, password)
	}
}

func TestConnectFailureNamesNoPassword(t *testing.T) {
	// A port nothing listens on: take one and let it go.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = natsbus.Connect(natsbus.Config{URL: "nats://" + user + ":" + password + "@" + addr, ConnectTimeout: time.Second, Logger: slog.New(newLogs())})
	require.Error(t, err)
	require.NotContains(t, err.Error(), password)
	require.Contains(t, err.Error(), addr)
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":      "nats://127.0.0.1:4222",
		"nats://u:p@h:1":             "nats://u:xxxxx@h:1",
		"nats://tok@h:1":             "nats://xxxxx@h:1",
		"nats://u:p@a:1, nats://b:2": "nats://u:xxxxx@a:1,nats://b:2",
		"nats://u:p%zz@h:1":          "(unparsable URL)",
	} {
		require.Equal(t, want, natsbus.RedactURL(in), in)
	}
}

// A node shutting down may close its bus before undoing its subscriptions: that is no error,
// but subscribing on a closed bus is.
func TestUnsubscribeAfterClose(t *testing.T) {
	s := startServer(t, server.RANDOM_PORT)
	b := connect(t, serverURL(s), "node-a", newLogs())
	unsub, err := b.Subscribe("pushlab.test.p.0", func(cluster.Msg) {})
	require.NoError(t, err)
	b.Close()
	require.NoError(t, unsub())
	_, err = b.Subscribe("pushlab.test.p.0", func(cluster.Msg) {})
	require.Error(t, err)
}
