// Package server is the relay's shell: it serves the app WebSocket (/v1/ws), the admin API
// (/admin/v1/…), /healthz and /metrics, persists the core's records in a Store, sends pushes
// through FCM senders, and drives a relay.Core on the real clock from one goroutine. Everything
// the relay decides lives in the core; this package carries out its Ready in the order the core
// requires: records durable first, then frames and closes, then pushes.
package server

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// Sender sends pushes to FCM, one client per certificate (relay/sender.Pool is the real one).
type Sender interface {
	// Set builds or rebuilds a certificate's client.
	Set(ctx context.Context, cert relay.Certificate) error
	// Remove forgets a certificate's client.
	Remove(id int64)
	// Send sends one push and reports FCM's answer.
	Send(ctx context.Context, p relay.Push) relay.PushResult
}

// Config is what a Server is built from.
type Config struct {
	// Core configures the relay's rules: heartbeat deadline, caps, retries, TTL.
	Core relay.Config
	// Store persists the relay's state; the server loads it at start. Required.
	Store relay.Store
	// Sender sends pushes. Required.
	Sender Sender
	// AdminKey guards the admin API (Authorization: Bearer KEY). Required.
	AdminKey secret.Secret
	// Logger receives JSON-able log lines; nil discards. Secrets never reach it.
	Logger *slog.Logger
	// Clock tells the time; nil means time.Now.
	Clock func() time.Time
	// MaxConnections bounds open app connections; zero means no bound.
	MaxConnections int
	// SendWorkers is how many pushes may be in flight to FCM at once; zero means 64.
	SendWorkers int
	// Overload says when the relay is over capacity and answers sends with relay.CodeBusy
	// (overload.go); its zero fields mean their defaults.
	Overload OverloadConfig
	// WriteTimeout bounds one frame write to a client; zero means 10 s. A client that cannot
	// take its frames in time is disconnected.
	WriteTimeout time.Duration
	// MaxBodyBytes bounds admin request bodies; zero means 1 MiB.
	MaxBodyBytes int64
	// Tap, if set, is told of every input of the core and its answer, one at a time.
	Tap Tap
	// CheckWait bounds how long creating, updating or checking a certificate waits for its check
	// (OAuth and a validate-only send to FCM) before answering it unchecked; the check goes on
	// and its verdict is stored when it comes. Zero means 15 s.
	CheckWait time.Duration
	// TestPushWait bounds how long a test push waits for FCM's answer; zero means 30 s.
	TestPushWait time.Duration
	// Cluster, when set, runs the relay as one node of a cluster (DESIGN.md §11) instead of a
	// single relay: the loop drives a cluster.Node, whose partitions' cores are restored from
	// Store (which must then be a FencedStore) as the node acquires their leases.
	Cluster *ClusterConfig
}

// Server is a running relay.
type Server struct {
	cfg     Config
	log     *slog.Logger
	clock   func() time.Time
	core    *relay.Core // owned by the loop goroutine; nil in cluster mode
	cl      *clusterShell
	metrics *metrics
	handler http.Handler

	events chan event
	// results carries the send workers' push results; the loop takes them before new events,
	// so that a flood of frames cannot hold back the answers that free the workers.
	results  chan relay.PushResult
	stop     chan struct{}
	loopDone chan struct{}
	closed   sync.Once
	failed   atomic.Pointer[error] // the store failure that stopped the relay

	upgrader    *websocket.Upgrader // the app WebSocket's (ws.go)
	readBuffers *sync.Pool          // lent to connections while they read (ws.go)

	connMu  sync.Mutex
	conns   map[relay.ConnID]*wsConn
	nextID  atomic.Uint64
	closing bool
	readers sync.WaitGroup // connections not yet ended (their reading, parked or not)
	// idle waits for idle connections' bytes (ws.go); started with the first plain-socket
	// connection, nil before and where there is none.
	idle        *idlePoller
	idleStarted bool

	pushes  *pushLanes
	workers sync.WaitGroup
	// busy are the replies to sends refused while over capacity, written after each batch;
	// owned by the loop.
	busy []relay.OutFrame
	// admission is the admission rule's verdict for the batch being taken in (overload.go).
	admission admission

	// stats are the core's counts the gauges last read (scrapeStats), under statsMu.
	stats   relay.Stats
	statsMu sync.Mutex
	// certChecks counts certificates by their check's status, refreshed when certificates change.
	certChecks atomic.Pointer[map[string]int]

	checks      sync.WaitGroup // certificate checks in flight
	checkCtx    context.Context
	cancelCheck context.CancelFunc

	// staged is the store when its batches commit while the loop takes in the next events (on a
	// relay.StagedStore, without a Tap, not in cluster mode); nil otherwise. committing is the
	// batch being written (pipeline.go); owned by the loop.
	staged     relay.StagedStore
	committing commitPipe

	trace *traceKeeper
	// testPushes are the test pushes whose admin calls wait for FCM's answer (the trace entry
	// that records it), by push ID.
	testPushes waiters[uint64, relay.TraceEntry]
	// adminSends are the admin sends whose calls wait for other partitions (cluster mode), by
	// message ID.
	adminSends waiters[string, relay.SendDone]
}

