// Package load puts a staging-sized load on the relay and fakefcm: many phones connected, a
// share of them killed, messages at a steady rate, and what comes out measured — connections held,
// messages and pushes per second, the latency from a message's send to its push arriving on the
// killed phone's FCM channel, the relay's memory per connection, errors. Live (RunLive), the relay
// runs in its own process (a process may hold only so many open files) and the phones are raw
// WebSocket clients; RunWorld runs the same shape on any twin of the world port with the
// simulator's phones, and RunVirtual on the virtual one.
package load

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/reports"
)

// Config sizes a load run.
type Config struct {
	// Devices is how many phones connect (default 2,000); Senders more, always online, send the
	// messages (default Rate/20, at least 10).
	Devices int
	Senders int
	// Rate is messages per second over the run (default 100), each to a random phone's user.
	Rate float64
	// Duration is how long messages are sent (default 15 s), after every phone connected.
	Duration time.Duration
	// KillRatio is the share of phones whose app is killed after login (default 0.1): their
	// messages become pushes.
	KillRatio float64
	// RelayURL and FCMURL name running servers; empty starts them (the relay as a child process
	// from RelayBin, fakefcm in this process through sim/live's Stack). RunLive only.
	RelayURL, FCMURL, AdminKey string
	RelayBin                   string
	// TLS, when set, is the client TLS configuration for an https:// relay or fakefcm (a test's
	// CA); nil is Go's default, which trusts the system roots (read from SSL_CERT_FILE and
	// SSL_CERT_DIR when they are set). RunLive only.
	TLS *tls.Config
	// MemoryStore runs the started relay on its in-memory store instead of a SQLite file: the
	// push pipeline's own throughput, without the durable store's.
	MemoryStore bool
	// JournalStore runs the started relay on its journal store instead of a SQLite file (relay
	// --journal, a file in the run's temporary folder): durable as SQLite is, its state in memory
	// and each batch appended to the journal. Not with MemoryStore.
	JournalStore bool
	// Sources is how many loopback source addresses (127.0.0.1 …) the phones' connections are
	// spread over (default 8), so that a single address's ephemeral ports never run out.
	Sources int
	// Seed drives the virtual mode and the choice of recipients.
	Seed uint64
	// Nodes, 2 or more, runs the relay as a cluster of that many processes (relay --cluster) on
	// one PostgreSQL and one NATS, the phones spread over the nodes round robin (RunLive only,
	// without RelayURL, MemoryStore or JournalStore); 0 or 1 runs one relay. Postgres and NATS
	// name the cluster's servers; empty starts a throwaway PostgreSQL from the installed server
	// binaries and an embedded NATS server.
	Nodes          int
	Postgres, NATS string
	// RelayLogs, if set, is a folder for the log lines of each relay process the run starts
	// (RunLive only, without RelayURL): relay.log, or node-1.log … for a cluster's nodes. Empty
	// discards them.
	RelayLogs string
	// Procs is how many processes hold the phones (RunLive only): 0 decides from this process's
	// open-file limit (one process while the phones fit with headroom, else as many worker
	// processes as they need); 1 keeps them all in this process; 2 or more spreads them over
	// that many worker processes (ServeWorker), the phone i in worker i%Procs.
	Procs int
	// Worker, if set, makes the command of one worker process (the test binary in tests); nil
	// runs this program again as "pushsim load-worker".
	Worker func(ctx context.Context) *exec.Cmd
	// Progress, if set, is told of each one-second sample as the run goes.
	Progress func(Phase, reports.Sample)
	// CheckAcked, after the drain, looks for every send the relay acknowledged among its
	// recipient's stored messages (a sync as that user, on a device of its own) and counts those
	// missing (Result.AckedLost): an acknowledgement promises the message is kept. RunLive with
	// the phones in one process only.
	CheckAcked bool
}

// Phase says what a run is doing.
type Phase string

// The phases of a run.
const (
	PhaseConnect Phase = "connect"
	PhaseSend    Phase = "send"
	PhaseDrain   Phase = "drain"
)

