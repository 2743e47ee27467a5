package sim

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/pushlab/pushlab/internal/secret"
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
	// Plan each phone's day — sessions spread over the day, messages sent within them — and
	// schedule only each phone's next action, so the event queue holds about one entry per phone.
	// A plan holds some 70 actions a phone all day long: an action is kept to 16 bytes.
	slot := cfg.Duration / time.Duration(cfg.Sessions)
	perSession := cfg.Messages / cfg.Sessions
	var sends []action
	for _, d := range devices {
		plan := make([]action, 0, 3*cfg.Sessions+cfg.Messages) // an open, a background and a kill a session
		for s := range cfg.Sessions {
			open := time.Duration(s)*slot + time.Duration(rng.Int64N(int64(slot/2)))
			length := 10*time.Minute + time.Duration(rng.Int64N(int64(20*time.Minute)))
			plan = append(plan, action{at: open, kind: actOpen})
			sends = sends[:0]
			for range perSession + boolInt(s < cfg.Messages%cfg.Sessions) {
				at := open + time.Minute + time.Duration(rng.Int64N(int64(length-2*time.Minute)))
				sends = append(sends, action{at: at, kind: actSend, to: int32(rng.IntN(cfg.Devices))})
			}
			slices.SortFunc(sends, func(a, b action) int { return cmp.Compare(a.at, b.at) })
			plan = append(plan, sends...)
			plan = append(plan, action{at: open + length*2/3, kind: actBackground}, action{at: open + length, kind: actKill})
		}
		slices.SortStableFunc(plan, func(a, b action) int { return cmp.Compare(a.at, b.at) })
		p := &phonePlan{w: w, d: d, start: start, users: users, plan: plan, res: &res, first: true}
		p.next()
	}
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

// actKind is what a planned action does.
type actKind uint8

const (
	actOpen actKind = iota
	actSend
	actBackground
	actKill
)

// action is one planned step of a phone's day.
type action struct {
	at   time.Duration // since the day's start
	to   int32         // a send's recipient: an index in phonePlan.users
	kind actKind
}

// phonePlan walks one phone through its planned day, one scheduled action at a time.
type phonePlan struct {
	w     *VirtualWorld
	d     *Device
	start time.Time // the day's start, what actions' times count from
	users []string  // every phone's user, shared by the plans
	plan  []action  // plan[0] is the action scheduled, the others still to come; nil once done
	res   *DayResult
	first bool
	sent  int
}

// next schedules the plan's first action.
func (p *phonePlan) next() {
	if len(p.plan) > 0 {
		p.w.eng.push(p.start.Add(p.plan[0].at), p)
	} else {
		p.plan = nil
	}
}

// happen (event) does the scheduled action and schedules the one after it.
func (p *phonePlan) happen() {
	a := p.plan[0]
	p.plan = p.plan[1:]
	p.do(a)
	p.next()
}

func (p *phonePlan) do(a action) {
	switch a.kind {
	case actOpen:
		if p.first {
			p.first = false
			p.d.Login(true)
		} else {
			p.d.Relaunch()
		}
	case actSend:
		p.sent++
		if p.d.Send(relay.ClientFrame{To: p.users[a.to], Text: fmt.Sprintf("m%d", p.sent)}) {
			p.res.Sent++
		}
	case actBackground:
		p.d.Background(0)
	case actKill:
		p.d.Kill()
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
