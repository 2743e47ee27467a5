package sim

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/pushlab/pushlab/internal/prefetch"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/timerq"
	"github.com/pushlab/pushlab/relay"
)

// DayConfig sizes a "day in the life": many phones whose users open the app a few times a day,
// chat while it is open, send it to the background, swipe it away, and receive pushes while it is
// killed — with heartbeats all along.
type DayConfig struct {
	Seed     uint64
	Devices  int           // default 10,000
	Duration time.Duration // default 24 h
	// Messages each device sends over the day (default 50), while its app is open.
	Messages int
	// Sessions is how many times a day each app is opened (default 6); a session lasts 10 to 30
	// minutes, the last third of it in the background, and ends with a kill.
	Sessions int
	// MeasureHeap collects garbage once the day is done (outside Wall) and reports the live
	// heap in DayResult.LiveHeap: what the world holds after a day.
	MeasureHeap bool

	// tune, if set, adjusts the virtual world's config before it is built (tests: the event log,
	// eager heartbeats).
	tune func(*VirtualConfig)
	// cold turns the plan's warming off (dayPlan.warm; tests compare a day with and without).
	cold bool
}

// DayResult is what a day produced.
type DayResult struct {
	Devices  int           // phones simulated
	Events   uint64        // engine events run
	Virtual  time.Duration // virtual time simulated
	Wall     time.Duration // real time taken
	Sent     int           // messages the apps sent
	Pushes   int           // pushes the relay handed to FCM
	Received int           // pushes that reached phones
	LiveHeap uint64        // bytes live once the day is done, with MeasureHeap

	logHash uint64 // the event log's hash, when a tune turned the log on
}

// PerPhone is the wall time the day took per phone: flat as the day grows if its cost is linear.
func (r DayResult) PerPhone() time.Duration { return r.Wall / time.Duration(max(r.Devices, 1)) }

// EventsPerSecond is the simulator's speed.
func (r DayResult) EventsPerSecond() float64 { return float64(r.Events) / r.Wall.Seconds() }

// Speedup is how many times faster than real time the day ran.
func (r DayResult) Speedup() float64 { return r.Virtual.Seconds() / r.Wall.Seconds() }

