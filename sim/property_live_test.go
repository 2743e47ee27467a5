// The race detector of Go 1.26 crashes on this test (SIGSEGV inside ThreadSanitizer's runtime,
// __tsan::SlotLock or StackDepot::Put, in about one run in three): long synctest bubbles with
// many goroutines are what it cannot take. The shells it drives are race-tested by the
// relay/server and fakefcm/server suites; this property runs without -race (make test runs it
// so, as a step of its own).

//go:build !race

package sim_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/memnet"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/sender"
	relayserver "github.com/pushlab/pushlab/relay/server"
	"github.com/pushlab/pushlab/sim"
)

const (
	liveAdminKey = "property-admin-key-0123456789"
	// liveChecks and liveSteps keep the live property short: each check starts real servers.
	liveChecks = 40
	liveSteps  = 16
)

// liveDriver acts on the real relay and fakefcm shells, their HTTP and WebSocket servers on
// in-memory listeners inside a synctest bubble, so that hours pass in fake time.
type liveDriver struct {
	mu    *sync.Mutex // guards the model: the relay's loop, the devices and the test all reach it
	m     *model
	lw    *sim.LiveWorld
	admin *client.Admin
	fcm   *control.Client
}

func (l *liveDriver) do(fn func()) { l.lw.Do(fn) }

func (l *liveDriver) model(fn func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn()
}

func (l *liveDriver) wait(d time.Duration) {
	time.Sleep(d) // fake time: it passes as soon as every goroutine of the bubble is blocked
	synctest.Wait()
}

func (l *liveDriver) kick(user string) {
	if err := l.admin.Kick(context.Background(), propApp, user); err != nil {
		panic(err)
	}
	synctest.Wait()
}

func (l *liveDriver) addFault(rule fakefcm.FaultRule) {
	if err := l.fcm.AddFaults(context.Background(), []fakefcm.FaultRule{rule}); err != nil {
		panic(err)
	}
}

func (l *liveDriver) clearFaults() {
	if err := l.fcm.ClearFaults(context.Background()); err != nil {
		panic(err)
	}
}

func (l *liveDriver) restart() error {
	return fmt.Errorf("the live property does not restart its relay")
}

// liveTap feeds the relay shell's inputs and answers to the model.
type liveTap struct {
	mu *sync.Mutex
	m  *model
}

func (t liveTap) Input(now time.Time, in relay.Input) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch in.Kind {
	case relay.InputOpen:
		t.m.tap(sim.TapEvent{Kind: sim.TapOpened, Time: now, Conn: in.Conn})
	case relay.InputReceive:
		t.m.tap(sim.TapEvent{Kind: sim.TapReceived, Time: now, Conn: in.Conn, Frame: in.Frame})
	case relay.InputClosed:
		t.m.tap(sim.TapEvent{Kind: sim.TapClosed, Time: now, Conn: in.Conn})
	case relay.InputPushResult:
		t.m.tap(sim.TapEvent{Kind: sim.TapResult, Time: now, Result: in.Result})
	case relay.InputKick:
		t.m.kick(in.User)
	}
}

func (t liveTap) Ready(now time.Time, rd *relay.Ready) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m.tap(sim.TapEvent{Kind: sim.TapReady, Time: now, Ready: rd})
}

// liveWorld is one check's servers and phones.
type liveWorld struct {
	*propRun
	closers []func()
}

