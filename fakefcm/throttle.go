package fakefcm

import (
	"errors"
	"fmt"
	"time"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/ratelimit"
)

// ThrottleMode says what a per-device throttle does to a message over the limit.
type ThrottleMode string

// Throttle modes. FCM documents delaying; whether it ever rejects per-device excess is not
// documented, so rejecting is a choice.
const (
	// ThrottleDelay holds the message until the limit allows it (FCM's documented behaviour).
	ThrottleDelay ThrottleMode = "delay"
	// ThrottleReject refuses the send with 429 QUOTA_EXCEEDED (legacy: DeviceMessageRateExceeded).
	ThrottleReject ThrottleMode = "reject"
)

// Throttles are FCM's rate limits. A zero field takes FCM's default; a negative one turns that
// limit off.
type Throttles struct {
	// Mode is what per-device limits do: "delay" (default) or "reject". The project quota
	// always rejects.
	Mode ThrottleMode `json:"mode,omitempty" yaml:"mode"`
	// ProjectPerMinute is the project's quota: sends accepted in any minute (default 600,000).
	ProjectPerMinute int `json:"projectPerMinute,omitempty" yaml:"projectPerMinute"`
	// DevicePerMinute and DevicePerHour bound messages to one device in any minute (default
	// 240) and any hour (default 5,000).
	DevicePerMinute int `json:"devicePerMinute,omitempty" yaml:"devicePerMinute"`
	DevicePerHour   int `json:"devicePerHour,omitempty" yaml:"devicePerHour"`
	// CollapsibleBurst and CollapsibleRefill are the token bucket for collapsible messages to one
	// device: a burst of 20, refilling one every 3 minutes. ttl=0 messages are exempt.
	CollapsibleBurst  int               `json:"collapsibleBurst,omitempty" yaml:"collapsibleBurst"`
	CollapsibleRefill duration.Duration `json:"collapsibleRefill,omitempty" yaml:"collapsibleRefill"`
}

// FCM's documented limits (FCM.md).
const (
	DefaultProjectPerMinute  = 600_000
	DefaultDevicePerMinute   = 240
	DefaultDevicePerHour     = 5_000
	DefaultCollapsibleBurst  = 20
	DefaultCollapsibleRefill = 3 * time.Minute
)

// Reasons a throttle holds a message back, as records and metrics name them.
const (
	ThrottledProjectQuota     = "throttled-project-quota"
	ThrottledDevicePerMinute  = "throttled-device-per-minute"
	ThrottledDevicePerHour    = "throttled-device-per-hour"
	ThrottledCollapsibleBurst = "throttled-collapsible-burst"
)

func (t Throttles) withDefaults() Throttles {
	if t.Mode == "" {
		t.Mode = ThrottleDelay
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&t.ProjectPerMinute, DefaultProjectPerMinute)
	def(&t.DevicePerMinute, DefaultDevicePerMinute)
	def(&t.DevicePerHour, DefaultDevicePerHour)
	def(&t.CollapsibleBurst, DefaultCollapsibleBurst)
	if t.CollapsibleRefill == 0 {
		t.CollapsibleRefill = duration.Of(DefaultCollapsibleRefill)
	}
	return t
}

// Validate reports a throttle setting that cannot work.
func (t Throttles) Validate() error {
	switch t.Mode {
	case "", ThrottleDelay, ThrottleReject:
	default:
		return fmt.Errorf("throttle mode %q: use %q or %q", t.Mode, ThrottleDelay, ThrottleReject)
	}
	if t.CollapsibleRefill < 0 && t.CollapsibleBurst >= 0 {
		return fmt.Errorf("collapsibleRefill %v: must be positive (turn the bucket off with a negative collapsibleBurst)", t.CollapsibleRefill)
	}
	return nil
}

// deviceLimits are one device's throttles; nil members are turned off. The throttles that are on
// sit in the object itself (minute, hour, bucket), so that a push reaches one object rather than
// four: at 100,000 phones each object apart is one more cold read a push.
type deviceLimits struct {
	perMinute   *ratelimit.Window // &minute, or nil
	perHour     *ratelimit.Window // &hour, or nil
	collapsible *ratelimit.Bucket // &bucket, or nil

	minute, hour ratelimit.Window
	bucket       ratelimit.Bucket
}

