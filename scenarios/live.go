package scenarios

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	fcmserver "github.com/pushlab/pushlab/fakefcm/server"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/sender"
	relayserver "github.com/pushlab/pushlab/relay/server"
	"github.com/pushlab/pushlab/relay/sqlitestore"
	"github.com/pushlab/pushlab/sim"
)

// Remote names servers running elsewhere for the live mode; empty fields start embedded ones.
type Remote struct {
	RelayURL string
	AdminKey string
	FCMURL   string
}

// liveBackend runs a scenario over real sockets, on the real clock, against a relay and a
// fakefcm: embedded ones started for the scenario (on loopback, the relay on a SQLite file), or
// remote ones. Against remote servers, app and certificate IDs are offset at random so that runs
// do not see each other's users.
type liveBackend struct {
	ctx     context.Context
	lw      *sim.LiveWorld
	admin   *client.Admin
	fcmc    *control.Client
	fcmURL  string
	appID   map[uint64]uint64
	certID  map[int64]int64
	apps    []uint64
	project []string
	notify  chan struct{}

	fcmSrv   *fcmserver.Listening
	relaySrv *relayserver.Listening
	log      *slog.Logger // the embedded servers' (nil: discarded)
	relayCfg relay.Config
	store    *sqlitestore.Store
	tmp      string
	// fcmLink carries the embedded relay's sends to FCM, and can be cut.
	fcmLink *cuttableTransport
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

const embeddedAdminKey = "pushsim-embedded-admin-key"

func newLive(ctx context.Context, sc *Scenario, seed uint64, remote Remote, log *slog.Logger) (*liveBackend, error) {
	b := &liveBackend{ctx: ctx, appID: map[uint64]uint64{}, certID: map[int64]int64{}, notify: make(chan struct{}, 1), log: log}
	offset := uint64(0)
	if remote.RelayURL == "" {
		if err := b.startEmbedded(ctx, sc, seed); err != nil {
			b.close()
			return nil, err
		}
	} else {
		if remote.FCMURL == "" {
			return nil, errors.New("--relay needs --fcm: the scenario provisions its certificates on a fakefcm")
		}
		b.admin = &client.Admin{BaseURL: remote.RelayURL, Key: remote.AdminKey}
		b.fcmURL = remote.FCMURL
		b.fcmc = &control.Client{BaseURL: remote.FCMURL}
		offset = 1 + rand.Uint64N(1_000_000)
		if err := b.fcmc.SetBehaviour(ctx, sc.FCM); err != nil {
			return nil, fmt.Errorf("set fakefcm behaviour: %w", err)
		}
	}
	for _, a := range sc.Apps {
		b.appID[a.SDKAppID] = a.SDKAppID + offset*1000
		b.apps = append(b.apps, b.appID[a.SDKAppID])
	}
	for _, c := range sc.Certificates {
		b.certID[c.ID] = c.ID + int64(offset)*1000
	}
	b.lw = sim.NewLiveWorld(sim.LiveConfig{RelayURL: b.admin.BaseURL, FCMURL: b.fcmURL, Seed: seed})
	b.lw.OnObserve(func(*sim.Device, sim.Observation) {
		select {
		case b.notify <- struct{}{}:
		default:
		}
	})
	return b, nil
}

// startEmbedded starts a fakefcm and a relay for the scenario on loopback.
func (b *liveBackend) startEmbedded(ctx context.Context, sc *Scenario, seed uint64) error {
	fcm, err := fcmserver.Listen("127.0.0.1:0", fcmserver.Config{Core: fakefcm.Config{Seed: sim.SubSeed(seed, "fakefcm"), Behaviour: sc.FCM}, Logger: b.log})
	if err != nil {
		return err
	}
	b.fcmSrv, b.fcmURL = fcm, fcm.URL
	b.fcmc = &control.Client{BaseURL: fcm.URL}
	if b.tmp, err = os.MkdirTemp("", "pushsim-live-"); err != nil {
		return err
	}
	if b.store, err = sqlitestore.Open(filepath.Join(b.tmp, "relay.db")); err != nil {
		return err
	}
	cfg := sc.Relay
	cfg.Seed = sim.SubSeed(seed, "relay")
	b.relayCfg = cfg
	b.fcmLink = &cuttableTransport{next: http.DefaultTransport.(*http.Transport).Clone()}
	rs, err := relayserver.Listen(ctx, "127.0.0.1:0", relayserver.Config{
		Core: cfg, Store: b.store, Sender: sender.New(sender.Config{Transport: b.fcmLink, Logger: b.log}), AdminKey: secret.New(embeddedAdminKey), Logger: b.log})
	if err != nil {
		return err
	}
	b.relaySrv = rs
	b.admin = &client.Admin{BaseURL: rs.URL, Key: embeddedAdminKey}
	return nil
}

func (b *liveBackend) addApp(a relay.AppConfig) error {
	a.SDKAppID = b.appID[a.SDKAppID]
	return b.admin.PutApp(b.ctx, a)
}

func (b *liveBackend) addCertificate(c Certificate) (string, error) {
	project := fmt.Sprintf("pushsim-%d", b.certID[c.ID])
	creds, err := b.fcmc.CreateProject(b.ctx, control.CreateProjectRequest{ProjectID: project, PackageNames: []string{c.PackageName}})
	if err != nil {
		return "", err
	}
	b.project = append(b.project, project)
	if c.API == "legacy" {
		err = b.admin.PutCertificate(b.ctx, b.appID[c.App], b.certID[c.ID], c.PackageName, nil, creds.ServerKey, b.fcmURL)
	} else {
		err = b.admin.PutCertificate(b.ctx, b.appID[c.App], b.certID[c.ID], c.PackageName, creds.ServiceAccount, "", b.fcmURL)
	}
	return creds.SenderID, err
}

func (b *liveBackend) addDevice(cfg sim.DeviceConfig) *sim.Device {
	cfg.SDKAppID = b.appID[cfg.SDKAppID]
	cfg.CertificateID = b.certID[cfg.CertificateID]
	return b.lw.AddDevice(cfg)
}

func (b *liveBackend) do(fn func())   { b.lw.Do(fn) }
func (b *liveBackend) now() time.Time { return time.Now() }

func (b *liveBackend) advance(d time.Duration) {
	select {
	case <-time.After(d):
	case <-b.ctx.Done():
	}
}

// waitUntil checks cond on every observation, and every 20 ms for conditions on the servers'
// state, until it holds or the deadline comes.
func (b *liveBackend) waitUntil(deadline time.Time, cond func() bool) bool {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	for {
		var ok bool
		b.do(func() { ok = cond() })
		if ok {
			return true
		}
		select {
		case <-b.notify:
		case <-tick.C:
		case <-timeout.C:
			var ok bool
			b.do(func() { ok = cond() })
			return ok
		case <-b.ctx.Done():
			return false
		}
	}
}

func (b *liveBackend) kick(app uint64, user string) error {
	return b.admin.Kick(b.ctx, b.appID[app], user)
}

func (b *liveBackend) createGroup(app uint64, id string, members []string) error {
	return b.admin.PutGroup(b.ctx, b.appID[app], id, members)
}

func (b *liveBackend) setFaults(rules []fakefcm.FaultRule) error {
	return b.fcmc.SetFaults(b.ctx, b.ownFaults(rules))
}

func (b *liveBackend) addFaults(rules []fakefcm.FaultRule) error {
	return b.fcmc.AddFaults(b.ctx, b.ownFaults(rules))
}

// ownFaults narrows rules for "every push" to this run's project: against a shared fakefcm,
// every push means every push of this run.
func (b *liveBackend) ownFaults(rules []fakefcm.FaultRule) []fakefcm.FaultRule {
	for i := range rules {
		if rules[i].Project == "" && rules[i].Token == "" && len(b.project) > 0 {
			rules[i].Project = b.project[0]
		}
	}
	return rules
}

func (b *liveBackend) setLink(d *sim.Device, n *NetworkStep) error {
	if n.Latency != 0 || n.Jitter != 0 {
		return errors.New("a phone's latency and jitter are virtual-only: the live network is the real one (partition and loss work live)")
	}
	b.lw.Do(func() {
		if n.Partition != nil {
			b.lw.SetPartition(d, *n.Partition)
		}
		if n.Loss != nil {
			b.lw.SetLoss(d, *n.Loss)
		}
	})
	return nil
}

func (b *liveBackend) partitionFCM(cut bool) error {
	if b.fcmLink == nil {
		return errors.New("network link fcm needs the embedded relay (a remote relay's network is not ours to cut)")
	}
	b.fcmLink.cut.Store(cut)
	return nil
}

func (b *liveBackend) restartRelay() error {
	if b.relaySrv == nil {
		return errors.New("restartRelay needs the embedded relay (a remote relay cannot be restarted from here)")
	}
	_ = b.relaySrv.Shutdown(b.ctx)
	rs, err := relayserver.Listen(b.ctx, b.relaySrv.URL[len("http://"):], relayserver.Config{
		Core: b.relayCfg, Store: b.store, Sender: sender.New(sender.Config{Transport: b.fcmLink, Logger: b.log}), AdminKey: secret.New(embeddedAdminKey), Logger: b.log})
	if err != nil {
		return err
	}
	b.relaySrv = rs
	return nil
}

func (b *liveBackend) online(app uint64, user, device string) (bool, error) {
	v, err := b.admin.User(b.ctx, b.appID[app], user)
	var ae *client.AdminError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, d := range v.Devices {
		if d.DeviceID == device {
			return d.Online, nil
		}
	}
	return false, nil
}

func (b *liveBackend) fcmRegistered(token string) bool {
	info, err := b.fcmc.Device(b.ctx, token)
	return err == nil && info.Registered
}

func (b *liveBackend) trace() []relay.TraceEntry {
	var out []relay.TraceEntry
	for _, app := range b.apps {
		es, err := b.admin.PushTrace(b.ctx, app, 10_000)
		if err == nil {
			out = append(out, es...)
		}
	}
	return out
}

func (b *liveBackend) fcmRecords() []fakefcm.Record {
	var out []fakefcm.Record
	for _, p := range b.project {
		recs, err := b.fcmc.Messages(b.ctx, fakefcm.RecordFilter{Project: p})
		if err == nil {
			out = append(out, recs...)
		}
	}
	return out
}

func (b *liveBackend) close() {
	if b.lw != nil {
		b.lw.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if b.relaySrv != nil {
		_ = b.relaySrv.Shutdown(ctx)
	}
	if b.store != nil {
		_ = b.store.Close()
	}
	if b.fcmSrv != nil {
		_ = b.fcmSrv.Shutdown(ctx)
	}
	if b.tmp != "" {
		_ = os.RemoveAll(b.tmp)
	}
}
