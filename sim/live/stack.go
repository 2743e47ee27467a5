// Package live holds the live and remote twins of the world port (sim.World): simulated phones
// over real sockets, on the real clock, against a relay and a fakefcm — the embedded ones of a
// Stack this package starts, or ones running elsewhere. It also owns that Stack: the one start-up
// of an embedded relay and fakefcm that pushsim's live runs, serve, demo and load, and the tests,
// share.
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/httpserver"
	"github.com/pushlab/pushlab/internal/memnet"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/sender"
	relayserver "github.com/pushlab/pushlab/relay/server"
	"github.com/pushlab/pushlab/relay/sqlitestore"
	"github.com/pushlab/pushlab/sim"
)

// MemoryDB names the relay's in-memory store in StackConfig.DB.
const MemoryDB = ":memory:"

// StackConfig is what an embedded stack is started with. Zero fields take the defaults.
type StackConfig struct {
	// Seed feeds both cores (each its own sub-seed).
	Seed uint64
	// Relay and FCM configure the two cores.
	Relay relay.Config
	FCM   fakefcm.Behaviour
	// FCMConfig, when set, is fakefcm's whole core config (records kept, …); Seed and FCM are
	// then not applied to it.
	FCMConfig *fakefcm.Config
	// FCMOnly starts fakefcm alone, without a relay.
	FCMOnly bool
	// DB is the relay's SQLite file; empty means a file in a temporary folder removed at Close;
	// MemoryDB keeps the relay's state in memory (it survives RestartRelay, not the process).
	DB string
	// RelayAddr and FCMAddr are TCP addresses to listen on (default "127.0.0.1:0", a free port).
	RelayAddr, FCMAddr string
	// InMemory serves both on in-memory listeners (internal/memnet) instead of TCP: for tests in
	// a testing/synctest bubble. Clients must then use the Stack's HTTP client and Dialer.
	InMemory bool
	// AdminKey is the relay's admin key (a fixed development key when empty).
	AdminKey string
	// SendWorkers is the relay's number of concurrent sends to FCM (0: the relay's default).
	SendWorkers int
	// Tap observes the relay core's inputs and answers (the property tests).
	Tap relayserver.Tap
	// Logger receives both servers' log lines; nil discards them.
	Logger *slog.Logger
}

// DevAdminKey is the admin key of a stack started without one: not a secret, for loopback runs.
const DevAdminKey = "pushsim-embedded-admin-key"

// Stack is an embedded relay and fakefcm, serving until Close.
type Stack struct {
	// RelayURL and FCMURL are where the servers answer ("http://127.0.0.1:…", or "http://relay"
	// and "http://fakefcm" in memory); RelayURL is empty for an FCM-only stack.
	RelayURL, FCMURL string
	// AdminKey is the relay's admin key.
	AdminKey string
	// HTTP and Dialer reach both servers (through memory when InMemory).
	HTTP   *http.Client
	Dialer *websocket.Dialer
	// Admin and Control are clients of the relay's admin API and fakefcm's control API.
	Admin   *client.Admin
	Control *control.Client

	cfg      StackConfig
	fcm      *fcmserver.Server
	fcmServe *httpserver.Serving
	fcmLn    net.Listener

	mu         sync.Mutex // guards the relay across RestartRelay
	relay      *relayserver.Server
	relayServe *httpserver.Serving
	relayLn    net.Listener
	relayMem   atomic.Pointer[memnet.Listener] // the relay's in-memory listener (a new one per restart)
	store      relay.Store
	closeStore func() error
	tmp        string
	// fcmLink carries the relay's sends to FCM, and can be cut.
	fcmLink *cuttableTransport
}

