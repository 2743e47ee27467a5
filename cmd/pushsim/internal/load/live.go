package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushlab/pushlab/cmd/relay/relayproc"
	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/procmem"
	"github.com/pushlab/pushlab/internal/relaycluster"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim/live"
)

// The load's app and certificate. Against remote servers, IDs are offset at random so that
// runs do not meet.
const (
	loadApp       = uint64(1400000001)
	loadCert      = int64(6768)
	loadPackage   = "com.example.load"
	loadSecret    = "load-secret-0123456789"
	loadAdminKey  = "load-admin-key-0123456789"
	dialWorkers   = 64
	pingInterval  = 30 * time.Second
	pingSlots     = 30
	drainQuiet    = time.Second
	drainLongest  = 10 * time.Second
	warmupPhones  = 100
	settleAfterIO = 500 * time.Millisecond
)

// relayConfig lifts the limits that would measure the caps instead of the pipeline: the load's
// app has its own caps lifted too, and the embedded fakefcm its per-device throttles.
const relayConfig = `relay:
  framesPerSecond: 10000
  frameBurst: 10000
sendWorkers: 64
`

// servers are the relay and fakefcm a run talks to.
type servers struct {
	// relayURLs are the relay's (one node's each in a cluster); phone i connects to
	// relayURLs[i%len(relayURLs)].
	relayURLs        []string
	fcmURL, adminKey string
	app              uint64
	cert             int64
	procs            []*relayproc.Process  // the relays this run started
	cluster          *relaycluster.Cluster // its cluster's relays and what they share, if Nodes ≥ 2
	fcm              *live.Stack
	admin            *client.Admin
	control          *control.Client
	hc               *http.Client
	senderID         string
	tmp              string
	logs             []*os.File // the relays' log files (Config.RelayLogs), closed once they stop
}

// logFile creates (or empties) the file name in dir for a relay's log lines, and closes it with
// the servers.
func (s *servers) logFile(dir, name string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("relay logs: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("relay logs: %w", err)
	}
	s.logs = append(s.logs, f)
	return f, nil
}

func (s *servers) close() {
	if s.hc != nil {
		// Connections dialled for a request another one served stay open, never used: a server
		// shutting down would wait for them.
		s.hc.CloseIdleConnections()
	}
	for _, p := range s.procs {
		_ = p.Stop()
	}
	if s.cluster != nil {
		s.cluster.Close()
	}
	for _, f := range s.logs {
		_ = f.Close()
	}
	if s.fcm != nil {
		_ = s.fcm.Close()
	}
	if s.tmp != "" {
		_ = os.RemoveAll(s.tmp)
	}
}

// rss is the started relays' resident memory in bytes, summed; false when this run started none
// or one could not be read.
func (s *servers) rss() (int64, bool) {
	var sum int64
	for _, p := range s.procs {
		b, err := p.RSS()
		if err != nil {
			return 0, false
		}
		sum += b
	}
	return sum, len(s.procs) > 0
}

// rssAt reads the started relays' resident memory at the instant at; the answer (0 when not
// read) comes on the channel, which holds it until taken.
func (s *servers) rssAt(ctx context.Context, at time.Time) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		select {
		case <-ctx.Done():
			out <- 0
		case <-t.C:
			b, _ := s.rss()
			out <- b
		}
	}()
	return out
}

// peakRSS is the started relays' peak resident memory since they started (VmHWM), summed;
// false when this run started none or one could not be read.
func (s *servers) peakRSS() (int64, bool) {
	var sum int64
	for _, p := range s.procs {
		b, err := procmem.Status(p.PID(), "VmHWM")
		if err != nil {
			return 0, false
		}
		sum += b
	}
	return sum, len(s.procs) > 0
}

// perConnection is the relays' memory per connection of the phones past the warm-up: their RSS
// now less before (read after the warm-up), over those phones; 0 when not measured.
func (s *servers) perConnection(before int64, measured bool, total int) float64 {
	after, ok := s.rss()
	if !measured || !ok || total <= warmupPhones {
		return 0
	}
	return float64(after-before) / float64(total-warmupPhones)
}