// RunDay simulates a day in the life of cfg.Devices phones and measures it. now tells the real
// time (time.Now; a parameter so that the simulator itself never reads the wall clock).
func RunDay(cfg DayConfig, now func() time.Time) (DayResult, error) {
	if cfg.Devices == 0 {
		cfg.Devices = 10_000
	}
	if cfg.Devices < 0 || cfg.Devices > maxDayPhones {
		return DayResult{}, fmt.Errorf("a day of %d phones: give 1 to %d (0 for the default 10,000)", cfg.Devices, maxDayPhones)
	}
	if cfg.Duration == 0 {
		cfg.Duration = 24 * time.Hour
	}
	if cfg.Messages == 0 {
		cfg.Messages = 50
	}
	if cfg.Sessions == 0 {
		cfg.Sessions = 6
	}
	const app, secretKey = 1400000001, "day-in-the-life-secret-0123"
	vcfg := VirtualConfig{Seed: cfg.Seed, Lean: true, FastPushes: true, FCMCountsOnly: true, LazyHeartbeats: true, Relay: relay.Config{InboxLimit: 1000, TraceLimit: 10_000}}
	if cfg.tune != nil {
		cfg.tune(&vcfg)
	}
	w, err := NewVirtual(vcfg)
	if err != nil {
		return DayResult{}, err
	}
	if err := w.AddApp(relay.AppConfig{SDKAppID: app, SecretKey: secret.New(secretKey), LoginPolicy: relay.PolicyMulti}); err != nil {
		return DayResult{}, err
	}
	sender, err := w.AddCertificate(CertificateSpec{ID: 1, SDKAppID: app, PackageName: "com.example.im", API: "v1"})
	if err != nil {
		return DayResult{}, err
	}
	rng := Rand(cfg.Seed, "day")
	start := w.Now()
	res := DayResult{Devices: cfg.Devices}
	devices := make([]*Device, cfg.Devices)
	users := make([]string, cfg.Devices) // the phones' users, the recipients of their sends
	for i := range devices {
		users[i] = fmt.Sprintf("u%d", i)
		devices[i] = w.AddDevice(DeviceConfig{ID: fmt.Sprintf("d%d", i), User: users[i], SDKAppID: app,
			AppSecret: secretKey, CertificateID: 1, SenderID: sender, Package: "com.example.im", Installed: true})
	}
	// Plan each phone's day — sessions spread over the day, messages sent within them — into one
	// list of every phone's actions in time order, which the engine follows (Engine.follow): the
	// event queue holds none of them. The list holds some 70 actions a phone all day long: a step
	// is kept to 16 bytes.
	slot := cfg.Duration / time.Duration(cfg.Sessions)
	perSession := cfg.Messages / cfg.Sessions
	dp := &dayPlan{start: timerq.Nanos(start), users: users, res: &res, w: w, app: app, cold: cfg.cold,
		steps:  make([]step, 0, cfg.Devices*(3*cfg.Sessions+cfg.Messages)), // an open, a background and a kill a session
		phones: make([]planPhone, cfg.Devices)}
	for i, d := range devices {
		dp.phones[i] = planPhone{d: d, first: true}
		add := func(at time.Duration, kind actKind, to int32) {
			dp.steps = append(dp.steps, step{at: at, who: uint32(i)<<2 | uint32(kind), to: to})
		}
		for s := range cfg.Sessions {
			open := time.Duration(s)*slot + time.Duration(rng.Int64N(int64(slot/2)))
			length := 10*time.Minute + time.Duration(rng.Int64N(int64(20*time.Minute)))
			add(open, actOpen, 0)
			for range perSession + boolInt(s < cfg.Messages%cfg.Sessions) {
				at := open + time.Minute + time.Duration(rng.Int64N(int64(length-2*time.Minute)))
				add(at, actSend, int32(rng.IntN(cfg.Devices)))
			}
			add(open+length*2/3, actBackground, 0)
			add(open+length, actKill, 0)
		}
	}
	// In time order, and at the same instant by phone, then kind, then recipient: an order that
	// does not depend on the sort. At 100,000 phones the sort takes about a second, before the
	// day's clock starts, as the rest of the plan's making does.
	slices.SortFunc(dp.steps, func(a, b step) int {
		switch {
		case a.at != b.at:
			return cmp.Compare(a.at, b.at)
		case a.who != b.who:
			return cmp.Compare(a.who, b.who)
		}
		return cmp.Compare(a.to, b.to)
	})
	w.eng.follow(dp)
	w.OnTrace(func(e relay.TraceEntry) {
		if e.Reason == relay.ReasonPushed {
			res.Pushes++
		}
	})
	w.OnObserve(func(_ *Device, o Observation) {
		if o.Kind == ObsPush {
			res.Received++
		}
	})
	began := now()
	w.eng.RunUntil(start.Add(cfg.Duration))
	res.Wall = now().Sub(began)
	w.eng.follow(nil) // what is left of the plan is not part of the world the day leaves
	res.Events = w.eng.Events()
	res.Virtual = cfg.Duration
	res.logHash, _ = w.EventLog()
	if cfg.MeasureHeap {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res.LiveHeap = ms.HeapAlloc
		runtime.KeepAlive(w)
	}
	return res, nil
}

// actKind is what a planned action does: one of four, which a step packs in two bits.
type actKind uint8

const (
	actOpen actKind = iota
	actSend
	actBackground
	actKill
)

// step is one planned action of one phone.
type step struct {
	at  time.Duration // since the day's start
	who uint32        // the phone acting (an index in dayPlan.phones) << 2 | the action's kind
	to  int32         // a send's recipient: an index in dayPlan.users
}

// maxDayPhones is the most phones a day plans for: a step holds a phone's index in 30 bits.
const maxDayPhones = 1 << 30

// phone is the index of the phone taking the step.
func (s step) phone() uint32 { return s.who >> 2 }

// kind is what the step does.
func (s step) kind() actKind { return actKind(s.who & 3) }

