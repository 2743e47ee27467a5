package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushlab/pushlab/fakefcm/control"
)

// A worker process holds a share of a live run's phones when one process's open files are not
// enough for them all: the pushsim binary again ("pushsim load-worker"), driven by the run's
// process over its standard input and output as JSON-RPC (one JSON object a line), the methods
// of Worker. It connects, logs in and binds its phones, kills its share of them, pings, sends
// from its senders and times the pushes its killed phones receive; the run's process asks it
// for its tallies and merges them.

// WorkerSetup is what a worker is told before its phones connect: the run's shape, which phones
// are its own (i%Of == Share), and the servers, app and certificate the run's process set up.
type WorkerSetup struct {
	Share, Of        int
	Devices, Senders int
	KillRatio        float64
	Duration         time.Duration
	Seed             uint64
	Sources          int
	RelayURLs        []string
	FCMURL           string
	App              uint64
	Cert             int64
	SenderID         string
}

// PhoneRange asks a worker to connect its phones among [From, To).
type PhoneRange struct{ From, To int }

// SendPlan asks a worker to send from its senders from Start (wall clock), for the run's
// duration, PerSender messages a second each.
type SendPlan struct {
	Start     time.Time
	PerSender float64
}

// Tally is a worker's figures: counts since its start, and the push latencies (ms) measured
// since its previous tally, which it forgets once told.
type Tally struct {
	Connected, Messages, Busy, Unsent, Pushes, Errors int
	FirstError                                        string `json:",omitempty"`
	Window                                            []float64
	// SendStart, LastAck and LastArrival are wall-clock Unix nanoseconds, 0 for none yet.
	SendStart, LastAck, LastArrival int64
}

// Worker is the methods a worker process serves; ServeWorker serves them.
type Worker struct {
	ctx      context.Context
	mu       sync.Mutex
	r        *run
	stopPing func()
}

// ServeWorker serves one run's process as a worker, reading calls from in and writing answers
// to out, until in ends (the run's process is done, or gone); then it closes the worker's
// connections.
func ServeWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	defer lightCollector(os.Getenv)()
	w := &Worker{ctx: ctx}
	srv := rpc.NewServer()
	if err := srv.RegisterName("Worker", w); err != nil {
		return fmt.Errorf("load worker: %w", err)
	}
	srv.ServeCodec(jsonrpc.NewServerCodec(pipe{Reader: in, Writer: out}))
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopPing != nil {
		w.stopPing()
	}
	if w.r != nil {
		w.r.closeAll()
	}
	return nil
}

// pipe joins a read and a write stream into one connection for a JSON-RPC codec; closing it
// closes the write side (if it can be), which tells the other end the calls are over.
type pipe struct {
	io.Reader
	io.Writer
}

func (p pipe) Close() error {
	if c, ok := p.Writer.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// run is the worker's run, once set up.
func (w *Worker) run() (*run, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.r == nil {
		return nil, errors.New("load worker: not set up")
	}
	return w.r, nil
}

// Setup prepares the worker's share of the run.
func (w *Worker) Setup(s WorkerSetup, _ *bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.r != nil {
		return errors.New("load worker: set up twice")
	}
	if s.Of < 1 || s.Share < 0 || s.Share >= s.Of || len(s.RelayURLs) == 0 {
		return fmt.Errorf("load worker: share %d of %d, %d relays: cannot work", s.Share, s.Of, len(s.RelayURLs))
	}
	cfg := Config{Devices: s.Devices, Senders: s.Senders, KillRatio: s.KillRatio, Duration: s.Duration, Seed: s.Seed,
		Sources: s.Sources}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: dialWorkers * 2, MaxIdleConnsPerHost: dialWorkers * 2}}
	srv := &servers{relayURLs: s.RelayURLs, fcmURL: s.FCMURL, app: s.App, cert: s.Cert, senderID: s.SenderID, hc: hc,
		control: &control.Client{BaseURL: s.FCMURL, HTTP: hc, Dialer: &websocket.Dialer{HandshakeTimeout: 10 * time.Second}}}
	w.r = newRun(cfg, srv, s.Share, s.Of)
	// The phones' heartbeats from the first connection on, until the run is over.
	w.stopPing = w.r.pinging(w.ctx)
	return nil
}

// Connect connects the worker's phones among the range and answers how many of its senders are
// connected.
func (w *Worker) Connect(pr PhoneRange, senders *int) error {
	r, err := w.run()
	if err != nil {
		return err
	}
	if err := r.connect(w.ctx, pr.From, min(pr.To, len(r.phones))); err != nil {
		return err
	}
	*senders = 0
	for _, p := range r.online() {
		if p.i >= r.cfg.Devices {
			*senders++
		}
	}
	return nil
}

// Kill kills the worker's share of the killed phones.
func (w *Worker) Kill(_ int, _ *bool) error {
	r, err := w.run()
	if err != nil {
		return err
	}
	return r.kill(w.ctx)
}

// Send sends from the worker's senders as planned and answers once they are done.
func (w *Worker) Send(p SendPlan, _ *bool) error {
	r, err := w.run()
	if err != nil {
		return err
	}
	r.send(w.ctx, p.Start, p.PerSender)
	return w.ctx.Err()
}

// Tally answers the worker's figures, its connections checked open (reap) first.
func (w *Worker) Tally(_ int, t *Tally) error {
	r, err := w.run()
	if err != nil {
		return err
	}
	r.reap()
	r.countUnsent()
	*t = r.m.tally()
	return nil
}

// tally reads the meter's counts and takes its push latencies since the previous tally.
func (m *meter) tally() Tally {
	m.mu.Lock()
	defer m.mu.Unlock()
	unix := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixNano()
	}
	t := Tally{Connected: m.connected, Messages: m.messages, Busy: m.busy, Unsent: m.unsent, Pushes: m.pushes, Errors: m.errors, Window: m.window,
		SendStart: unix(m.sendStart), LastAck: unix(m.lastAck), LastArrival: unix(m.lastArrival)}
	if m.firstErr != nil {
		t.FirstError = m.firstErr.Error()
	}
	m.window = nil
	return t
}