// startServers starts (or reaches) the relay and fakefcm and provisions the load's app and
// certificate. The relay it starts runs as a child process, so that the figures measure a relay
// process of its own (its RSS, its open-file limit), or, with Nodes ≥ 2, as many cluster nodes
// on a PostgreSQL and a NATS of their own (internal/relaycluster), ready once every partition is served and the nodes have evened out (relaycluster.Ready);
// fakefcm is sim/live's Stack alone.
func startServers(ctx context.Context, cfg Config, rng *rand.Rand) (*servers, error) {
	s := &servers{fcmURL: cfg.FCMURL, adminKey: cfg.AdminKey, app: loadApp, cert: loadCert}
	if cfg.RelayURL != "" {
		s.relayURLs = []string{cfg.RelayURL}
	}
	if cfg.RelayURL == "" {
		var err error
		if s.tmp, err = os.MkdirTemp("", "pushsim-load-"); err != nil {
			return nil, err
		}
		conf := filepath.Join(s.tmp, "relay.yaml")
		if err := os.WriteFile(conf, []byte(relayConfig), 0o600); err != nil {
			return nil, err
		}
		s.adminKey = loadAdminKey
		if cfg.Nodes >= 2 {
			var nodeLogs func(node string) io.Writer
			var logErr error // a node's log file that could not be made, found once Start returns
			if cfg.RelayLogs != "" {
				nodeLogs = func(node string) io.Writer {
					f, err := s.logFile(cfg.RelayLogs, node+".log")
					if err != nil {
						logErr = errors.Join(logErr, err)
						return nil
					}
					return f
				}
			}
			s.cluster, err = relaycluster.Start(ctx, relaycluster.Config{Nodes: cfg.Nodes, Name: fmt.Sprintf("pushsim-load-%d", os.Getpid()),
				RelayBin: cfg.RelayBin, ConfigFile: conf, AdminKey: s.adminKey, Postgres: cfg.Postgres, NATS: cfg.NATS, Stderr: nodeLogs})
			if err = errors.Join(err, logErr); err != nil {
				s.close()
				return nil, err
			}
			for _, n := range s.cluster.Nodes {
				s.procs = append(s.procs, n.Process())
			}
			if cfg.Postgres != "" {
				// A database of the run's choosing may hold earlier runs': the app is another.
				offset := 1 + rng.Uint64N(1_000_000)
				s.app, s.cert = loadApp+offset*1000, loadCert+int64(offset)*1000
			}
		} else {
			opts := relayproc.Options{Bin: cfg.RelayBin, AdminKey: s.adminKey, Config: conf, DB: filepath.Join(s.tmp, "relay.db")}
			switch {
			case cfg.MemoryStore:
				opts.DB = ":memory:"
			case cfg.JournalStore:
				opts.DB, opts.Journal = "", filepath.Join(s.tmp, "relay.journal") // the relay refuses --journal beside --db
			}
			if cfg.RelayLogs != "" {
				if opts.Stderr, err = s.logFile(cfg.RelayLogs, "relay.log"); err != nil {
					s.close()
					return nil, err
				}
			}
			proc, err := relayproc.Start(ctx, opts)
			if err != nil {
				s.close()
				return nil, err
			}
			s.procs = append(s.procs, proc)
		}
		for _, p := range s.procs {
			s.relayURLs = append(s.relayURLs, p.URL)
		}
		lifted := fakefcm.Throttles{DevicePerMinute: 1_000_000, DevicePerHour: 1_000_000, CollapsibleBurst: 1_000_000,
			ProjectPerMinute: 100_000_000}
		if s.fcm, err = live.StartStack(ctx, live.StackConfig{FCMOnly: true, FCMConfig: &fakefcm.Config{Seed: cfg.Seed,
			Behaviour: fakefcm.Behaviour{Throttles: lifted}, MaxRecords: 100_000}}); err != nil {
			s.close()
			return nil, err
		}
		s.fcmURL = s.fcm.FCMURL
	} else {
		offset := 1 + rng.Uint64N(1_000_000)
		s.app, s.cert = loadApp+offset*1000, loadCert+int64(offset)*1000
	}
	// Connections are reused across the many parallel control calls: a new one each would churn
	// through the loopback's ephemeral ports.
	// Each client gets its own copy of cfg.TLS: net/http writes its protocols into the one it
	// is given.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: dialWorkers * 2, MaxIdleConnsPerHost: dialWorkers * 2,
		TLSClientConfig: cfg.TLS.Clone()}}
	s.hc = hc
	s.admin = &client.Admin{BaseURL: s.relayURLs[0], Key: s.adminKey, HTTP: hc}
	if s.cluster != nil {
		if err := relaycluster.WaitReady(ctx, hc, s.relayURLs, s.adminKey, relaycluster.ReadyLongest); err != nil {
			s.close()
			return nil, err
		}
	}
	s.control = &control.Client{BaseURL: s.fcmURL, HTTP: hc,
		Dialer: &websocket.Dialer{TLSClientConfig: cfg.TLS.Clone(), HandshakeTimeout: 10 * time.Second}}
	lifted := relay.Caps{PerMinute: 1_000_000, PerHour: 1_000_000, Burst: 1_000_000, Refill: duration.Of(time.Millisecond)}
	if err := s.admin.PutApp(ctx, relay.AppConfig{SDKAppID: s.app, SecretKey: secret.New(loadSecret), LoginPolicy: relay.PolicyMulti, Caps: lifted}); err != nil {
		s.close()
		return nil, fmt.Errorf("create the load's app: %w", err)
	}
	project := fmt.Sprintf("pushsim-load-%d", s.cert)
	creds, err := s.control.CreateProject(ctx, control.CreateProjectRequest{ProjectID: project, PackageNames: []string{loadPackage}})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("create the load's fakefcm project: %w", err)
	}
	s.senderID = creds.SenderID
	if err := s.admin.PutCertificate(ctx, relay.Certificate{SDKAppID: s.app, ID: s.cert, PackageName: loadPackage, SenderID: creds.SenderID,
		ServiceAccount: secret.New(string(creds.ServiceAccount)), Endpoint: s.fcmURL}); err != nil {
		s.close()
		return nil, fmt.Errorf("register the load's certificate: %w", err)
	}
	return s, nil
}

