package perf

import (
	"fmt"
	"time"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// CoreDecisionsConfig sizes the push-decision measurement.
type CoreDecisionsConfig struct {
	Users  int           // killed-but-logged-in, bound users; default 10,000
	Rounds int           // default 5
	Round  time.Duration // default 1 s
}

// MeasureCoreDecisions measures push decisions per second in the relay core alone: one-to-one
// messages between killed, bound users, each making a decision for the recipient's device and
// one for the sender's own (echo). Records are dropped as a shell would after persisting them.
func MeasureCoreDecisions(cfg CoreDecisionsConfig) ([]float64, error) {
	if cfg.Users == 0 {
		cfg.Users = 10_000
	}
	if cfg.Rounds == 0 {
		cfg.Rounds = 5
	}
	if cfg.Round == 0 {
		cfg.Round = time.Second
	}
	core, err := relay.New(relay.Config{FramesPerSecond: 1_000_000, FrameBurst: 1_000_000}, nil)
	if err != nil {
		return nil, err
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const app, secretKey, cert = 1400000001, "bench-secret-0123456789", 1
	if _, err := core.PutApp(now, relay.AppConfig{SDKAppID: app, SecretKey: secret.New(secretKey), LoginPolicy: relay.PolicyMulti}, true); err != nil {
		return nil, err
	}
	if _, err := core.PutCertificate(now, relay.Certificate{ID: cert, SDKAppID: app, Platform: "google", PackageName: "com.example.im",
		ServerKey: secret.New("AAAA-bench")}, true); err != nil {
		return nil, err
	}
	sender := relay.ConnID(cfg.Users + 1)
	for i := 0; i <= cfg.Users; i++ {
		id := relay.ConnID(i + 1)
		user := fmt.Sprintf("u%d", i)
		core.Open(now, id)
		sig := relay.MakeUserSig(secretKey, relay.UserSigClaims{SDKAppID: app, UserID: user, Expire: now.Add(time.Hour).Unix()})
		core.Receive(now, id, relay.ClientFrame{Op: relay.OpLogin, ID: 1, SDKAppID: app, UserID: user, UserSig: sig, DeviceID: "phone"})
		core.Receive(now, id, relay.ClientFrame{Op: relay.OpSetPushToken, ID: 2, CertificateID: cert, Token: "tok-" + user})
		if id != sender {
			core.Closed(now, id)
		}
	}
	core.TakeReady()
	var rates []float64
	next := 0
	for range cfg.Rounds {
		decisions := 0
		start := time.Now()
		for time.Since(start) < cfg.Round {
			for range 1000 {
				core.Receive(now, sender, relay.ClientFrame{Op: relay.OpSend, ID: 3, To: fmt.Sprintf("u%d", next%cfg.Users), Text: "hello"})
				next++
			}
			now = now.Add(time.Second) // keep the sender's heartbeat and caps moving
			core.Tick(now)
			rd := core.TakeReady()
			for _, e := range rd.Trace {
				if len(e.Reason) < 4 || e.Reason[:4] != "fcm-" {
					decisions++
				}
			}
			for _, p := range rd.Pushes {
				core.PushResult(now, relay.PushResult{ID: p.ID, Name: "ok"})
			}
			core.TakeReady()
		}
		rates = append(rates, float64(decisions)/time.Since(start).Seconds())
	}
	return rates, nil
}

// CoreDecisionsFigure reports the push-decision rate.
func CoreDecisionsFigure(rates []float64) Figure {
	m := Median(rates)
	return Figure{Name: "relay core push decisions/s", Value: m, Unit: "/s", Goal: "-", Met: true,
		Note: fmt.Sprintf("%d rounds; 10,000 killed bound users; decision + FCM answer, no I/O", len(rates))}
}