// event is something for the loop to hand to the core: one of the types below.
type event interface{ isEvent() }

func (openEvent) isEvent()   {}
func (frameEvent) isEvent()  {}
func (closedEvent) isEvent() {}
func (resultEvent) isEvent() {}
func (callEvent) isEvent()   {}

type openEvent struct{ id relay.ConnID }
type frameEvent struct {
	id   relay.ConnID
	data []byte
}
type closedEvent struct{ id relay.ConnID }
type resultEvent struct{ r relay.PushResult }

// callEvent runs an admin operation on the core; its answer is sent once the records it made are
// durable.
type callEvent struct {
	fn    func(now time.Time) (any, error)
	reply chan callReply
}

type callReply struct {
	v   any
	err error
}

// New loads the store, rebuilds the core, prepares every certificate's sender and starts the
// loop and the send workers. Close stops them.
func New(ctx context.Context, cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("relay server: Store is required")
	case cfg.Sender == nil:
		return nil, errors.New("relay server: Sender is required")
	case len(cfg.AdminKey.Reveal()) < 16:
		return nil, errors.New("relay server: an admin key of at least 16 characters is required (--admin-key or PUSHLAB_ADMIN_KEY)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.SendWorkers < 0 {
		return nil, fmt.Errorf("relay server: sendWorkers %d: must not be negative (0 means 64)", cfg.SendWorkers)
	}
	if cfg.SendWorkers == 0 {
		cfg.SendWorkers = 64
	}
	var err error
	if cfg.Overload, err = cfg.Overload.withDefaults(cfg.SendWorkers); err != nil {
		return nil, fmt.Errorf("relay server: %w", err)
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.CheckWait == 0 {
		cfg.CheckWait = 15 * time.Second
	}
	if cfg.TestPushWait == 0 {
		cfg.TestPushWait = 30 * time.Second
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, clock: cfg.Clock,
		events:   make(chan event, eventQueue),
		results:  make(chan relay.PushResult, cfg.SendWorkers),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
		conns:    map[relay.ConnID]*wsConn{},
		upgrader: newUpgrader(), readBuffers: newReadBuffers(),
		pushes: newPushLanes(cfg.SendWorkers, cfg.Clock),
	}
	s.trace = newTraceKeeper(cfg.Store, cfg.Core.Effective().Trace, cfg.Clock, s.log)
	var stats relay.Stats
	if cfg.Cluster != nil {
		if err := s.newCluster(*cfg.Cluster); err != nil {
			return nil, err
		}
	} else {
		st, err := cfg.Store.Load(ctx)
		if err != nil {
			return nil, fmt.Errorf("relay server: load store: %w", err)
		}
		if s.core, err = relay.New(cfg.Core, st); err != nil {
			return nil, fmt.Errorf("relay server: %w", err)
		}
		for _, v := range s.core.Certificates(0) {
			cert, _ := s.core.Certificate(v.ID)
			if err := cfg.Sender.Set(ctx, cert); err != nil {
				// A broken certificate must not keep the relay down: its pushes fail and say why.
				s.log.Warn("certificate not usable", "certificateId", cert.ID, "err", err)
			}
		}
		stats = s.core.Stats()
		if st, ok := cfg.Store.(relay.StagedStore); ok && cfg.Tap == nil {
			// A Tap watches each Ready carried out before the next events are taken in.
			s.staged = st
		}
	}
	s.stats = stats
	counts := s.checkCounts()
	s.certChecks.Store(&counts)
	s.checkCtx, s.cancelCheck = context.WithCancel(context.Background())
	s.metrics = newMetrics(s)
	if s.handler, err = s.routes(); err != nil {
		return nil, err
	}
	// Pushes left unfinished by the last run are sent again on the first tick.
	go s.loop()
	go s.trace.run()
	for i := range cfg.SendWorkers {
		s.workers.Add(1)
		go s.sendWorker(s.pushes.lanes[i])
	}
	if s.cl != nil {
		if err := s.startCluster(); err != nil {
			s.Close()
			return nil, err
		}
		s.log.Info("relay cluster node started", "node", s.cl.cfg.NodeID, "cluster", s.cl.cfg.Name, "partitions", s.cl.cfg.Partitions, "leaseTTL", s.cl.cfg.LeaseTTL)
		return s, nil
	}
	s.log.Info("relay started", "apps", stats.Apps, "certificates", stats.Certificates, "loggedIn", stats.LoggedIn, "pendingPushes", stats.PendingPushes)
	return s, nil
}

// Handler serves every relay path.
func (s *Server) Handler() http.Handler { return s.handler }

// Done is closed when the relay stops, by Close or because its store failed.
func (s *Server) Done() <-chan struct{} { return s.loopDone }

// Err reports the store failure that stopped the relay, if any.
func (s *Server) Err() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Close shuts the relay down gracefully: connections are closed (their devices become killed
// devices, as after any lost connection), pushes already with FCM finish and their answers are
// stored, then the loop stops. Pushes not yet sent stay in the store and go out after a restart.
func (s *Server) Close() error {
	s.closed.Do(func() {
		s.connMu.Lock()
		s.closing = true
		for _, c := range s.conns {
			c.close(relay.CloseGoingAway, "relay shutting down")
		}
		s.connMu.Unlock()
		s.readers.Wait()
		s.connMu.Lock()
		idle := s.idle
		s.connMu.Unlock()
		if idle != nil {
			idle.close()
		}
		if s.cl != nil {
			s.stopCluster()
		}
		s.pushes.close()
		s.workers.Wait()
		s.cancelCheck()
		s.checks.Wait()
		close(s.stop)
		<-s.loopDone
		if s.cl != nil {
			s.cl.waitBus()
		}
		s.trace.close()
	})
	return nil
}

func (s *Server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	con, err := s.newConsole(mux)
	if err != nil {
		return nil, err
	}
	mux.Handle("/console/", con)
	mux.HandleFunc("GET /v1/ws", s.handleWS)
	s.adminRoutes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s.Err() != nil {
			http.Error(w, "the relay stopped: its store failed (see its log)", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	// Profiles, behind the admin key: how the relay's figures are investigated.
	mux.Handle("GET /debug/pprof/", s.adminAuth(http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", s.adminAuth(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", s.adminAuth(http.HandlerFunc(pprof.Trace)))
	return mux, nil
}

// post hands an event to the loop; it gives up if the relay has stopped.
func (s *Server) post(ev event) bool {
	select {
	case s.events <- ev:
		return true
	case <-s.loopDone:
		return false
	}
}

// call runs an admin operation on the core and waits until its records are durable.
func (s *Server) call(ctx context.Context, fn func(now time.Time) (any, error)) (any, error) {
	ev := callEvent{fn: fn, reply: make(chan callReply, 1)}
	if !s.post(ev) {
		return nil, errStopped
	}
	select {
	case r := <-ev.reply:
		return r.v, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.loopDone:
		return nil, errStopped
	}
}

var errStopped = errors.New("the relay has stopped")

// loop owns the core: it applies events in batches, persists each batch's records, then carries
// out the rest of the Ready, and ticks the core when its next timer is due. On a StagedStore it
// takes in the next events while a batch commits (pipeline.go).
func (s *Server) loop() {
	defer close(s.loopDone)
	timer := time.NewTimer(0)
	defer timer.Stop()
	var replies []func(error) // of the events taken in since the core's Ready was last taken
	for {
		// While a batch commits, the loop takes in at most maxBatch events for the next: beyond,
		// they wait in the queue, where the admission rule sees them. The core's timers wait
		// with them, so that a commit that stalls does not let a tick pass a deadline that a
		// waiting frame (a ping) would have moved.
		events, results, ticks := s.events, s.results, timer.C
		if s.committing.inFlight() && len(replies) >= maxBatch {
			events, results, ticks = nil, nil, nil
		}
		select {
		case <-s.stop:
			// Land the batch being written, take in what is still waiting (the last push
			// answers), store it, and stop.
			if err := s.landCommit(); err != nil {
				s.failAll(replies, err)
				return
			}
			for {
				ev, ok := s.waiting()
				if !ok {
					break
				}
				replies = append(replies, s.apply(ev))
			}
			s.writeBusy()
			s.finish(replies, s.carryOutAll())
			return
		case <-ticks:
			if s.cl != nil {
				s.cl.node.Tick(s.clock())
			} else {
				s.step(s.clock(), relay.Input{Kind: relay.InputTick})
			}
		case r := <-results:
			replies = s.batch(append(replies, s.apply(resultEvent{r: r})))
		case ev := <-events:
			replies = s.batch(append(replies, s.apply(ev)))
		case <-s.committing.landed(): // carried out below
		}
		if s.committing.hasLanded() {
			if err := s.landCommit(); err != nil {
				s.failAll(replies, err)
				return
			}
		}
		if !s.committing.inFlight() {
			// The admission verdict of the events taken in is read afresh for the next batch.
			s.writeBusy()
			var err error
			if replies, err = s.carryOutNext(replies); err != nil {
				return
			}
		}
		wait := time.Hour
		if at, ok := s.nextWake(); ok {
			wait = max(at.Sub(s.clock()), 0)
		}
		timer.Reset(wait)
	}
}

// carryOutNext carries out the core's Ready, or on a StagedStore starts committing it, and
// returns the replies slice for the next events. A store failure stops the relay.
func (s *Server) carryOutNext(replies []func(error)) ([]func(error), error) {
	if s.staged != nil {
		next, err := s.startCommit(replies)
		if err != nil {
			s.failAll(replies, err)
			return nil, err
		}
		return next, nil
	}
	if err := s.finish(replies, s.carryOutAll()); err != nil {
		return nil, err
	}
	return replies[:0], nil
}

// finish answers the replies of a batch carried out with err, the outcome of storing it. A
// single relay that could not store it stops, and finish returns err; a cluster node's
// partitions handle their own failures, and it returns nil.
func (s *Server) finish(replies []func(error), err error) error {
	answer(replies, err)
	if err == nil || s.cl != nil {
		return nil
	}
	s.fail(err)
	return err
}

// answer tells the events that made a batch how its store write went (nil: stored).
func answer(replies []func(error), err error) {
	for _, reply := range replies {
		if reply != nil {
			reply(err)
		}
	}
}

// failAll answers the replies waiting with a store failure and stops the relay.
func (s *Server) failAll(replies []func(error), err error) {
	answer(replies, err)
	s.fail(err)
}

// batch takes what else is waiting, push results first, so that one store transaction covers
// many events (unless a Tap watches the events one by one).
func (s *Server) batch(replies []func(error)) []func(error) {
	for len(replies) <= maxBatch && s.cfg.Tap == nil && !s.committing.hasLanded() {
		ev, ok := s.waiting()
		if !ok {
			break
		}
		replies = append(replies, s.apply(ev))
	}
	return replies
}

// waiting takes the next waiting event without blocking: a push result if one waits, else
// whatever else does.
func (s *Server) waiting() (event, bool) {
	select {
	case r := <-s.results:
		return resultEvent{r: r}, true
	default:
	}
	select {
	case ev := <-s.events:
		return ev, true
	default:
		return nil, false
	}
}

// apply hands one event to the core and returns what must happen once its records are durable.
func (s *Server) apply(ev event) func(error) {
	now := s.clock()
	if fe, ok := ev.(frameEvent); ok && s.refuseIfBusy(now, fe) {
		return nil
	}
	if s.cl != nil {
		if reply, handled := s.applyCluster(now, ev); handled {
			return reply
		}
	}
	switch ev := ev.(type) {
	case openEvent:
		s.step(now, relay.Input{Kind: relay.InputOpen, Conn: ev.id})
	case frameEvent:
		if f, fe := relay.DecodeClientFrame(ev.data); fe != nil {
			s.step(now, relay.Input{Kind: relay.InputRefuse, Conn: ev.id, Refusal: fe})
		} else {
			s.step(now, relay.Input{Kind: relay.InputReceive, Conn: ev.id, Frame: f})
		}
	case closedEvent:
		s.step(now, relay.Input{Kind: relay.InputClosed, Conn: ev.id})
	case resultEvent:
		s.step(now, relay.Input{Kind: relay.InputPushResult, Result: ev.r})
	case callEvent:
		v, err := ev.fn(now)
		return func(persistErr error) {
			if err == nil && persistErr != nil {
				err = fmt.Errorf("the change could not be stored: %w", persistErr)
			}
			ev.reply <- callReply{v: v, err: err}
		}
	}
	return nil
}

// carryOutAll carries out what the core (or, in cluster mode, the node) asks. In cluster mode a
// store failure stops serving only the partition it was for, and is returned for the calls
// waiting on the batch.
func (s *Server) carryOutAll() error {
	if s.cl != nil {
		return s.carryOutNode()
	}
	return s.carryOut(s.core.TakeReady())
}

// nextWake is when the core's (or the node's cores') next timer is due.
func (s *Server) nextWake() (time.Time, bool) {
	if s.cl != nil {
		return s.cl.node.NextWake()
	}
	return s.core.NextWake()
}

// scrapeStats is the core's counts for the gauges, counted by the loop when a scrape asks for
// them (once a scrape, coreGauges): the count walks every user, and counting four times a second
// took 8 % of the relay's CPU at 1,500 msg/s (2026-12-06), too much to spend for nobody. When the
// loop cannot answer within statsWait (stopped, or far behind), the last counts are given.
func (s *Server) scrapeStats() relay.Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), statsWait)
	defer cancel()
	v, err := s.call(ctx, func(time.Time) (any, error) { return s.coreStats(), nil })
	if st, ok := v.(relay.Stats); ok && err == nil {
		s.stats = st
	}
	return s.stats
}

// coreStats counts the connections, logins and pushes of the core, or of the node's cores (apps
// and certificates as one core holds them: every core holds the whole catalog).
func (s *Server) coreStats() relay.Stats {
	if s.cl == nil {
		return s.core.Stats()
	}
	var st relay.Stats
	for i, p := range s.cl.node.Owned() {
		c, _ := s.cl.node.Core(p)
		cs := c.Stats()
		st.Connections += cs.Connections
		st.LoggedIn += cs.LoggedIn
		st.Online += cs.Online
		st.PendingPushes += cs.PendingPushes
		if i == 0 {
			st.Apps, st.Certificates = cs.Apps, cs.Certificates
		}
	}
	return st
}

// checkCounts counts certificates by their check's status, as the core (or any of the node's
// cores) holds them.
func (s *Server) checkCounts() map[string]int {
	if s.cl == nil {
		return s.core.CheckCounts()
	}
	for _, p := range s.cl.node.Owned() {
		c, _ := s.cl.node.Core(p)
		return c.CheckCounts()
	}
	return map[string]int{}
}

// carryOut does what a Ready asks, in the order the core requires.
func (s *Server) carryOut(rd relay.Ready) error {
	if s.cfg.Tap != nil {
		s.cfg.Tap.Ready(s.clock(), &rd)
	}
	if records := batchRecords(rd.Records, rd.Trace); len(records) > 0 {
		if err := s.writeBatch(s.clock(), rd.Records, rd.Trace, func() error { return s.cfg.Store.Apply(context.Background(), records) }); err != nil {
			return err
		}
	}
	s.carryOutStored(rd)
	return nil
}

// batchRecords are what a batch stores: its records, and its trace in the same transaction as
// the records it explains.
func batchRecords(records []relay.Record, trace []relay.TraceEntry) []relay.Record {
	if len(trace) > 0 {
		records = append(records, relay.AppendTrace{Entries: trace})
	}
	return records
}

// writeBatch runs write, which stores a batch of the core's records and trace entries, times it
// from start (relay_store_write_seconds) and says what failed. Every store write of the loop goes
// through it: in line, on the committing goroutine, and a cluster partition's. start is when the
// batch began to be encoded, so that the pipelined write, encoded on the loop before its commit
// starts, is timed as the others, which encode inside write.
func (s *Server) writeBatch(start time.Time, records []relay.Record, trace []relay.TraceEntry, write func() error) error {
	if err := write(); err != nil {
		return persistError(records, trace, err)
	}
	s.metrics.storeWrite.Observe(s.clock().Sub(start).Seconds())
	return nil
}

// persistError is a batch's failure to be stored.
func persistError(records []relay.Record, trace []relay.TraceEntry, err error) error {
	return fmt.Errorf("persist %d records and %d trace entries: %w", len(records), len(trace), err)
}

// carryOutStored does the rest of what a Ready asks once its records are stored.
func (s *Server) carryOutStored(rd relay.Ready) {
	if len(rd.Records) > 0 || len(rd.Trace) > 0 {
		s.syncCertificates(rd.Records)
		s.trace.appended(len(rd.Trace))
		// A test push's caller hears FCM's answer, as the core recorded it, once it is stored.
		s.deliverTestPushAnswers(rd.Trace)
	}
	s.writeLocal(rd.Frames, rd.Closes)
	if len(rd.Cancelled) > 0 {
		s.pushes.cancel(rd.Cancelled)
	}
	for _, p := range rd.Pushes {
		s.pushes.put(p)
	}
	s.metrics.observe(rd.Records, rd.Trace)
}

// writeLocal writes frames to this server's app connections, in order, then carries out closes
// (a kicked device gets its kicked frame before its connection closes).
func (s *Server) writeLocal(frames []relay.OutFrame, closes []relay.CloseConn) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for _, f := range frames {
		if c := s.conns[f.Conn]; c != nil {
			c.send(f.Frame)
		}
	}
	for _, cl := range closes {
		if c := s.conns[cl.Conn]; c != nil {
			c.close(cl.Code, cl.Reason)
		}
	}
}

// syncCertificates keeps the senders, and the counts of certificates by check, in step with the
// certificates the core stored.
func (s *Server) syncCertificates(records []relay.Record) {
	changed := false
	defer func() {
		if changed {
			counts := s.checkCounts()
			s.certChecks.Store(&counts)
		}
	}()
	for _, r := range records {
		switch r.(type) {
		case relay.PutCertificate, relay.DeleteCertificate:
			changed = true
		}
		switch r := r.(type) {
		case relay.PutCertificate:
			if err := s.cfg.Sender.Set(context.Background(), r.Cert); err != nil {
				s.log.Warn("certificate not usable", "certificateId", r.Cert.ID, "err", err)
			}
		case relay.DeleteCertificate:
			s.cfg.Sender.Remove(r.ID) // DeleteApp comes with one of these per certificate
		}
	}
}

// fail stops the relay after a store failure: the core is ahead of the store, so nothing it
// decided may be carried out.
func (s *Server) fail(err error) {
	s.failed.Store(&err)
	s.log.Error("store failed; the relay stops", "err", err)
	s.pushes.close()
	s.connMu.Lock()
	s.closing = true
	for _, c := range s.conns {
		c.close(relay.CloseTryAgain, "relay unavailable")
	}
	s.connMu.Unlock()
}

// sendWorker sends pushes and posts their results back to the loop.
func (s *Server) sendWorker(q *pushQueue) {
	defer s.workers.Done()
	for {
		p, ok := q.take()
		if !ok {
			return
		}
		start := s.clock()
		r := s.cfg.Sender.Send(context.Background(), p)
		q.done()
		s.metrics.fcm(r, s.clock().Sub(start))
		select {
		case s.results <- r:
		case <-s.loopDone:
			return
		}
	}
}

// eventQueue is how many events (frames, connections opening and closing, admin calls) may
// wait for the loop; a connection's reader waits when it is full.
const eventQueue = 4096

// maxBatch bounds the events one store transaction covers: more per batch means fewer commits
// under load, at the price of a longer wait for the first event's effects.
const maxBatch = 1024

// statsWait bounds how long a scrape waits for the loop to count: past it, the last counts.
const statsWait = 2 * time.Second

// pushLanes spreads pushes over one queue per send worker by device, so that one device's
// pushes reach FCM in the order the relay decided them (a newer notification must replace an
// older one under its collapse key, not the other way round). It counts the pushes handed to it
// that FCM has not answered yet, and knows how long the oldest waiting one has waited:
// admission control (overload.go) bounds both.
type pushLanes struct {
	lanes   []*pushQueue
	seed    maphash.Seed
	clock   func() time.Time
	pending atomic.Int64
	sending atomic.Int64 // pushes taken by a send worker and not answered yet
}

func newPushLanes(n int, clock func() time.Time) *pushLanes {
	l := &pushLanes{lanes: make([]*pushQueue, n), seed: maphash.MakeSeed(), clock: clock}
	for i := range l.lanes {
		l.lanes[i] = &pushQueue{pending: &l.pending, sending: &l.sending}
		l.lanes[i].cond = sync.NewCond(&l.lanes[i].mu)
	}
	return l
}

func (l *pushLanes) put(p relay.Push) {
	l.pending.Add(1)
	l.lanes[maphash.Comparable(l.seed, p.Device)%uint64(len(l.lanes))].put(p, l.clock().UnixNano())
}

// unanswered is how many pushes wait in the lanes or are with FCM.
func (l *pushLanes) unanswered() int { return int(l.pending.Load()) }

// idle is how many send workers have no push in hand.
func (l *pushLanes) idle() int { return max(len(l.lanes)-int(l.sending.Load()), 0) }

// oldestWait is how long the push that has waited longest for a send worker has waited; zero
// when none waits.
func (l *pushLanes) oldestWait(now time.Time) time.Duration {
	oldest := int64(0)
	for _, q := range l.lanes {
		if at := q.since.Load(); at != 0 && (oldest == 0 || at < oldest) {
			oldest = at
		}
	}
	if oldest == 0 {
		return 0
	}
	return max(time.Duration(now.UnixNano()-oldest), 0)
}

func (l *pushLanes) cancel(ids []uint64) {
	drop := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	for _, q := range l.lanes {
		q.cancel(drop)
	}
}

func (l *pushLanes) close() {
	for _, q := range l.lanes {
		q.close()
	}
}

// pushQueue is one send worker's FIFO of pushes from the loop, which must never block: its
// length is bounded by admission control, not here.
type pushQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	items   []queuedPush
	closed  bool
	pending *atomic.Int64 // the lanes' count of unanswered pushes
	sending *atomic.Int64 // the lanes' count of pushes in a worker's hands
	// since is when (Unix nanoseconds) the push at the head of the queue was queued; 0 when
	// the queue is empty. Admission control reads it without the lock.
	since atomic.Int64
}

