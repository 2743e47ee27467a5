// Package fakefcm is the deterministic core of the fake Firebase Cloud Messaging service: its
// projects, devices, pending queues, throttles, faults and the record of every message's fate.
//
// The core never reads a clock, starts a goroutine or does I/O. Every method takes the current
// time; randomness comes from the seed in Config. What the core wants done — a message handed to a
// device, a device channel closed — collects in an outbox that the caller drains with TakeOutbox,
// and NextWake says when the core wants Tick to be called next. The HTTP shell in
// fakefcm/server and the simulator in sim/ both drive it this way.
//
// The wire formats of FCM (HTTP v1, its error bodies, the legacy API) live here too, as pure
// decoders and renderers, so that both drivers share them.
package fakefcm

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/timerq"
)

// Config is what a Core is built from.
type Config struct {
	// Seed feeds every random choice the core makes (tokens, keys, latency jitter, loss).
	Seed uint64
	// Behaviour is how the fake delivers and throttles; zero fields take FCM's defaults.
	Behaviour Behaviour
	// MaxRecords is how many message records the core keeps: past it the oldest finished ones
	// are forgotten. Zero means DefaultMaxRecords; negative keeps everything.
	MaxRecords int
	// CountsOnly keeps no message records, only the counts Stats reports: Records and Record find
	// nothing. For long simulations that read no record (a day of a hundred thousand phones would
	// otherwise keep millions); servers and scenarios keep the records.
	CountsOnly bool
}

// Behaviour is fakefcm's configurable delivery behaviour. The zero value is FCM's documented
// behaviour with instant delivery.
type Behaviour struct {
	// Latency is added to every delivery, from acceptance (or from the device's reconnection)
	// to the message leaving for the device.
	Latency duration.Duration `json:"latency,omitempty" yaml:"latency"`
	// Jitter adds a uniformly drawn extra delay in [0, Jitter) to each delivery.
	Jitter duration.Duration `json:"jitter,omitempty" yaml:"jitter"`
	// Loss is the probability in [0, 1] that an accepted message is silently never delivered.
	Loss float64 `json:"loss,omitempty" yaml:"loss"`
	// NormalPriorityDelay is added to normal-priority deliveries, standing for a dozing device's
	// maintenance window.
	NormalPriorityDelay duration.Duration `json:"normalPriorityDelay,omitempty" yaml:"normalPriorityDelay"`
	// TokenExpiry is how long a token may stay inactive (no device channel open since its last
	// connection or disconnection) before sends get UNREGISTERED. Zero means FCM's 270 days;
	// negative means never.
	TokenExpiry duration.Duration `json:"tokenExpiry,omitempty" yaml:"tokenExpiry"`
	// Throttles are FCM's rate limits.
	Throttles Throttles `json:"throttles,omitzero" yaml:"throttles"`
}

// Validate reports a setting that cannot work, naming it.
func (b Behaviour) Validate() error {
	if b.Loss < 0 || b.Loss > 1 {
		return fmt.Errorf("loss %v: must be a probability between 0 and 1", b.Loss)
	}
	for _, d := range []struct {
		name string
		v    duration.Duration
	}{{"latency", b.Latency}, {"jitter", b.Jitter}, {"normalPriorityDelay", b.NormalPriorityDelay}} {
		if d.v < 0 {
			return fmt.Errorf("%s %v: must not be negative", d.name, d.v)
		}
	}
	return b.Throttles.Validate()
}

// DefaultTokenExpiry is how long Android keeps an inactive token (FCM.md).
const DefaultTokenExpiry = 270 * 24 * time.Hour

func (b Behaviour) tokenExpiry() time.Duration {
	if b.TokenExpiry == 0 {
		return DefaultTokenExpiry
	}
	return b.TokenExpiry.D()
}

// Core is the fake FCM's state machine. It is not safe for concurrent use: a shell serialises
// calls to it.
type Core struct {
	behaviour Behaviour
	rng       *rand.Rand

	projects    map[string]*project // by project ID
	bySender    map[string]*project
	byServerKey map[string]*project
	devices     map[string]*device // by token, including unregistered ones

	records     []*Record
	recordSeq   int64
	maxRecords  int
	countsOnly  bool
	byToken     map[string][]*Record
	byMessageID map[string]*Record
	timerPushes uint64
	faults      []*fault
	timers      timerq.Queue[timer]
	outbox      []Delivery
	msgSeq      uint64
	stats       Stats
	now         time.Time
}

// New returns a Core with no projects and no devices, or an error naming a behaviour setting that
// cannot work.
func New(cfg Config) (*Core, error) {
	if err := cfg.Behaviour.Validate(); err != nil {
		return nil, err
	}
	c := &Core{
		rng:         rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		projects:    map[string]*project{},
		bySender:    map[string]*project{},
		byServerKey: map[string]*project{},
		devices:     map[string]*device{},
		byToken:     map[string][]*Record{},
		byMessageID: map[string]*Record{},
		maxRecords:  cfg.MaxRecords,
		countsOnly:  cfg.CountsOnly,
	}
	if c.maxRecords == 0 {
		c.maxRecords = DefaultMaxRecords
	}
	c.behaviour = cfg.Behaviour
	c.behaviour.Throttles = c.behaviour.Throttles.withDefaults()
	return c, nil
}