// phone is one load phone: its relay connection and, once killed, its FCM channel. Live phones
// are raw relay clients rather than the simulator's device model (RunWorld): thousands of
// devices behind the live world's one lock would measure the load generator, not the relay.
type phone struct {
	i      int
	user   string
	token  string
	conn   *client.Conn
	ch     *control.DeviceChannel
	killed bool // its app killed: its relay connection dropped, its FCM channel open
	lost   bool // the relay closed its connection (counted as an error)
	// A sender's messages (nil for a target phone): outMu guards out, and answered tells the
	// sending goroutine that an answer came in (buffered; a signal already waiting is enough).
	outMu    sync.Mutex
	out      *outbox
	answered chan struct{}
}

// answer hands the relay's answer to one of a sender's sends to its outbox.
func (p *phone) answer(id int64, code relay.Code, at time.Time) {
	p.outMu.Lock()
	look := p.out.answer(id, code, at)
	p.outMu.Unlock()
	if !look {
		return
	}
	select {
	case p.answered <- struct{}{}:
	default:
	}
}

// run is one live load run, or one worker process's share of it: the phones i with
// i%of == share (all of them when of is 1).
type run struct {
	cfg       Config
	srv       *servers
	m         *meter
	dialer    func(i int) *websocket.Dialer
	mu        sync.Mutex // guards phones' entries and their killed and lost
	phones    []*phone   // targets, then senders; nil where not connected or another process's
	share, of int
	nextID    atomic.Int64
	wg        sync.WaitGroup
}

