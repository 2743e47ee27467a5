package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim"
)

const (
	// connectLongest is how long a world's phones may take to get their tokens, log in and report
	// them; phones not there by then count as errors and the load goes on without them.
	connectLongest = time.Minute
	// settleAfterKill lets the relay see the killed phones' connections go.
	settleAfterKill = time.Second
)

// worldRelay is the relay's rules for a load in a world: the per-connection frame limits lifted,
// so that the senders' rate measures the pipeline rather than the limiter.
func worldRelay() relay.Config {
	return relay.Config{FramesPerSecond: 10_000, FrameBurst: 10_000}
}

// RunVirtual puts the same load on the relay and fakefcm cores in the simulator: virtual time,
// the simulated network's latencies, no memory figure. It answers "what does the relay decide
// under this load" in seconds for loads that would take minutes live.
func RunVirtual(ctx context.Context, cfg Config) (reports.Load, error) {
	w, err := sim.NewVirtual(sim.VirtualConfig{Seed: cfg.Seed, Lean: true, FastPushes: true, Relay: worldRelay()})
	if err != nil {
		return reports.Load{}, err
	}
	defer w.Close()
	return RunWorld(ctx, w, cfg)
}

// RunWorld puts the load on any twin of the world port (the virtual world, a live one): phones of
// the simulator's device model, provisioned, driven and read through sim.World alone. Time passes
// through Advance, so the run keeps the world's clock: each send at its exact instant on a
// virtual one; on a real one, the sends whose instant has passed go at once, so lateness does not
// add up. The world must already have the relay's frame limits lifted (worldRelay); the load's
// app lifts its own caps. It has no memory figure: RunLive measures a relay process of its own.
func RunWorld(ctx context.Context, w sim.World, cfg Config) (reports.Load, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return reports.Load{}, err
	}
	if cfg.RelayURL != "" {
		return reports.Load{}, errors.New("a world brings its own servers: RelayURL and FCMURL are for RunLive")
	}
	if set := cfg.startedRelaySettings(); len(set) > 0 {
		return reports.Load{}, fmt.Errorf("%s: settings of the relays RunLive starts; a world brings its own relay", strings.Join(set, ", "))
	}
	if cfg.Procs > 1 || cfg.TLS != nil || cfg.CheckAcked {
		return reports.Load{}, errors.New("Procs, TLS and CheckAcked are for RunLive: a world's phones are in this process and reached through the world")
	}
	if f := w.Features(); f.FCM != sim.FCMWatched {
		return reports.Load{}, fmt.Errorf("the %s world's FCM cannot be watched: the load times pushes on the phones' FCM channels", f.Twin)
	}
	lifted := relay.Caps{PerMinute: 1_000_000, PerHour: 1_000_000, Burst: 1_000_000, Refill: duration.Of(time.Millisecond)}
	if err := w.AddApp(relay.AppConfig{SDKAppID: loadApp, SecretKey: secret.New(loadSecret), LoginPolicy: relay.PolicyMulti, Caps: lifted}); err != nil {
		return reports.Load{}, fmt.Errorf("create the load's app: %w", err)
	}
	senderID, err := w.AddCertificate(sim.CertificateSpec{ID: loadCert, SDKAppID: loadApp, PackageName: loadPackage, API: "v1"})
	if err != nil {
		return reports.Load{}, fmt.Errorf("register the load's certificate: %w", err)
	}
	m := newMeter(w.Now())
	w.OnObserve(func(_ *sim.Device, o sim.Observation) {
		if o.Kind == sim.ObsPush {
			m.arrived(o.Text, o.At)
		}
	})
	defer w.OnObserve(nil)

	// Connect: every phone gets its FCM token, logs in and reports the token; then a share of the
	// phones is killed.
	total := cfg.Devices + cfg.Senders
	phones := make([]*sim.Device, total)
	w.Do(func() {
		for i := range phones {
			user := fmt.Sprintf("load-u%d", i)
			if i >= cfg.Devices {
				user = fmt.Sprintf("load-s%d", i-cfg.Devices)
			}
			phones[i] = w.AddDevice(sim.DeviceConfig{ID: "phone-" + user, User: user, SDKAppID: loadApp, AppSecret: loadSecret,
				CertificateID: loadCert, SenderID: senderID, Package: loadPackage, Installed: true, Lean: true})
		}
	})
	waitAll(w, phones, m, "got no FCM token", func(p *sim.Device) bool { return p.Token() != "" })
	w.Do(func() {
		for _, p := range phones {
			p.Login(true)
		}
	})
	waitAll(w, phones, m, "did not log in and report its token", func(p *sim.Device) bool {
		return p.LoggedIn() && p.PendingRequests() == 0
	})
	connected := loggedIn(w, phones)
	m.mu.Lock()
	m.connected, m.peak = connected, connected
	m.mu.Unlock()
	w.Do(func() {
		for i, p := range phones[:cfg.Devices] {
			if cfg.killed(i) {
				p.Kill()
			}
		}
	})
	w.Advance(settleAfterKill)
	connected = loggedIn(w, phones)
	m.mu.Lock()
	m.connected = connected
	m.mu.Unlock()

	// Send: messages at the rate, from the senders in turn, to random targets; a sample every
	// second, through the drain after the sending until a second passes without a push.
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x10ad))
	sendStart := w.Now()
	m.startSending(sendStart)
	interval := max(time.Duration(float64(time.Second)/cfg.Rate), time.Nanosecond)
	n := int(cfg.Duration / interval)
	sendAt := func(k int) time.Time { return sendStart.Add(time.Duration(k) * interval) }
	k, sec, prev := 0, 1, sendStart
	lastSeconds := int((cfg.Duration + drainLongest).Seconds())
	for sec <= lastSeconds && ctx.Err() == nil {
		now := w.Now()
		if k < n && !sendAt(k).After(now) {
			w.Do(func() {
				for ; k < n && !sendAt(k).After(now); k++ {
					from := phones[cfg.Devices+k%cfg.Senders]
					to := phones[rng.IntN(cfg.Devices)]
					text := fmt.Sprintf("L%d", k)
					m.sending(text, w.Now())
					// Counted as acknowledged when the app takes it: the relay's answer to a
					// send is no observation the port passes on.
					if from.Send(relay.ClientFrame{To: to.User(), Text: text}) {
						m.acknowledged(w.Now())
					} else {
						m.error(fmt.Errorf("sender %s is not logged in", from.ID()))
					}
				}
			})
			continue
		}
		sampleAt := sendStart.Add(time.Duration(sec) * time.Second)
		if sampleAt.After(now) {
			next := sampleAt
			if k < n && sendAt(k).Before(next) {
				next = sendAt(k)
			}
			w.Advance(next.Sub(now))
			continue
		}
		s := m.sample(now, now.Sub(prev))
		prev = now
		draining := now.Sub(sendStart) > cfg.Duration
		if cfg.Progress != nil {
			phase := PhaseSend
			if draining {
				phase = PhaseDrain
			}
			cfg.Progress(phase, s)
		}
		sec++
		if draining && s.Pushes == 0 {
			break
		}
	}
	res := m.result(cfg, cfg.Duration, 0)
	return res.Load, ctx.Err()
}

// waitAll waits (up to connectLongest) until ok holds for every phone, and counts an error for
// each phone it does not hold for by then. Phones are checked in order from the first that has
// not yet passed, so a check costs little however often the world runs it.
func waitAll(w sim.World, phones []*sim.Device, m *meter, what string, ok func(*sim.Device) bool) {
	passed := 0
	w.WaitUntil(w.Now().Add(connectLongest), func() bool {
		w.Do(func() {
			for passed < len(phones) && ok(phones[passed]) {
				passed++
			}
		})
		return passed == len(phones)
	})
	w.Do(func() {
		for _, p := range phones[passed:] {
			if !ok(p) {
				m.error(fmt.Errorf("phone %s %s within %v", p.ID(), what, connectLongest))
			}
		}
	})
}

// loggedIn counts the phones logged in on a connection.
func loggedIn(w sim.World, phones []*sim.Device) int {
	n := 0
	w.Do(func() {
		for _, p := range phones {
			if p.LoggedIn() {
				n++
			}
		}
	})
	return n
}