// SetBehaviour replaces the delivery behaviour. When the throttle settings change, the new limits
// apply to devices and projects from their next message on; otherwise their windows and buckets
// keep counting.
func (c *Core) SetBehaviour(b Behaviour) error {
	if err := b.Validate(); err != nil {
		return err
	}
	b.Throttles = b.Throttles.withDefaults()
	changed := b.Throttles != c.behaviour.Throttles
	c.behaviour = b
	if changed {
		for _, p := range c.projects {
			p.quota = nil
		}
		for _, d := range c.devices {
			d.limits = nil
		}
	}
	return nil
}

// Behaviour returns the delivery behaviour in force, with defaults filled in.
func (c *Core) Behaviour() Behaviour { return c.behaviour }

// observe moves the core's notion of the present forward; time never goes back inside the core.
func (c *Core) observe(now time.Time) time.Time {
	if now.After(c.now) {
		c.now = now
	}
	return c.now
}

// DeliveryKind says what a Delivery asks the driver to do on a device channel.
type DeliveryKind string

// The things a Delivery can ask for.
const (
	// DeliverMessage: write Frame (a message) to the device; the device acknowledges it with Ack.
	DeliverMessage DeliveryKind = "message"
	// DeliverDeleted: tell the device that messages were discarded (onDeletedMessages).
	DeliverDeleted DeliveryKind = "deleted"
	// CloseChannel: the token is no longer valid; close its device channel.
	CloseChannel DeliveryKind = "close"
)

// Delivery is one piece of work on a device channel that the core hands to its driver.
type Delivery struct {
	Token string
	Kind  DeliveryKind
	// Message is set for DeliverMessage.
	Message *RemoteMessage
}

// DeviceFrame is what fakefcm writes on a device channel, as JSON.
type DeviceFrame struct {
	Type    DeliveryKind   `json:"type"` // "message" or "deleted"
	Message *RemoteMessage `json:"message,omitempty"`
}

// DeviceAck is what a device writes on its channel to acknowledge a message.
type DeviceAck struct {
	Ack string `json:"ack"` // the message ID
}

// TakeOutbox returns the deliveries the core has produced since the last call, in order, and
// forgets them. The driver carries them out in that order.
func (c *Core) TakeOutbox() []Delivery {
	out := c.outbox
	c.outbox = nil
	return out
}

// NextWake returns when the core next needs Tick, and false if nothing is scheduled.
func (c *Core) NextWake() (time.Time, bool) {
	for {
		at, t, ok := c.timers.Peek()
		if !ok || t.live() {
			return at, ok
		}
		c.timers.Pop()
	}
}

// Tick runs everything scheduled at or before now: deliveries leaving after their latency,
// throttled messages whose window reopened, messages whose TTL ran out.
func (c *Core) Tick(now time.Time) {
	now = c.observe(now)
	for {
		_, t, ok := c.timers.PopDue(now)
		if !ok {
			return
		}
		if !t.live() {
			continue
		}
		switch t.kind {
		case timerDispatch:
			c.dispatch(t.entry, now)
		case timerExpire:
			c.expire(t.entry, now)
		case timerFlush:
			t.dev.flushAt = time.Time{}
			c.flush(t.dev, now)
		}
	}
}

// timerKind names what a timer does when it fires.
type timerKind uint8

const (
	timerDispatch timerKind = iota // an entry leaves for its device
	timerExpire                    // an entry's TTL runs out
	timerFlush                     // a device's throttle window reopens
)

type timer struct {
	kind  timerKind
	entry *entry  // timerDispatch, timerExpire
	dev   *device // timerFlush
	gen   uint64  // the entry's or device's generation when set; stale timers are skipped
}

// live reports whether the timer still applies: the state it was set for has not moved on.
func (t timer) live() bool {
	switch t.kind {
	case timerFlush:
		return t.dev.flushGen == t.gen
	default:
		return t.entry.gen == t.gen
	}
}

func (c *Core) setTimer(at time.Time, kind timerKind, e *entry, d *device) {
	t := timer{kind: kind, entry: e, dev: d} // held in the queue by value: no allocation per timer
	if d != nil {
		t.gen = d.flushGen
	} else {
		t.gen = e.gen
	}
	c.timers.Push(at, t)
	// Timers whose entry moved on stay in the heap until they come due; sweep them out now and
	// then so that a long run's heap holds live timers only.
	if c.timerPushes++; c.timerPushes%8192 == 0 {
		c.timers.Filter(func(t timer) bool { return t.live() })
	}
}

// Stats are running totals for metrics.
type Stats struct {
	Accepted  int64
	Rejected  map[ErrorCode]int64
	Delivered int64
	Dropped   map[Fate]int64
	// Throttled counts messages that a throttle delayed (delay mode) or refused (reject mode).
	Throttled map[string]int64
	Pending   int
	Devices   int
	Connected int
}

// Stats returns a copy of the running totals.
func (c *Core) Stats() Stats {
	s := Stats{
		Accepted: c.stats.Accepted, Delivered: c.stats.Delivered,
		Rejected: cloneMap(c.stats.Rejected), Dropped: cloneMap(c.stats.Dropped), Throttled: cloneMap(c.stats.Throttled),
	}
	for _, d := range c.devices {
		if d.registered {
			s.Devices++
		}
		if d.connected {
			s.Connected++
		}
		s.Pending += len(d.pending)
	}
	return s
}

func cloneMap[K comparable](m map[K]int64) map[K]int64 {
	out := make(map[K]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func bump[K comparable](m *map[K]int64, k K) {
	if *m == nil {
		*m = map[K]int64{}
	}
	(*m)[k]++
}

// jitter draws a delay in [0, max).
func (c *Core) jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(c.rng.Int64N(int64(max)))
}

// laterOf returns the later of two times.
func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