// newRun prepares a run of the phones i with i%of == share on srv.
func newRun(cfg Config, srv *servers, share, of int) *run {
	r := &run{cfg: cfg, srv: srv, m: newMeter(time.Now()), share: share, of: of,
		phones: make([]*phone, cfg.Devices+cfg.Senders)}
	dialers := make([]*websocket.Dialer, cfg.Sources)
	for k := range dialers {
		nd := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+k))}}
		dialers[k] = &websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 10 * time.Second,
			ReadBufferSize: 1024, WriteBufferSize: 1024, TLSClientConfig: cfg.TLS.Clone()}
	}
	r.dialer = func(i int) *websocket.Dialer { return dialers[i%len(dialers)] }
	return r
}

// RunLive puts the load on a real relay and fakefcm.
func RunLive(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	defer lightCollector(os.Getenv)()
	procs := cfg.procs(fileLimit())
	if procs > 1 && cfg.CheckAcked {
		return Result{}, fmt.Errorf("load processes %d: the acknowledged sends are checked with the phones in one process (--load-procs 1)", procs)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x10ad))
	srv, err := startServers(ctx, cfg, rng)
	if err != nil {
		return Result{}, err
	}
	defer srv.close()
	if procs > 1 {
		res, err := runSpread(ctx, cfg, srv, procs)
		res.Nodes, res.LoadProcesses = len(srv.procs), procs
		return res, err
	}
	r := newRun(cfg, srv, 0, 1)
	if cfg.CheckAcked {
		r.m.pending = map[int64]sentMsg{}
	}
	defer r.closeAll()
	// The phones' heartbeats from the first connection on, until the run is over: a connect
	// phase longer than the relay's heartbeat deadline must not lose the first phones.
	defer r.pinging(ctx)()

	// Connect: a warm-up batch first, so that the relay's memory per connection is measured
	// past its start-up allocations.
	total := cfg.Devices + cfg.Senders
	stopSampling := sampling(ctx, r.m, cfg.Progress, PhaseConnect, nil)
	if err := r.connect(ctx, 0, min(warmupPhones, total)); err != nil {
		stopSampling()
		return Result{}, err
	}
	time.Sleep(settleAfterIO)
	before, measured := srv.rss()
	if err := r.connect(ctx, min(warmupPhones, total), total); err != nil {
		stopSampling()
		return Result{}, err
	}
	time.Sleep(settleAfterIO)
	perConn := srv.perConnection(before, measured, total)
	r.reap() // every phone connected, none killed yet: the peak
	if err := r.kill(ctx); err != nil {
		stopSampling()
		return Result{}, err
	}
	stopSampling()

	stopSampling = sampling(ctx, r.m, cfg.Progress, PhaseSend, nil)
	cpuFrom := srv.cpuNow()
	start := time.Now()
	mid := srv.rssAt(ctx, start.Add(cfg.Duration/2))
	sendTime := r.send(ctx, start, 0)
	stopSampling()
	rssEnd, _ := srv.rss()
	stopSampling = sampling(ctx, r.m, cfg.Progress, PhaseDrain, nil)
	_ = drain(ctx, r.m, nil)
	cpu := srv.cpuNow().since(cpuFrom)
	stopSampling()
	r.reap()
	r.countUnsent()
	res := r.m.result(cfg, sendTime, perConn)
	res.CPU = cpu
	res.Nodes, res.LoadProcesses = len(srv.procs), 1
	res.RelayRSSMid, res.RelayRSSEnd = <-mid, rssEnd
	res.RelayPeakRSS, _ = srv.peakRSS()
	if cfg.CheckAcked && ctx.Err() == nil {
		a, err := checkAcked(ctx, r.m.ackedByRecipient(), dialWorkers, r.storedTexts)
		if err != nil {
			return res, fmt.Errorf("check the acknowledged sends: %w", err)
		}
		res.AckedChecked, res.AckedLost, res.FirstLost = a.checked, a.lost, a.firstLost
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

// connect opens phones [from, to): token at fakefcm, relay connection, login, token report.
func (r *run) connect(ctx context.Context, from, to int) error {
	next := atomic.Int64{}
	next.Store(int64(from))
	var wg sync.WaitGroup
	var fatal atomic.Pointer[error]
	for range dialWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && fatal.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				if i%r.of != r.share {
					continue
				}
				p, err := r.open(ctx, i)
				if err != nil {
					r.m.error(err)
					if errors.Is(err, errSetup) {
						fatal.Store(&err)
					}
					continue
				}
				r.mu.Lock()
				r.phones[i] = p
				r.mu.Unlock()
				r.m.mu.Lock()
				r.m.connected++
				r.m.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if e := fatal.Load(); e != nil {
		return *e
	}
	return ctx.Err()
}

// phoneUser is the user of target phone i.
func phoneUser(i int) string { return fmt.Sprintf("load-u%d", i) }

// errSetup marks failures that say the run cannot work at all (bad credentials, app unknown).
var errSetup = errors.New("setup")

func (r *run) open(ctx context.Context, i int) (*phone, error) {
	p := &phone{i: i, user: phoneUser(i)}
	if i >= r.cfg.Devices {
		p.user = fmt.Sprintf("load-s%d", i-r.cfg.Devices)
	}
	tok, err := r.srv.control.RegisterDevice(ctx, r.srv.senderID, loadPackage)
	if err != nil {
		return nil, fmt.Errorf("phone %d: register with fakefcm: %w", i, err)
	}
	p.token = tok
	if i >= r.cfg.Devices {
		si := uint64(i - r.cfg.Devices)
		p.out, p.answered = newOutbox(rand.New(rand.NewPCG(r.cfg.Seed^backoffSeed, si))), make(chan struct{}, 1)
	}
	onEvent := func(f relay.ServerFrame) {
		if f.Op == relay.OpReply && f.ID != 0 {
			now := time.Now()
			r.m.reply(f.ID, f.Code, f.Desc, now)
			if p.out != nil {
				p.answer(f.ID, f.Code, now)
			}
		}
	}
	c, err := client.Dial(ctx, r.srv.relayURLs[i%len(r.srv.relayURLs)], client.Options{Dialer: r.dialer(i), OnEvent: onEvent})
	if err != nil {
		return nil, fmt.Errorf("phone %d: %w", i, err)
	}
	sig := relay.MakeUserSig(loadSecret, relay.UserSigClaims{SDKAppID: r.srv.app, UserID: p.user, Expire: time.Now().Add(24 * time.Hour).Unix()})
	if err := c.Login(ctx, r.srv.app, p.user, sig, "phone", "android"); err != nil {
		_ = c.Drop()
		var re *client.ReplyError
		if errors.As(err, &re) && (re.Code == relay.CodeUnknownApp || re.Code == relay.CodeSigMismatch) {
			return nil, fmt.Errorf("%w: phone %d: login: %v", errSetup, i, err)
		}
		return nil, fmt.Errorf("phone %d: login: %w", i, err)
	}
	if _, err := c.Do(ctx, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: r.srv.cert, Token: tok}); err != nil {
		_ = c.Drop()
		return nil, fmt.Errorf("phone %d: token report: %w", i, err)
	}
	p.conn = c
	return p, nil
}