func (c *Core) deviceLimits(d *device) *deviceLimits {
	if d.limits != nil {
		return d.limits
	}
	t := c.behaviour.Throttles
	l := &deviceLimits{}
	var err error
	if t.DevicePerMinute > 0 {
		err = errors.Join(err, l.minute.Init(t.DevicePerMinute, time.Minute, ratelimit.DefaultSlots))
		l.perMinute = &l.minute
	}
	if t.DevicePerHour > 0 {
		err = errors.Join(err, l.hour.Init(t.DevicePerHour, time.Hour, ratelimit.DefaultSlots))
		l.perHour = &l.hour
	}
	if t.CollapsibleBurst > 0 {
		err = errors.Join(err, l.bucket.Init(t.CollapsibleBurst, t.CollapsibleRefill.D()))
		l.collapsible = &l.bucket
	}
	ratelimit.MustInit(err) // Throttles.Validate checked these
	d.limits = l
	return l
}

// hold is one throttle holding a message back: which one, as records name it, and when it lets
// go. The zero hold holds nothing.
type hold struct {
	reason string
	until  time.Time
}

// later returns the hold that lets go last; on a tie, h.
func (h hold) later(o hold) hold {
	if h.reason == "" || (o.reason != "" && o.until.After(h.until)) {
		return o
	}
	return h
}

// holds are what keeps a message back at one moment, kept apart by scope: a per-device window
// holds the message and every message behind it, the collapsible bucket the message and only
// the collapsible messages behind it.
type holds struct {
	all         hold // the per-device windows (of two, the one that lets go last)
	collapsible hold // the collapsible bucket
}

// held reports whether anything holds the message back.
func (h holds) held() bool { return h.all.reason != "" || h.collapsible.reason != "" }

// binding is the hold the message waits for: of two, the one that lets go last.
func (h holds) binding() hold { return h.all.later(h.collapsible) }

// and returns the holds of both h and o, scope by scope: the later hold of each.
func (h holds) and(o holds) holds {
	return holds{all: h.all.later(o.all), collapsible: h.collapsible.later(o.collapsible)}
}

// on returns the holds of messages ahead that keep e back too: all of them for a collapsible
// message, the windows' for any other.
func (h holds) on(e *entry) holds {
	if !e.collapsible {
		h.collapsible = hold{}
	}
	return h
}

// next is when the first of the holds lets go; false if there is none.
func (h holds) next() (time.Time, bool) {
	switch {
	case h.all.reason == "" && h.collapsible.reason == "":
		return time.Time{}, false
	case h.all.reason == "":
		return h.collapsible.until, true
	case h.collapsible.reason == "":
		return h.all.until, true
	}
	if h.collapsible.until.Before(h.all.until) {
		return h.collapsible.until, true
	}
	return h.all.until, true
}

// check reports the limits that hold e back at now, each with when it lets e pass.
func (l *deviceLimits) check(e *entry, now time.Time) holds {
	var h holds
	for _, w := range []struct {
		reason string
		win    *ratelimit.Window
	}{{ThrottledDevicePerMinute, l.perMinute}, {ThrottledDevicePerHour, l.perHour}} {
		if w.win != nil && !w.win.Allow(now) {
			h.all = h.all.later(hold{w.reason, w.win.Next(now)})
		}
	}
	if l.collapsible != nil && e.collapsible && !e.ttlZero && !l.collapsible.Allow(now) {
		h.collapsible = hold{ThrottledCollapsibleBurst, l.collapsible.Next(now)}
	}
	return h
}

// take counts e against the limits; check must have let it pass.
func (l *deviceLimits) take(e *entry, now time.Time) {
	if l.perMinute != nil {
		l.perMinute.Take(now)
	}
	if l.perHour != nil {
		l.perHour.Take(now)
	}
	if l.collapsible != nil && e.collapsible && !e.ttlZero {
		l.collapsible.Take(now)
	}
}

// projectQuota admits a send against the project's quota, or says how long to wait.
func (c *Core) projectQuota(p *project, now time.Time) (ok bool, retryAfter time.Duration) {
	limit := c.behaviour.Throttles.ProjectPerMinute
	if limit <= 0 {
		return true, 0
	}
	if p.quota == nil {
		p.quota = ratelimit.MustWindow(limit, time.Minute, ratelimit.DefaultSlots)
	}
	if p.quota.Take(now) {
		return true, 0
	}
	return false, p.quota.Next(now).Sub(now)
}