// StartStack starts fakefcm and (unless FCMOnly) a relay whose certificates may point at it.
func StartStack(ctx context.Context, cfg StackConfig) (_ *Stack, err error) {
	if cfg.AdminKey == "" {
		cfg.AdminKey = DevAdminKey
	}
	for _, a := range []*string{&cfg.RelayAddr, &cfg.FCMAddr} {
		if *a == "" {
			*a = "127.0.0.1:0"
		}
	}
	s := &Stack{cfg: cfg, AdminKey: cfg.AdminKey}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if cfg.InMemory {
		fcmMem := memnet.Listen()
		s.relayMem.Store(memnet.Listen())
		// One dial function for every client: the host says which listener.
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasPrefix(addr, "relay:") {
				return s.relayMem.Load().Dial(ctx, network, addr)
			}
			return fcmMem.Dial(ctx, network, addr)
		}
		s.HTTP = &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
		s.Dialer = &websocket.Dialer{NetDialContext: dial, HandshakeTimeout: 10 * time.Second}
		s.fcmLn, s.FCMURL = fcmMem, "http://fakefcm"
		s.RelayURL = "http://relay"
	} else {
		s.HTTP = &http.Client{Timeout: 30 * time.Second}
		s.Dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
		if s.fcmLn, err = net.Listen("tcp", cfg.FCMAddr); err != nil {
			return nil, fmt.Errorf("fakefcm listen %s: %w", cfg.FCMAddr, err)
		}
		s.FCMURL = "http://" + s.fcmLn.Addr().String()
	}

	fcmCfg := fakefcm.Config{Seed: sim.SubSeed(cfg.Seed, "fakefcm"), Behaviour: cfg.FCM}
	if cfg.FCMConfig != nil {
		fcmCfg = *cfg.FCMConfig
	}
	if s.fcm, err = fcmserver.New(fcmserver.Config{Core: fcmCfg, BaseURL: s.FCMURL, Logger: cfg.Logger}); err != nil {
		s.fcmLn.Close()
		s.fcmLn = nil
		return nil, err
	}
	s.fcmServe = httpserver.Serve(s.fcmLn, s.fcm.Handler(), s.fcm.Close)
	s.Control = &control.Client{BaseURL: s.FCMURL, HTTP: s.HTTP, Dialer: s.Dialer}
	if cfg.FCMOnly {
		s.RelayURL = ""
		return s, nil
	}

	if err := s.openStore(); err != nil {
		return nil, err
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.InMemory {
		base = &http.Transport{DialContext: s.HTTP.Transport.(*http.Transport).DialContext, DisableKeepAlives: true}
	}
	s.fcmLink = &cuttableTransport{next: base}
	if !cfg.InMemory {
		if s.relayLn, err = net.Listen("tcp", cfg.RelayAddr); err != nil {
			return nil, fmt.Errorf("relay listen %s: %w", cfg.RelayAddr, err)
		}
		s.RelayURL = "http://" + s.relayLn.Addr().String()
	}
	if err := s.startRelay(ctx); err != nil {
		return nil, err
	}
	s.Admin = &client.Admin{BaseURL: s.RelayURL, Key: cfg.AdminKey, HTTP: s.HTTP}
	return s, nil
}

// openStore opens the relay's store as the config says.
func (s *Stack) openStore() error {
	if s.cfg.DB == MemoryDB {
		s.store = relay.NewMemoryStore()
		return nil
	}
	path := s.cfg.DB
	if path == "" {
		var err error
		if s.tmp, err = os.MkdirTemp("", "pushsim-live-"); err != nil {
			return err
		}
		path = filepath.Join(s.tmp, "relay.db")
	} else if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	st, err := sqlitestore.Open(path)
	if err != nil {
		return err
	}
	s.store, s.closeStore = st, st.Close
	return nil
}

// startRelay starts a relay server on the store and serves it on the relay's listener.
func (s *Stack) startRelay(ctx context.Context) error {
	cfg := s.cfg.Relay
	cfg.Seed = sim.SubSeed(s.cfg.Seed, "relay")
	rs, err := relayserver.New(ctx, relayserver.Config{Core: cfg, Store: s.store,
		Sender:   sender.New(sender.Config{Transport: s.fcmLink, Logger: s.cfg.Logger}),
		AdminKey: secret.New(s.cfg.AdminKey), Logger: s.cfg.Logger, SendWorkers: s.cfg.SendWorkers, Tap: s.cfg.Tap})
	if err != nil {
		return err
	}
	var ln net.Listener = s.relayLn
	if s.cfg.InMemory {
		ln = s.relayMem.Load()
	}
	s.relay, s.relayServe = rs, httpserver.Serve(ln, rs.Handler(), rs.Close)
	return nil
}