// countUnsent tells the meter how many messages this run's senders hold now, waiting or sent and
// not answered: after the drain, the messages offered and never taken.
func (r *run) countUnsent() {
	r.mu.Lock()
	senders := slices.Clone(r.phones[r.cfg.Devices:])
	r.mu.Unlock()
	n := 0
	for _, p := range senders {
		if p == nil || p.out == nil {
			continue
		}
		p.outMu.Lock()
		n += p.out.held()
		p.outMu.Unlock()
	}
	r.m.mu.Lock()
	r.m.unsent = n
	r.m.mu.Unlock()
}

// kill opens the FCM channel of the phones to kill and drops their relay connection, as a
// swiped-away app's process dies.
func (r *run) kill(ctx context.Context) error {
	n := 0
	for i, p := range r.phones[:r.cfg.Devices] {
		if p == nil || !r.cfg.killed(i) {
			continue
		}
		ch, err := r.srv.control.Connect(ctx, p.token)
		if err != nil {
			r.m.error(fmt.Errorf("phone %d: FCM channel: %w", i, err))
			continue
		}
		r.mu.Lock()
		p.ch, p.killed = ch, true
		r.mu.Unlock()
		r.wg.Add(1)
		go r.receive(p)
		_ = p.conn.Drop()
		n++
	}
	r.m.mu.Lock()
	r.m.connected -= n
	r.m.mu.Unlock()
	time.Sleep(settleAfterIO) // let the relay see the connections go
	return ctx.Err()
}

