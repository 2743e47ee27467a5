package ratelimit

import (
	"fmt"
	"time"
)

// Bucket is a token bucket of Burst tokens refilling one every Interval, kept as the generic cell
// rate algorithm (GCRA): its whole state is one time, and every answer is exact in integer
// nanoseconds, so "one more after exactly three minutes" holds to the nanosecond in virtual time.
// (golang.org/x/time/rate computes in float64 seconds and lands a hair off such boundaries.)
//
// A new Bucket is full. Times passed to it must not go backwards.
type Bucket struct {
	burst    int64
	interval time.Duration
	tat      time.Time // theoretical arrival time: when the bucket would be full again
}

// NewBucket returns a full bucket of burst tokens refilling one every interval.
func NewBucket(burst int, interval time.Duration) (*Bucket, error) {
	b := new(Bucket)
	if err := b.Init(burst, interval); err != nil {
		return nil, err
	}
	return b, nil
}

// Init makes b a full bucket as NewBucket describes, in place: for a bucket kept inside the
// struct it belongs with rather than in an object of its own. On an error b is left unchanged.
func (b *Bucket) Init(burst int, interval time.Duration) error {
	if burst <= 0 || interval <= 0 {
		return fmt.Errorf("bucket burst %d, interval %v: both must be positive", burst, interval)
	}
	*b = Bucket{burst: int64(burst), interval: interval}
	return nil
}

// MustBucket is NewBucket for settings fixed in code; it panics on arguments NewBucket refuses.
func MustBucket(burst int, interval time.Duration) *Bucket {
	b, err := NewBucket(burst, interval)
	if err != nil {
		panic(err)
	}
	return b
}

// Next returns the earliest time at or after t at which a token is available.
func (b *Bucket) Next(t time.Time) time.Time {
	at := b.tat.Add(-time.Duration(b.burst-1) * b.interval)
	if at.After(t) {
		return at
	}
	return t
}

// Allow reports whether a token is available at t, without taking it.
func (b *Bucket) Allow(t time.Time) bool { return !b.Next(t).After(t) }

// Take takes a token at t if one is available and reports whether it did.
func (b *Bucket) Take(t time.Time) bool {
	if !b.Allow(t) {
		return false
	}
	if b.tat.Before(t) {
		b.tat = t
	}
	b.tat = b.tat.Add(b.interval)
	return true
}

// Tokens reports how many whole tokens are available at t.
func (b *Bucket) Tokens(t time.Time) int {
	if !b.tat.After(t) {
		return int(b.burst)
	}
	used := (b.tat.Sub(t) + b.interval - 1) / b.interval
	return int(max(0, b.burst-int64(used)))
}

// State returns the bucket's whole state, for persisting it: when it would be full again.
func (b *Bucket) State() time.Time { return b.tat }

// Restore sets the bucket's state from State.
func (b *Bucket) Restore(full time.Time) { b.tat = full }