// Relay is the running relay server (nil for an FCM-only stack).
func (s *Stack) Relay() *relayserver.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.relay
}

// Store is the relay's store (nil for an FCM-only stack).
func (s *Stack) Store() relay.Store { return s.store }

// RelayDone is closed when the relay stops by itself (its store failed); nil (never ready) for
// a stack without a relay, or once closed.
func (s *Stack) RelayDone() <-chan struct{} {
	if r := s.Relay(); r != nil {
		return r.Done()
	}
	return nil
}

// RestartTap is a Tap (StackConfig.Tap) that is also told when RestartRelay has stopped the
// relay, before the new one starts.
type RestartTap interface {
	Restarted(now time.Time)
}

// RestartRelay stops the relay as a crash would (connections drop, pushes in flight are
// forgotten) and starts a new one on the same store and address.
func (s *Stack) RestartRelay(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.relay == nil {
		return errors.New("restart the relay: this stack has none (FCM only, closed, or its last restart failed)")
	}
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = s.relayServe.Shutdown(stopCtx)
	s.relay, s.relayServe, s.relayLn = nil, nil, nil
	// The old relay's loop has stopped: a tap that keeps track of connections hears of it
	// before the new relay opens any (it numbers its connections afresh).
	if rt, ok := s.cfg.Tap.(RestartTap); ok {
		rt.Restarted(time.Now())
	}
	if s.cfg.InMemory {
		s.relayMem.Store(memnet.Listen()) // the old one closed with its server
	} else {
		ln, err := net.Listen("tcp", strings.TrimPrefix(s.RelayURL, "http://"))
		if err != nil {
			return fmt.Errorf("restart the relay: %w", err)
		}
		s.relayLn = ln
	}
	if err := s.startRelay(ctx); err != nil {
		if s.relayLn != nil {
			_ = s.relayLn.Close() // nobody will serve it
			s.relayLn = nil
		}
		return fmt.Errorf("restart the relay: %w", err)
	}
	return nil
}

// CutFCM cuts (or heals) the relay's link to fakefcm: a send goes nowhere and waits until the
// sender's own timeout gives up on it, as over a partitioned network.
func (s *Stack) CutFCM(cut bool) error {
	if s.fcmLink == nil {
		return errors.New("cut the relay's link to FCM: this stack has no relay")
	}
	s.fcmLink.cut.Store(cut)
	return nil
}

// Close stops both servers and removes what the stack wrote in a temporary folder.
func (s *Stack) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	s.mu.Lock()
	if s.relayServe != nil {
		errs = append(errs, s.relayServe.Shutdown(ctx))
	} else if s.relayLn != nil {
		errs = append(errs, s.relayLn.Close())
	}
	s.relayServe, s.relay = nil, nil
	s.mu.Unlock()
	if l := s.relayMem.Load(); l != nil {
		_ = l.Close()
	}
	if s.closeStore != nil {
		errs = append(errs, s.closeStore())
		s.closeStore = nil
	}
	if s.fcmServe != nil {
		errs = append(errs, s.fcmServe.Shutdown(ctx))
		s.fcmServe = nil
	} else if s.fcmLn != nil {
		_ = s.fcmLn.Close()
	}
	if s.tmp != "" {
		errs = append(errs, os.RemoveAll(s.tmp))
		s.tmp = ""
	}
	return errors.Join(errs...)
}

// cuttableTransport is the embedded relay's HTTP transport to FCM. Cut, a request goes nowhere:
// it waits until the sender's own timeout gives up on it, as over a partitioned network.
type cuttableTransport struct {
	next http.RoundTripper
	cut  atomic.Bool
}

func (t *cuttableTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.cut.Load() {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		<-r.Context().Done()
		return nil, fmt.Errorf("partitioned from FCM: %w", r.Context().Err())
	}
	return t.next.RoundTrip(r)
}