// dayPlan walks every phone through its planned day: the engine's plan (Engine.follow).
type dayPlan struct {
	start  int64       // the day's start (Unix nanoseconds), what steps' times count from
	steps  []step      // in time order; steps[0] is the next
	phones []planPhone // by index
	users  []string    // every phone's user, by index: the recipients of sends
	res    *DayResult
	// w is the world whose cores the plan warms (warm), app the phones' app; warmed counts the
	// steps from steps[0] on whose records have been warmed.
	w      *VirtualWorld
	app    uint64
	warmed int
	cold   bool // warm nothing
}

// warmAhead is how many steps the plan warms together (warm). Eight steps span some sixty of the
// day's events at any size (a send's own come within a dozen of its step), about a tenth of a
// millisecond of the loop's time, and their records fit in a core's cache many times over.
const warmAhead = 8

// warm starts fetching, for the sends among steps, the records that the phones, the relay's core
// and fakefcm's core will read for them: the phones' own, then, through the cores' hints
// (relay.Core.Warm, fakefcm.Core.WarmTokens), the cores'. It changes nothing.
//
// At 100,000 phones every one of those records is a first read costing several hundred
// nanoseconds, a dozen and more per message, each waited for in turn as the events reach it.
// Here a level of them is fetched at once for the steps together: the plan's records of the
// phones, then the phones, then their links and users' IDs, then the cores' records. The
// steps' events follow within moments of the world's time (a message crosses to the relay in
// 20 ms), while what was fetched is still in the cache.
func (p *dayPlan) warm(steps []step) {
	var sends [warmAhead]step
	n := 0
	for _, s := range steps {
		if s.kind() == actSend {
			prefetch.Of(&p.phones[s.phone()])
			prefetch.Of(&p.phones[s.to])
			prefetch.Of(&p.users[s.phone()])
			prefetch.Of(&p.users[s.to])
			sends[n] = s
			n++
		}
	}
	if n == 0 {
		return
	}
	for _, s := range sends[:n] {
		prefetch.Of(p.phones[s.phone()].d)
		prefetch.Of(p.phones[s.to].d)
		prefetch.String(p.users[s.phone()])
		prefetch.String(p.users[s.to])
	}
	var hints [warmAhead]relay.SendHint
	var tokens [warmAhead]string
	for i, s := range sends[:n] {
		from, to := p.phones[s.phone()].d, p.phones[s.to].d
		prefetch.Of(linkOf(from.link))
		prefetch.Of(linkOf(to.link))
		if f, ok := to.fcm.(*vfcm); ok {
			prefetch.Of(f)
		}
		hints[i] = relay.SendHint{SDKAppID: p.app, From: p.users[s.phone()], To: p.users[s.to]}
		tokens[i] = to.token
	}
	if p.w.relay != nil {
		p.w.relay.Warm(hints[:n])
	}
	p.w.fcm.WarmTokens(tokens[:n])
}

// linkOf is the virtual connection behind a phone's link to the relay, or nil.
func linkOf(l RelayLink) *vconn {
	c, _ := l.(*vconn)
	return c
}

// planPhone is what the plan keeps of a phone.
type planPhone struct {
	d     *Device
	first bool // its app has not been opened yet
	sent  int
}

// nextAt (plan) is when the next step is due.
func (p *dayPlan) nextAt() (int64, bool) {
	if len(p.steps) == 0 {
		return 0, false
	}
	return p.start + int64(p.steps[0].at), true
}

// runNext (plan) takes the next step.
func (p *dayPlan) runNext() {
	if !p.cold {
		if p.warmed == 0 {
			p.warmed = min(len(p.steps), warmAhead)
			p.warm(p.steps[:p.warmed])
		}
		p.warmed--
	}
	a := p.steps[0]
	p.steps = p.steps[1:]
	if len(p.steps) == 0 {
		p.steps = nil // the spent plan's memory goes
	}
	ph := &p.phones[a.phone()]
	switch a.kind() {
	case actOpen:
		if ph.first {
			ph.first = false
			ph.d.Login(true)
		} else {
			ph.d.Relaunch()
		}
	case actSend:
		ph.sent++
		if ph.d.Send(relay.ClientFrame{To: p.users[a.to], Text: "m" + strconv.Itoa(ph.sent)}) {
			p.res.Sent++
		}
	case actBackground:
		ph.d.Background(0)
	case actKill:
		ph.d.Kill()
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