func (c Config) withDefaults() Config {
	if c.Devices == 0 {
		c.Devices = 2000
	}
	if c.Rate == 0 {
		c.Rate = 100
	}
	if c.Senders == 0 {
		c.Senders = max(10, int(c.Rate/20))
	}
	if c.Duration == 0 {
		c.Duration = 15 * time.Second
	}
	if c.KillRatio == 0 {
		c.KillRatio = 0.1
	}
	if c.Sources == 0 {
		c.Sources = 8
	}
	return c
}

// Validate names a setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Devices < 0 || c.Senders < 0:
		return fmt.Errorf("devices %d, senders %d: must not be negative", c.Devices, c.Senders)
	case c.Rate < 0:
		return fmt.Errorf("rate %v: must not be negative", c.Rate)
	case c.KillRatio < 0 || c.KillRatio > 1:
		return fmt.Errorf("kill ratio %v: a share between 0 and 1", c.KillRatio)
	case c.Duration < 0:
		return fmt.Errorf("duration %v: must not be negative", c.Duration)
	case c.Sources < 0 || c.Sources > 250:
		return fmt.Errorf("sources %d: between 1 and 250 loopback addresses", c.Sources)
	case (c.RelayURL == "") != (c.FCMURL == ""):
		return fmt.Errorf("give both --relay and --fcm, or neither")
	case c.Nodes < 0:
		return fmt.Errorf("nodes %d: must not be negative", c.Nodes)
	case c.Nodes >= 2 && c.RelayURL != "":
		return fmt.Errorf("nodes %d: a cluster is started by the run; --relay names a relay already running", c.Nodes)
	case c.MemoryStore && c.JournalStore:
		return fmt.Errorf("--memory-store and --journal-store: the started relay runs on one store; give one of them, or neither for SQLite")
	case c.Nodes >= 2 && (c.MemoryStore || c.JournalStore):
		return fmt.Errorf("nodes %d: a cluster keeps its state in PostgreSQL, shared by the nodes; %s is for one relay", c.Nodes, c.storeFlag())
	case c.RelayURL != "" && len(c.startedRelaySettings()) > 0:
		return fmt.Errorf("%s: settings of the relays the run starts; RelayURL names a relay already running", strings.Join(c.startedRelaySettings(), ", "))
	case c.Nodes < 2 && (c.Postgres != "" || c.NATS != ""):
		return fmt.Errorf("--postgres and --nats are the servers of a cluster: give --nodes N (N ≥ 2) too")
	case c.Procs < 0:
		return fmt.Errorf("load processes %d: must not be negative", c.Procs)
	case c.Procs > 1 && c.TLS != nil:
		return fmt.Errorf("load processes %d: a worker process cannot be handed a TLS configuration; trust the CA through SSL_CERT_FILE instead", c.Procs)
	}
	return nil
}

// startedRelaySettings names the settings made in c that are about the relays RunLive starts
// itself: neither a run against a relay already running (RelayURL) nor one on a world can
// honour them.
func (c Config) startedRelaySettings() []string {
	var set []string
	for _, s := range []struct {
		name string
		made bool
	}{{"RelayBin", c.RelayBin != ""}, {"MemoryStore", c.MemoryStore}, {"JournalStore", c.JournalStore},
		{"RelayLogs", c.RelayLogs != ""}, {"Nodes", c.Nodes >= 2}, {"Postgres", c.Postgres != ""}, {"NATS", c.NATS != ""}} {
		if s.made {
			set = append(set, s.name)
		}
	}
	return set
}

// storeFlag names the pushsim load flag of the store c starts its relay on other than SQLite
// ("--memory-store" or "--journal-store"), or "" for SQLite.
func (c Config) storeFlag() string {
	switch {
	case c.MemoryStore:
		return "--memory-store"
	case c.JournalStore:
		return "--journal-store"
	}
	return ""
}

// fdHeadroom is how many of a process's open files are kept for other than phones: HTTP
// connections to fakefcm and the relay's admin API, pipes, log files.
func fdHeadroom(limit int) int { return max(256, limit/40) }