// receive takes a killed phone's pushes.
func (r *run) receive(p *phone) {
	defer r.wg.Done()
	for {
		f, err := p.ch.Receive()
		if err != nil {
			return
		}
		now := time.Now()
		if f.Message != nil && f.Message.Notification != nil {
			if sent, ok := sentAt(f.Message.Notification.Body); ok {
				r.m.delivered(f.Message.Notification.Body, sent, now)
			}
			_ = p.ch.Ack(f.Message.MessageID)
		}
	}
}

// ping keeps the online phones' connections alive: each pings every pingInterval, the phones
// spread over the interval's seconds (phone i in second i%pingSlots), so that thousands of pings
// do not reach the relay in one burst.
func (r *run) ping(ctx context.Context) {
	t := time.NewTicker(pingInterval / pingSlots)
	defer t.Stop()
	for slot := 0; ; slot = (slot + 1) % pingSlots {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.reap()
			for _, p := range r.online() {
				if p.i%pingSlots == slot {
					_ = p.conn.Send(relay.ClientFrame{Op: relay.OpPing})
				}
			}
		}
	}
}

// online is the phones whose relay connection is open, as far as this process knows.
func (r *run) online() []*phone {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ps []*phone
	for _, p := range r.phones {
		if p != nil && !p.killed && !p.lost {
			ps = append(ps, p)
		}
	}
	return ps
}

// reap finds the online phones whose connection the relay closed (as it does a connection
// silent past its heartbeat deadline, or when it runs out of open files), counts each as an
// error and no longer as connected, and then counts the phones connected now towards the peak:
// the peak is of connections known to be open at one moment.
func (r *run) reap() {
	for _, p := range r.online() {
		select {
		case <-p.conn.Done():
		default:
			continue
		}
		r.mu.Lock()
		killed := p.killed // killed since online(): its connection dropped on purpose
		p.lost = !killed
		r.mu.Unlock()
		if killed {
			continue
		}
		r.m.error(fmt.Errorf("phone %d: the relay closed its connection: %v", p.i, p.conn.Err()))
		r.m.mu.Lock()
		r.m.connected--
		r.m.mu.Unlock()
	}
	r.m.mu.Lock()
	r.m.peak = max(r.m.peak, r.m.connected)
	r.m.mu.Unlock()
}

// pinging keeps the online phones' connections alive from now until stopped.
func (r *run) pinging(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		r.ping(ctx)
	}()
	return func() {
		cancel()
		<-pinged
	}
}

