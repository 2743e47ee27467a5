package perf

import (
	"context"
	"fmt"
	"time"

	"github.com/pushlab/pushlab/cmd/relay/relayproc"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// RelayMemoryConfig sizes the idle-connection memory measurement.
type RelayMemoryConfig struct {
	RelayBin    string // the relay binary; empty finds it (relayproc.Locate)
	Connections int    // logged-in idle connections; default 2,000
}

// benchAdminKey and benchSecret are throwaway credentials of measurement relays.
const (
	benchAdminKey = "bench-admin-key-0123456789"
	benchSecret   = "bench-secret-0123456789"
	benchApp      = uint64(1400000001)
)

// MeasureRelayIdleMemory runs the relay in its own process, logs in N idle connections from this
// one, and reports the relay's resident memory per connection (RSS delta / N).
func MeasureRelayIdleMemory(ctx context.Context, cfg RelayMemoryConfig) (float64, error) {
	if cfg.Connections == 0 {
		cfg.Connections = 2000
	}
	p, err := relayproc.Start(ctx, relayproc.Options{Bin: cfg.RelayBin, AdminKey: benchAdminKey})
	if err != nil {
		return 0, err
	}
	defer p.Kill()
	admin := &client.Admin{BaseURL: p.URL, Key: benchAdminKey}
	if err := admin.PutApp(ctx, relay.AppConfig{SDKAppID: benchApp, SecretKey: secret.New(benchSecret), LoginPolicy: relay.PolicyMulti}); err != nil {
		return 0, err
	}
	var conns []*client.Conn
	defer func() {
		for _, c := range conns {
			c.Drop()
		}
	}()
	open := func(n int) error {
		for range n {
			c, err := client.Dial(ctx, p.URL, client.Options{Events: 4})
			if err != nil {
				return err
			}
			conns = append(conns, c)
			user := fmt.Sprintf("u%d", len(conns))
			sig := relay.MakeUserSig(benchSecret, relay.UserSigClaims{SDKAppID: benchApp, UserID: user, Expire: time.Now().Add(time.Hour).Unix()})
			if err := c.Login(ctx, benchApp, user, sig, "phone", "android"); err != nil {
				return err
			}
		}
		return nil
	}
	if err := open(100); err != nil { // warm up: the runtime's first allocations are not per connection
		return 0, err
	}
	time.Sleep(500 * time.Millisecond)
	before, err := p.RSS()
	if err != nil {
		return 0, err
	}
	if err := open(cfg.Connections); err != nil {
		return 0, err
	}
	time.Sleep(time.Second) // let the relay settle before reading its memory
	after, err := p.RSS()
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(cfg.Connections), nil
}

// RelayMemoryFigure reports bytes per idle connection against the goal of 8 KiB.
func RelayMemoryFigure(perConn []float64, n int) Figure {
	m := Median(perConn)
	return Figure{Name: "relay memory per idle connection", Value: m / 1024, Unit: "KiB", Goal: "≤ 8", Met: m <= 8*1024,
		Note: fmt.Sprintf("RSS delta of a relay process over %d logged-in connections, %d runs", n, len(perConn))}
}
