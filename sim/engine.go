// Package sim is pushlab's simulation: the world port (World) every consumer drives — scenario
// runner, property tests, load generator — and its virtual twin (VirtualWorld): a virtual clock
// and event scheduler (Engine), a virtual network between simulated devices with the link rules
// both twins share (Links), the relay core and fakefcm's core; and the model of an Android phone
// with the app and its FCM SDK (Device). The live and remote twins, the same devices over real
// sockets, are in sim/live; this package opens no socket and starts no goroutine.
//
// The virtual twin reuses the relay and fakefcm cores unchanged: it feeds them events at
// virtual times and carries out what they return, as their HTTP shells do on the real clock. Time
// jumps from one event to the next, so a simulated day runs in seconds, and one seed fixes every
// random draw (network jitter and loss, the cores' own seeds), so a seed replays a run exactly.
package sim

import (
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/pushlab/pushlab/internal/timerq"
)

// Epoch is where virtual time starts: a fixed date, so that runs and reports read the same.
var Epoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Engine is the virtual clock and its event queue, and the plan it may follow. Events run in time
// order; events queued for the same time in the order they were scheduled, and before the plan's
// for that time. It is not safe for concurrent use.
type Engine struct {
	now    time.Time
	nowNs  int64 // now in Unix nanoseconds, for the queue
	q      timerq.Split[event]
	plan   plan // nil: none
	events uint64
}

// A plan is a run's events that are known before it starts, in time order: a day in the life's
// planned actions of every phone. The engine takes them from the plan in turn, interleaved with
// its queue, rather than queueing each: the plan is read front to back, where a queue entry for
// each phone's next action would sit in a heap of one entry per phone, and reach the phone's
// own list of actions, both far apart in memory once the run holds many phones. At the same
// instant, queued events run before the plan's; an event of the plan whose time has passed is
// due at the present, as one queued for a past time is.
type plan interface {
	// nextAt is when the plan's next event is due (Unix nanoseconds); ok is false once it has
	// none left.
	nextAt() (at int64, ok bool)
	// runNext runs the plan's next event and moves past it.
	runNext()
}

// follow has the engine run p's events, at their times, from now on, in place of any plan it
// followed before; nil: follow none.
func (e *Engine) follow(p plan) { e.plan = p }

// An event is what the engine runs when its time comes: a function (At), or an object of the
// simulator that carries out its own next step — a timer, a lane's next frame. The queue then
// points at the object itself: a closure would be one more object for each event to reach, and
// at 100,000 phones one more cache miss for each.
type event interface{ happen() }

// funcEvent is a function queued by At.
type funcEvent func()

func (f funcEvent) happen() { f() }

// NewEngine returns an engine whose clock reads start.
func NewEngine(start time.Time) *Engine {
	return &Engine{now: start, nowNs: timerq.Nanos(start), q: timerq.NewSplit[event](nearHorizon)}
}

// nearHorizon splits the engine's near events from its far ones (timerq.Split): longer than any
// network crossing, shorter than a phone's heartbeat.
const nearHorizon = time.Second

// Now is the virtual time.
func (e *Engine) Now() time.Time { return e.now }

// Events counts the events run so far.
func (e *Engine) Events() uint64 { return e.events }

// At schedules fn at time t (at the present if t is past).
func (e *Engine) At(t time.Time, fn func()) {
	e.push(t, funcEvent(fn))
}

// push queues ev at time t, or at the present if t is past.
func (e *Engine) push(t time.Time, ev event) {
	at := e.nowNs
	if !t.Before(e.now) {
		at = timerq.Nanos(t)
	}
	e.q.Push(e.nowNs, at, ev)
}

// After schedules fn d from now.
func (e *Engine) After(d time.Duration, fn func()) { e.At(e.now.Add(d), fn) }

// after queues ev d from now.
func (e *Engine) after(d time.Duration, ev event) { e.push(e.now.Add(d), ev) }

// RunUntil runs every event due at or before t, then sets the clock to t.
func (e *Engine) RunUntil(t time.Time) {
	e.RunWhile(t, func() bool { return true })
}

// RunWhile runs events due at or before deadline for as long as keep reports true, checking it
// after each event; it returns whether keep still held. The clock ends at the deadline if keep
// held throughout, else at the time of the event that ended it.
func (e *Engine) RunWhile(deadline time.Time, keep func() bool) bool {
	due := timerq.Nanos(deadline)
	for keep() {
		limit, planned := due, false
		if e.plan != nil {
			if at, ok := e.plan.nextAt(); ok {
				if at = max(at, e.nowNs); at <= due {
					limit, planned = at, true
				}
			}
		}
		at, ev, ok := e.q.PopDue(limit)
		switch {
		case ok:
		case planned:
			at = limit
		default:
			if deadline.After(e.now) {
				e.now, e.nowNs = deadline, due
			}
			return true
		}
		if at > e.nowNs {
			e.now, e.nowNs = time.Unix(0, at).UTC(), at
		}
		e.events++
		if ok {
			ev.happen()
		} else {
			e.plan.runNext()
		}
	}
	return false
}

// Pending reports how many events are queued (a plan's not counted).
func (e *Engine) Pending() int { return e.q.Len() }

// Rand returns a random source derived from a run's seed and a component's name, so that each
// component draws its own stream and adding draws to one does not shift another's.
func Rand(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// SubSeed derives a component's seed (for the cores, which take a seed, not a source).
func SubSeed(seed uint64, name string) uint64 { return Rand(seed, name).Uint64() }