// send paces this process's senders' messages from start for the duration, each to a random
// target's user, and reports how long it sent. Each sender makes perSender messages a second
// (0: the rate shared among this process's connected senders). A message's text carries the
// wall-clock instant it was made (messageText), which a resend keeps: the phone that gets its
// push may be another process's.
func (r *run) send(ctx context.Context, start time.Time, perSender float64) time.Duration {
	var senders []*phone
	for _, p := range r.online() {
		if p.i >= r.cfg.Devices {
			senders = append(senders, p)
		}
	}
	if perSender == 0 {
		if len(senders) == 0 || r.cfg.Devices == 0 {
			r.m.error(errors.New("no sender or no target phone connected"))
			return time.Nanosecond
		}
		perSender = r.cfg.Rate / float64(len(senders))
	}
	if d := time.Until(start); d > 0 {
		time.Sleep(d)
	}
	r.m.startSending(start)
	end := start.Add(r.cfg.Duration)
	// One goroutine per sender, each pacing its share, so that a slow write does not stall the
	// others. Each makes its messages on its schedule into its outbox, and sends them as the
	// outbox allows: pipelined while the relay takes them, after a backoff when it answers
	// "busy, retry" (outbox.go), as an app that honours the answer does.
	var wg sync.WaitGroup
	for _, s := range senders {
		si := s.i - r.cfg.Devices
		rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(si)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			interval := time.Duration(float64(time.Second) / perSender)
			next := start.Add(time.Duration(rng.Int64N(int64(interval) + 1)))
			wait := time.NewTimer(time.Hour)
			defer wait.Stop()
			for n := 0; ctx.Err() == nil; {
				now := time.Now()
				var out []outMsg
				s.outMu.Lock()
				for ; next.Before(end) && !now.Before(next); next = next.Add(interval) {
					to := rng.IntN(r.cfg.Devices)
					s.out.add(n, to, relay.ClientFrame{Op: relay.OpSend, To: phoneUser(to), Text: messageText(si, n, now),
						ClientMsgID: messageKey(si, n)})
					n++
				}
				for {
					m, ok := s.out.next(now, func() int64 { return r.nextID.Add(1) })
					if !ok {
						break
					}
					out = append(out, m)
				}
				wake := next
				if at := s.out.wakeAt(); !at.IsZero() && at.Before(wake) {
					wake = at
				}
				if end.Before(wake) {
					wake = end
				}
				s.outMu.Unlock()
				for _, m := range out {
					r.m.track(m.frame.ID, m.to, m.frame.Text)
					if err := s.conn.Send(m.frame); err != nil {
						r.m.error(fmt.Errorf("sender %d: %w", si, err))
						return
					}
				}
				if !now.Before(end) {
					// Every message of the window made, and sent if the outbox let it (one due
					// before the end goes even when this goroutine woke after it); what the
					// outbox still holds is counted unsent.
					return
				}
				wait.Reset(max(time.Until(wake), 0))
				select {
				case <-ctx.Done():
				case <-wait.C:
				case <-s.answered:
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// messageKey names sender si's nth message, "L<si>.<n>": its clientMsgId, which a resend keeps,
// and the start of its text.
func messageKey(si, n int) string { return fmt.Sprintf("L%d.%d", si, n) }

// messageText is the text of sender si's nth message, made at the wall-clock instant at:
// "L<si>.<n>@<Unix nanoseconds>". Processes on one machine share its wall clock, so the phone
// that receives the push, in whichever process, times it from the text alone.
func messageText(si, n int, at time.Time) string {
	return fmt.Sprintf("%s@%d", messageKey(si, n), at.UnixNano())
}

// sentAt reads the instant a message was made from its text (messageText); false for a text of
// another shape, such as a summary push's.
func sentAt(text string) (time.Time, bool) {
	_, ns, ok := strings.Cut(text, "@")
	if !ok || !strings.HasPrefix(text, "L") {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// drain waits for the last pushes: until none arrived for a second, at most drainLongest.
// refresh, if set, brings m up to date before each look (the workers' tallies).
func drain(ctx context.Context, m *meter, refresh func() error) error {
	deadline := time.Now().Add(drainLongest)
	last := -1
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if refresh != nil {
			if err := refresh(); err != nil {
				return err
			}
		}
		m.mu.Lock()
		n := m.pushes
		m.mu.Unlock()
		if n == last {
			return nil
		}
		last = n
		time.Sleep(drainQuiet)
	}
	return nil
}

// sampling records a sample of m a second until stopped, telling progress of each; refresh, if
// set, brings m up to date first (the workers' tallies); its error ends the sampling early.
func sampling(ctx context.Context, m *meter, progress func(Phase, reports.Sample), phase Phase, refresh func() error) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		prev := time.Now()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				if refresh != nil {
					if err := refresh(); err != nil {
						return
					}
				}
				s := m.sample(now, now.Sub(prev))
				prev = now
				if progress != nil {
					progress(phase, s)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// closeAll closes every connection and channel and waits for the receivers.
func (r *run) closeAll() {
	for _, p := range r.phones {
		if p == nil {
			continue
		}
		if p.conn != nil && !p.killed {
			_ = p.conn.Drop()
		}
		if p.ch != nil {
			_ = p.ch.Close()
		}
	}
	r.wg.Wait()
}
