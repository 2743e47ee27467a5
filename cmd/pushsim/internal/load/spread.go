package load

import (
	"context"
	"errors"
	"fmt"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// sendLead is how far ahead the run's process sets the workers' common start of sending, so
// that the plan reaches every one of them before it.
const sendLead = 200 * time.Millisecond

// workerProc is one running worker process and its calls.
type workerProc struct {
	cmd    *exec.Cmd
	client *rpc.Client
}

// startWorker starts a worker process (cfg.Worker's command, else this program's load-worker).
// Its standard error is this process's; it dies with this process.
func startWorker(ctx context.Context, cfg Config) (*workerProc, error) {
	var cmd *exec.Cmd
	if cfg.Worker != nil {
		cmd = cfg.Worker(ctx)
	} else {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("start a load worker: %w", err)
		}
		cmd = exec.CommandContext(ctx, exe, "load-worker")
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start a load worker: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start a load worker: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start a load worker %s: %w", cmd.Path, err)
	}
	return &workerProc{cmd: cmd, client: rpc.NewClientWithCodec(jsonrpc.NewClientCodec(pipe{Reader: out, Writer: in}))}, nil
}

// stop ends the worker's calls (its input closes: it closes its connections and exits) and
// waits for it, killing it if it has not exited within 20 s.
func (w *workerProc) stop() {
	_ = w.client.Close()
	done := make(chan struct{})
	go func() {
		_ = w.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = w.cmd.Process.Kill()
		<-done
	}
}

// spread is a live run whose phones are spread over worker processes; its meter holds the
// workers' figures merged.
type spread struct {
	workers []*workerProc
	m       *meter
	// mu orders the tallies; own counts the errors of this process (none of a worker's).
	mu  sync.Mutex
	own int
}

// runSpread runs the load's phones in procs worker processes against srv, in the phases of
// RunLive, and merges their figures.
func runSpread(ctx context.Context, cfg Config, srv *servers, procs int) (Result, error) {
	s := &spread{m: newMeter(time.Now())}
	defer func() {
		var wg sync.WaitGroup
		for _, w := range s.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.stop()
			}()
		}
		wg.Wait()
	}()
	for range procs {
		w, err := startWorker(ctx, cfg)
		if err != nil {
			return Result{}, err
		}
		s.workers = append(s.workers, w)
	}
	if err := s.all(func(k int) (string, any, any) {
		return "Worker.Setup", WorkerSetup{Share: k, Of: procs, Devices: cfg.Devices, Senders: cfg.Senders, KillRatio: cfg.KillRatio,
			Duration: cfg.Duration, Seed: cfg.Seed, Sources: cfg.Sources, RelayURLs: srv.relayURLs, FCMURL: srv.fcmURL,
			App: srv.app, Cert: srv.cert, SenderID: srv.senderID}, new(bool)
	}); err != nil {
		return Result{}, err
	}

	total := cfg.Devices + cfg.Senders
	senders := make([]int, procs)
	connect := func(from, to int) error {
		return s.all(func(k int) (string, any, any) { return "Worker.Connect", PhoneRange{from, to}, &senders[k] })
	}
	stopSampling := sampling(ctx, s.m, cfg.Progress, PhaseConnect, s.tally)
	if err := connect(0, min(warmupPhones, total)); err != nil {
		stopSampling()
		return Result{}, err
	}
	time.Sleep(settleAfterIO)
	before, measured := srv.rss()
	if err := connect(min(warmupPhones, total), total); err != nil {
		stopSampling()
		return Result{}, err
	}
	time.Sleep(settleAfterIO)
	perConn := srv.perConnection(before, measured, total)
	// Every phone is connected and none killed yet: the peak, at one tally of every worker.
	if err := s.tally(); err != nil {
		stopSampling()
		return Result{}, err
	}
	if err := s.all(func(int) (string, any, any) { return "Worker.Kill", 0, new(bool) }); err != nil {
		stopSampling()
		return Result{}, err
	}
	stopSampling()

	n := 0
	for _, k := range senders {
		n += k
	}
	plan := SendPlan{Start: time.Now().Add(sendLead)}
	if n == 0 || cfg.Devices == 0 {
		s.mu.Lock()
		s.own++
		s.mu.Unlock()
		s.m.error(errors.New("no sender or no target phone connected"))
		plan.Start = time.Now()
	} else {
		plan.PerSender = cfg.Rate / float64(n)
	}
	stopSampling = sampling(ctx, s.m, cfg.Progress, PhaseSend, s.tally)
	cpuFrom := srv.cpuNow()
	mid := srv.rssAt(ctx, plan.Start.Add(cfg.Duration/2))
	if plan.PerSender > 0 {
		if err := s.all(func(int) (string, any, any) { return "Worker.Send", plan, new(bool) }); err != nil {
			stopSampling()
			return Result{}, err
		}
	}
	sendTime := max(time.Since(plan.Start), time.Nanosecond)
	stopSampling()
	rssEnd, _ := srv.rss()
	stopSampling = sampling(ctx, s.m, cfg.Progress, PhaseDrain, s.tally)
	err := drain(ctx, s.m, s.tally)
	cpu := srv.cpuNow().since(cpuFrom)
	stopSampling()
	if err == nil {
		err = s.tally()
	}
	if err != nil {
		return Result{}, err
	}
	res := s.m.result(cfg, sendTime, perConn)
	res.CPU = cpu
	res.RelayRSSMid, res.RelayRSSEnd = <-mid, rssEnd
	res.RelayPeakRSS, _ = srv.peakRSS()
	return res, ctx.Err()
}

// all makes one call of every worker at once (call names the method, its argument and its
// answer for worker k) and waits for them; the first error is returned.
func (s *spread) all(call func(k int) (method string, arg, reply any)) error {
	errs := make([]error, len(s.workers))
	var wg sync.WaitGroup
	for k, w := range s.workers {
		method, arg, reply := call(k)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.client.Call(method, arg, reply); err != nil {
				errs[k] = fmt.Errorf("load worker %d: %s: %w", k, method, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// tally asks every worker for its figures and merges them into the meter: counts summed, the
// connections held at this one tally summed (the peak is the highest such sum), the latencies
// of every push pooled, so that percentiles are over all of them.
func (s *spread) tally() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := make([]Tally, len(s.workers))
	if err := s.all(func(k int) (string, any, any) { return "Worker.Tally", 0, &ts[k] }); err != nil {
		return err
	}
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	m.connected, m.messages, m.busy, m.unsent, m.pushes, m.errors = 0, 0, 0, 0, 0, s.own
	at := func(ns int64) time.Time { return time.Unix(0, ns) }
	for _, t := range ts {
		m.connected += t.Connected
		m.messages += t.Messages
		m.busy += t.Busy
		m.unsent += t.Unsent
		m.pushes += t.Pushes
		m.errors += t.Errors
		if m.firstErr == nil && t.FirstError != "" {
			m.firstErr = errors.New(t.FirstError)
		}
		m.latencies = append(m.latencies, t.Window...)
		m.window = append(m.window, t.Window...)
		if t.SendStart != 0 && (m.sendStart.IsZero() || at(t.SendStart).Before(m.sendStart)) {
			m.sendStart = at(t.SendStart)
		}
		if t.LastAck != 0 && at(t.LastAck).After(m.lastAck) {
			m.lastAck = at(t.LastAck)
		}
		if t.LastArrival != 0 && at(t.LastArrival).After(m.lastArrival) {
			m.lastArrival = at(t.LastArrival)
		}
	}
	m.peak = max(m.peak, m.connected)
	return nil
}