// newLiveWorld starts fakefcm and the relay (with a memory store) on in-memory listeners,
// provisions the app, its certificate and group through their HTTP APIs, and adds the phones.
func newLiveWorld(t require.TestingT, spec worldSpec, r *reach) *liveWorld {
	ctx := context.Background()
	lw := &liveWorld{}
	fcmLn, relayLn := memnet.Listen(), memnet.Listen()
	// One dial function for every client: the host says which listener.
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "relay:") {
			return relayLn.Dial(ctx, network, addr)
		}
		return fcmLn.Dial(ctx, network, addr)
	}
	httpClient := &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	dialer := &websocket.Dialer{NetDialContext: dial, HandshakeTimeout: 10 * time.Second}

	fs, err := fcmserver.New(fcmserver.Config{Core: fakefcm.Config{Seed: sim.SubSeed(spec.Seed, "fakefcm"), Behaviour: spec.FCM},
		BaseURL: "http://fakefcm"})
	require.NoError(t, err)
	fhs := &http.Server{Handler: fs.Handler()}
	go func() { _ = fhs.Serve(fcmLn) }()

	mu := &sync.Mutex{}
	m := newModel(spec.Policy, spec.Caps, r)
	rs, err := relayserver.New(ctx, relayserver.Config{
		Core:     relay.Config{Seed: sim.SubSeed(spec.Seed, "relay")},
		Store:    relay.NewMemoryStore(),
		Sender:   sender.New(sender.Config{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}),
		AdminKey: secret.New(liveAdminKey),
		Tap:      liveTap{mu: mu, m: m},
	})
	require.NoError(t, err)
	rhs := &http.Server{Handler: rs.Handler()}
	go func() { _ = rhs.Serve(relayLn) }()

	world := sim.NewLiveWorld(sim.LiveConfig{RelayURL: "http://relay", FCMURL: "http://fakefcm", Seed: spec.Seed,
		Dialer: dialer, HTTP: httpClient})
	drv := &liveDriver{mu: mu, m: m, lw: world,
		admin: &client.Admin{BaseURL: "http://relay", Key: liveAdminKey, HTTP: httpClient},
		fcm:   &control.Client{BaseURL: "http://fakefcm", HTTP: httpClient, Dialer: dialer}}
	lw.propRun = &propRun{spec: spec, drv: drv, m: m}
	lw.closers = []func(){
		world.Close,
		func() { _ = rs.Close(); _ = rhs.Shutdown(ctx); _ = relayLn.Close() },
		func() { _ = fs.Close(); _ = fhs.Shutdown(ctx); _ = fcmLn.Close() },
	}
	world.OnObserve(func(d *sim.Device, o sim.Observation) {
		mu.Lock()
		defer mu.Unlock()
		if m.devs[d.ID()] != nil { // the install at AddDevice comes before the model knows it
			m.observed(d, o)
		}
	})

	require.NoError(t, drv.admin.PutApp(ctx, relay.AppConfig{SDKAppID: propApp, SecretKey: secret.New(propSecret), LoginPolicy: spec.Policy, Caps: spec.Caps}))
	creds, err := drv.fcm.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "property", PackageNames: []string{propPackage}})
	require.NoError(t, err)
	require.NoError(t, drv.admin.PutCertificate(ctx, propApp, propCert, propPackage, creds.ServiceAccount, "", "http://fakefcm"))
	if len(spec.Group) > 0 {
		require.NoError(t, drv.admin.PutGroup(ctx, propApp, propGroup, spec.Group))
	}
	world.Do(func() {
		for _, d := range spec.Devices {
			dev := world.AddDevice(sim.DeviceConfig{ID: d.ID, User: d.User, Platform: d.Platform, SDKAppID: propApp, AppSecret: propSecret,
				CertificateID: propCert, SenderID: creds.SenderID, Package: propPackage, Installed: true})
			lw.devs = append(lw.devs, dev)
			mu.Lock()
			m.addDevice(dev)
			mu.Unlock()
		}
	})
	drv.wait(time.Second)
	return lw
}

func (lw *liveWorld) close() {
	for _, c := range lw.closers {
		c()
	}
	synctest.Wait()
}

// bubbleT is a *testing.T inside a synctest bubble, where Deadline is not available: rapid asks
// for it, and gets "no deadline".
type bubbleT struct{ *testing.T }

func (bubbleT) Deadline() (time.Time, bool) { return time.Time{}, false }

// TestPropertyLiveShells runs the same vocabulary against the real relay and fakefcm shells
// (WebSockets, HTTP, the Admin SDK, the send workers), with fewer and shorter runs, and holds
// them to invariants 1–4 (and 5's immediate half). Fake time in a synctest bubble lets a run
// wait hours; nothing sleeps for real.
func TestPropertyLiveShells(t *testing.T) {
	r := &reach{}
	synctest.Test(t, func(t *testing.T) {
		checks := 0
		rapid.Check(bubbleT{t}, func(rt *rapid.T) {
			if checks++; checks > liveChecks {
				return // rapid's check count is global; the live property runs fewer
			}
			spec := drawSpec(rt)
			for i := range spec.LoggedIn {
				spec.LoggedIn[i] = true // short runs: start where pushes happen
			}
			lw := newLiveWorld(rt, spec, r)
			defer lw.close()
			lw.start()
			actions := lw.actions()
			// No restarts, and no waits of hours: rapid counts its time budget on the bubble's
			// fake clock, so a live run must stay well under an hour of it.
			delete(actions, "restart")
			delete(actions, "waitLong")
			for i := range 6 {
				actions[fmt.Sprintf("killThenBurst#live%d", i)] = actions["killThenBurst"]
			}
			keys := make([]string, 0, len(actions))
			for k := range actions {
				if k != "" {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for range rapid.IntRange(1, liveSteps).Draw(rt, "steps") {
				actions[rapid.SampledFrom(keys).Draw(rt, "action")](rt)
				lw.check(rt)
			}
			lw.settleFor(10 * time.Minute)
			lw.drv.do(func() { lw.drv.model(func() { invariantEveryDeviceCaughtUp(lw.m) }) })
			recs, err := lw.drv.(*liveDriver).fcm.Messages(context.Background(), fakefcm.RecordFilter{})
			require.NoError(rt, err)
			lw.drv.model(func() { invariantNoThrottle(lw.m, recs) })
			lw.check(rt)
		})
	})
	if !t.Failed() {
		t.Logf("reach: %+v", *r)
		require.Positive(t, r.pushToKilled, "the live runs never pushed a killed device")
	}
}