// queuedPush is a push waiting for its send worker, and when (Unix nanoseconds) it was queued.
type queuedPush struct {
	p  relay.Push
	at int64
}

func (q *pushQueue) put(p relay.Push, at int64) {
	q.mu.Lock()
	q.items = append(q.items, queuedPush{p: p, at: at})
	if len(q.items) == 1 {
		q.since.Store(at)
	}
	q.mu.Unlock()
	q.cond.Signal()
}

func (q *pushQueue) take() (relay.Push, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return relay.Push{}, false
	}
	p := q.items[0].p
	q.items[0] = queuedPush{} // let the sent push's strings go
	q.items = q.items[1:]
	q.headChanged()
	q.sending.Add(1)
	return p, true
}

// headChanged notes when the new head of the queue was queued; q.mu is held.
func (q *pushQueue) headChanged() {
	if len(q.items) == 0 {
		q.since.Store(0)
		return
	}
	q.since.Store(q.items[0].at)
}

// done says FCM answered a push taken from the queue.
func (q *pushQueue) done() {
	q.sending.Add(-1)
	q.pending.Add(-1)
}

// cancel drops the queued pushes whose IDs drop holds.
func (q *pushQueue) cancel(drop map[uint64]bool) {
	q.mu.Lock()
	n := len(q.items)
	q.items = slices.DeleteFunc(q.items, func(w queuedPush) bool { return drop[w.p.ID] })
	q.pending.Add(int64(len(q.items) - n))
	q.headChanged()
	q.mu.Unlock()
}

func (q *pushQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// registry is where the server's metrics live (never the global default registry).
func newRegistry() *prometheus.Registry { return prometheus.NewRegistry() }