// procs is how many processes hold the phones, under an open-file limit of limit per process:
// Procs when set, else one while every phone (and, when fakefcm runs in this process, the
// server side of each killed phone's FCM channel) fits with headroom, else as many workers as
// the phones need.
func (c Config) procs(limit int) int {
	if c.Procs > 0 {
		return c.Procs
	}
	phones := c.Devices + c.Senders
	need := phones
	if c.FCMURL == "" {
		need += int(float64(c.Devices) * c.KillRatio)
	}
	room := limit - fdHeadroom(limit)
	if need <= room || room <= 0 {
		return 1
	}
	return max(2, (phones+room-1)/room)
}

// fileLimit is this process's open-file limit (Go raises the soft limit to the hard one at
// start); a large number when it cannot be read.
func fileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(l.Cur)
}

// killed reports whether phone i is one of the killed ones (spread evenly).
func (c Config) killed(i int) bool {
	if c.KillRatio <= 0 {
		return false
	}
	every := 1 / c.KillRatio
	return int(float64(i)/every) != int(float64(i+1)/every)
}

// meter collects what a run measures; safe for concurrent use.
type meter struct {
	mu        sync.Mutex
	start     time.Time
	sent      map[string]time.Time // message text → when its send left the sender (RunWorld)
	seen      map[string]bool      // texts whose push arrived (RunLive: the text says when it left)
	latencies []float64            // ms, every push arrival
	window    []float64            // ms, arrivals since the last sample
	messages  int                  // sends the relay acknowledged
	busy      int                  // sends the relay refused as busy (relay.CodeBusy)
	unsent    int                  // messages the senders hold (run.countUnsent): after the drain, never taken
	pushes    int
	errors    int
	connected int
	peak      int // the most phones connected at once
	series    []reports.Sample
	// sendStart is when sending began; lastAck and lastPush when the latest send was
	// acknowledged and the latest push arrived: rates are counted up to them, so that a backlog
	// that drains after the sending stopped does not flatter the figures.
	sendStart, lastAck, lastArrival time.Time
	lastMsgs                        int
	lastPush                        int
	firstErr                        error
	// pending holds the sends awaiting their reply, by frame ID, when sends are tracked (not
	// nil: Config.CheckAcked); acked the tracked sends the relay acknowledged.
	pending map[int64]sentMsg
	acked   []sentMsg
}

// sentMsg is a tracked send: its recipient (the target phone's index) and its text.
type sentMsg struct {
	to   int
	text string
}

func newMeter(start time.Time) *meter {
	return &meter{start: start, sent: map[string]time.Time{}, seen: map[string]bool{}}
}

// track keeps a send until its reply, so that an acknowledged one can be looked for afterwards;
// it does nothing unless sends are tracked.
func (m *meter) track(id int64, to int, text string) {
	m.mu.Lock()
	if m.pending != nil {
		m.pending[id] = sentMsg{to: to, text: text}
	}
	m.mu.Unlock()
}

// reply counts the relay's reply to a send: acknowledged (code 0; kept when tracked), busy
// (relay.CodeBusy), or refused (an error).
func (m *meter) reply(id int64, code relay.Code, desc string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg, tracked := m.pending[id]
	delete(m.pending, id)
	switch code {
	case relay.OK:
		m.messages++
		m.lastAck = at
		if tracked {
			m.acked = append(m.acked, msg)
		}
	case relay.CodeBusy:
		m.busy++
	default:
		m.errors++
		if m.firstErr == nil {
			m.firstErr = fmt.Errorf("send refused: %d %s", code, desc)
		}
	}
}

// ackedByRecipient is the tracked sends the relay acknowledged, their texts by recipient.
func (m *meter) ackedByRecipient() map[int][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	by := map[int][]string{}
	for _, a := range m.acked {
		by[a.to] = append(by[a.to], a.text)
	}
	return by
}

func (m *meter) error(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errors++
	if m.firstErr == nil {
		m.firstErr = err
	}
}

func (m *meter) sending(text string, at time.Time) {
	m.mu.Lock()
	m.sent[text] = at
	m.mu.Unlock()
}

