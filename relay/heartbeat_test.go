package relay

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// keptBeats is a driver's heartbeat as SetHeard sees it: a ping every `every` from `from` on,
// each answered by the driver, until stopped.
type keptBeats struct {
	from, stopped time.Time // stopped: zero while the driver keeps beating
	every         time.Duration
	now           func() time.Time
}

func (k *keptBeats) heard(ConnID) (time.Time, time.Duration) {
	until := k.now()
	if !k.stopped.IsZero() {
		until = k.stopped
	}
	n := until.Sub(k.from) / k.every
	if n == 0 {
		return time.Time{}, 0
	}
	last := k.from.Add(n * k.every)
	if !k.stopped.IsZero() {
		return last, 0
	}
	return last, k.every
}

// TestASteadyHeartbeatNeedsNoDeadlineUntilItStops: while the driver keeps a connection's
// heartbeat, at one ping every interval within the deadline, the core stops waking for the
// connection's deadline; once the driver says the heartbeat stopped, the deadline runs again from
// its last ping and closes the silent connection there, as if every ping had been a frame.
func TestASteadyHeartbeatNeedsNoDeadlineUntilItStops(t *testing.T) {
	c, err := New(Config{}, nil)
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	beats := &keptBeats{from: t0, every: 30 * time.Second, now: func() time.Time { return now }}
	c.SetHeard(beats.heard)
	c.Open(t0, 1)

	at, ok := c.NextWake()
	require.True(t, ok)
	require.Equal(t, t0.Add(90*time.Second), at, "the first deadline, from the connection's opening")
	now = at
	c.Tick(now)
	require.Empty(t, c.TakeReady().Closes)
	_, ok = c.NextWake()
	require.False(t, ok, "a kept heartbeat within the deadline leaves nothing to wake for")

	now = t0.Add(10*time.Minute + 5*time.Second)
	c.Tick(now)
	require.Empty(t, c.TakeReady().Closes)
	beats.stopped = now // the last ping was at 10 min
	c.HeartbeatStopped(now, 1)
	rd := c.TakeReady()
	require.True(t, rd.Empty(), "stopping the heartbeat leaves nothing to carry out")
	at, ok = c.NextWake()
	require.True(t, ok)
	require.Equal(t, t0.Add(10*time.Minute+90*time.Second), at, "the deadline of the last ping")

	c.Tick(at.Add(-time.Nanosecond))
	require.Empty(t, c.TakeReady().Closes)
	c.Tick(at)
	closes := c.TakeReady().Closes
	require.Len(t, closes, 1)
	require.Equal(t, closeHeartbeat, closes[0].Reason)
}

// TestAHeartbeatSlowerThanTheDeadlineIsStillWatched: a driver's steady heartbeat whose interval
// is not within the deadline does not stop the core's look at it: the connection is closed at
// the deadline after a ping, before the next ping comes.
func TestAHeartbeatSlowerThanTheDeadlineIsStillWatched(t *testing.T) {
	c, err := New(Config{}, nil)
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	beats := &keptBeats{from: t0.Add(-30 * time.Second), every: 120 * time.Second, now: func() time.Time { return now }}
	c.SetHeard(beats.heard)
	c.Open(t0, 1)

	now = t0.Add(90 * time.Second) // the first kept ping, and the first deadline
	c.Tick(now)
	require.Empty(t, c.TakeReady().Closes)
	at, ok := c.NextWake()
	require.True(t, ok, "a heartbeat slower than the deadline is looked at again")
	require.Equal(t, t0.Add(180*time.Second), at)
	now = at
	c.Tick(now)
	require.Len(t, c.TakeReady().Closes, 1, "the next ping is due at 210 s, past the deadline")
}
