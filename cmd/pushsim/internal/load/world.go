package load

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim"
)

// RunVirtual puts the same load on the relay and fakefcm cores in the simulator: virtual time,
// the simulated network's latencies, no memory figure. It answers "what does the relay decide
// under this load" in seconds for loads that would take minutes live.
func RunVirtual(cfg Config) (reports.Load, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return reports.Load{}, err
	}
	if cfg.RelayURL != "" {
		return reports.Load{}, fmt.Errorf("--relay and --fcm are for the live mode")
	}
	lifted := relay.Caps{PerMinute: 1_000_000, PerHour: 1_000_000, Burst: 1_000_000, Refill: 1_000_000}
	w, err := sim.NewVirtual(sim.VirtualConfig{Seed: cfg.Seed, Lean: true, FastPushes: true,
		Relay: relay.Config{FramesPerSecond: 10_000, FrameBurst: 10_000}})
	if err != nil {
		return reports.Load{}, err
	}
	if err := w.AddApp(relay.AppConfig{SDKAppID: loadApp, SecretKey: secret.New(loadSecret), LoginPolicy: relay.PolicyMulti, Caps: lifted}); err != nil {
		return reports.Load{}, err
	}
	senderID, err := w.AddCertificate(sim.CertificateSpec{ID: loadCert, SDKAppID: loadApp, PackageName: loadPackage, API: "v1"})
	if err != nil {
		return reports.Load{}, err
	}
	start := w.Now()
	m := newMeter(start)
	w.OnObserve(func(_ *sim.Device, o sim.Observation) {
		if o.Kind == sim.ObsPush {
			m.arrived(o.Text, o.At)
		}
	})
	total := cfg.Devices + cfg.Senders
	phones := make([]*sim.Device, total)
	for i := range phones {
		user := fmt.Sprintf("load-u%d", i)
		if i >= cfg.Devices {
			user = fmt.Sprintf("load-s%d", i-cfg.Devices)
		}
		phones[i] = w.AddDevice(sim.DeviceConfig{ID: "phone-" + user, User: user, SDKAppID: loadApp, AppSecret: loadSecret,
			CertificateID: loadCert, SenderID: senderID, Package: loadPackage, Installed: true})
	}
	w.Engine().RunUntil(w.Now().Add(time.Second))
	for _, p := range phones {
		p.Login(true)
	}
	w.Engine().RunUntil(w.Now().Add(5 * time.Second))
	killed := 0
	for i, p := range phones[:cfg.Devices] {
		if cfg.killed(i) {
			p.Kill()
			killed++
		}
	}
	w.Engine().RunUntil(w.Now().Add(time.Second))
	connected := 0
	for _, p := range phones {
		if p.LoggedIn() {
			connected++
		}
	}
	m.connected, m.peak = connected, connected

	// Messages at the rate, from the senders in turn, to random targets.
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x10ad))
	sendStart := w.Now()
	m.startSending(sendStart)
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	n := int(cfg.Duration / interval)
	for k := range n {
		at := sendStart.Add(time.Duration(k) * interval)
		from := phones[cfg.Devices+k%cfg.Senders]
		to := phones[rng.IntN(cfg.Devices)]
		text := fmt.Sprintf("L%d", k)
		w.Engine().At(at, func() {
			m.sending(text, w.Now())
			if from.Send(relay.ClientFrame{To: to.User(), Text: text}) {
				m.acknowledged(w.Now())
			} else {
				m.error(fmt.Errorf("sender %s is not logged in", from.ID()))
			}
		})
	}
	prev := w.Now()
	for sec := 1; sec <= int((cfg.Duration + drainLongest).Seconds()); sec++ {
		w.Engine().RunUntil(sendStart.Add(time.Duration(sec) * time.Second))
		now := w.Now()
		s := m.sample(now, now.Sub(prev))
		prev = now
		if cfg.Progress != nil {
			phase := PhaseSend
			if now.Sub(sendStart) > cfg.Duration {
				phase = PhaseDrain
			}
			cfg.Progress(phase, s)
		}
	}
	return m.result(cfg, cfg.Duration, 0), nil
}