func (m *meter) acknowledged(at time.Time) {
	m.mu.Lock()
	m.messages++
	m.lastAck = at
	m.mu.Unlock()
}

func (m *meter) startSending(at time.Time) {
	m.mu.Lock()
	m.sendStart = at
	m.mu.Unlock()
}

// arrived notes a push on a killed phone's FCM channel.
func (m *meter) arrived(text string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sent, ok := m.sent[text]
	if !ok {
		return // a summary or a push of another run
	}
	delete(m.sent, text)
	ms := float64(at.Sub(sent).Microseconds()) / 1000
	m.latencies = append(m.latencies, ms)
	m.window = append(m.window, ms)
	m.pushes++
	m.lastArrival = at
}

// delivered notes a push on a killed phone's FCM channel whose message left at sent; a second
// push of the same text is not counted again.
func (m *meter) delivered(text string, sent, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[text] {
		return
	}
	m.seen[text] = true
	ms := float64(at.Sub(sent).Microseconds()) / 1000
	m.latencies = append(m.latencies, ms)
	m.window = append(m.window, ms)
	m.pushes++
	m.lastArrival = at
}

// sample closes a one-second window.
func (m *meter) sample(at time.Time, over time.Duration) reports.Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := reports.Sample{AtMs: at.Sub(m.start).Milliseconds(), Connected: m.connected,
		Messages: float64(m.messages-m.lastMsgs) / over.Seconds(), Pushes: float64(m.pushes-m.lastPush) / over.Seconds(),
		P99Ms: reports.Percentile(m.window).P99}
	m.lastMsgs, m.lastPush, m.window = m.messages, m.pushes, nil
	m.series = append(m.series, s)
	return s
}

// Result is a live run's figures: the report's, and what the bench reads besides.
type Result struct {
	reports.Load
	// Busy counts the sends the relay answered "busy, retry" (relay.CodeBusy): not acknowledged, not
	// errors. While the sending lasts the senders send each refused message again after a backoff
	// (outbox.go), so a message may count more than once.
	Busy int
	// Unsent counts the messages the senders still held after the drain: refused and not sent
	// again before the sending ended, or made and never sent (behind a refusal, or while a sender
	// caught up one send at a time). They were offered but never taken.
	Unsent int
	// AckedChecked is how many acknowledged sends Config.CheckAcked looked for, AckedLost how
	// many of them the relay did not keep, and FirstLost the first of those (its text and user).
	AckedChecked, AckedLost int
	FirstLost               string
	// RelayPeakRSS is the started relays' peak resident memory over the run (the kernel's
	// high-water mark, VmHWM), summed; RelayRSSMid and RelayRSSEnd their resident memory halfway
	// through the sending and at its end. Zero where not measured (a relay this run did not
	// start).
	RelayPeakRSS, RelayRSSMid, RelayRSSEnd int64
	// CPU is the processor time the started relays and this process used from the start of the
	// sending to the end of the drain, the stretch whose pushes PushesPerSecond counts (a worker
	// process's, with --load-procs above 1, is not in Bench). Zero where not measured.
	CPU CPUUse
}

// result sums a run up; sendTime is how long messages were being sent. Rates count up to the
// latest acknowledgement or arrival when that came later.
func (m *meter) result(cfg Config, sendTime time.Duration, bytesPerConn float64) Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	over := func(last time.Time) float64 {
		return max(sendTime, last.Sub(m.sendStart)).Seconds()
	}
	return Result{Busy: m.busy, Unsent: m.unsent, Load: reports.Load{
		Devices: cfg.Devices, Connected: m.connected, PeakConnected: m.peak, Messages: m.messages, Pushes: m.pushes,
		MessagesPerSecond:       float64(m.messages) / over(m.lastAck),
		PushesPerSecond:         float64(m.pushes) / over(m.lastArrival),
		PushLatencyMs:           reports.Percentile(m.latencies),
		RelayBytesPerConnection: bytesPerConn, Errors: m.errors, FirstError: errText(m.firstErr), Series: slices.Clone(m.series),
	}}
}

// errText is err's text, or empty for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
