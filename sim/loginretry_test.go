package sim

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// scriptEnv is an Env that a test drives by hand: its timers fire when the test says, and its
// connections record what the app sends.
type scriptEnv struct {
	now    time.Time
	timers []*scriptTimer
	links  []*scriptLink
}

type scriptTimer struct {
	at        time.Time
	fn        func()
	cancelled bool
}

type scriptLink struct {
	sent   []relay.ClientFrame
	closed bool
}

func (l *scriptLink) Send(f relay.ClientFrame) { l.sent = append(l.sent, f) }
func (l *scriptLink) Close()                   { l.closed = true }

func (e *scriptEnv) Now() time.Time { return e.now }
func (e *scriptEnv) After(d time.Duration, fn func()) func() {
	t := &scriptTimer{at: e.now.Add(d), fn: fn}
	e.timers = append(e.timers, t)
	return func() { t.cancelled = true }
}
func (e *scriptEnv) DialRelay(*Device) RelayLink {
	l := &scriptLink{}
	e.links = append(e.links, l)
	return l
}
func (e *scriptEnv) FCMRegister(*Device)                {}
func (e *scriptEnv) FCMRefresh(*Device, string)         {}
func (e *scriptEnv) FCMUnregister(*Device, string)      {}
func (e *scriptEnv) FCMForceStop(*Device, string)       {}
func (e *scriptEnv) FCMConnect(*Device, string) FCMLink { return nil }
func (e *scriptEnv) Observe(*Device, Observation)       {}

// pending is the timers not fired or cancelled.
func (e *scriptEnv) pending() []*scriptTimer {
	var out []*scriptTimer
	for _, t := range e.timers {
		if !t.cancelled && t.fn != nil {
			out = append(out, t)
		}
	}
	return out
}

// cancelNewest cancels the pending timer made last.
func (e *scriptEnv) cancelNewest() {
	p := e.pending()
	p[len(p)-1].cancelled = true
}

// fire runs the one pending timer whose wait is over at its time, and moves the clock there.
func (e *scriptEnv) fire(t *testing.T) time.Duration {
	t.Helper()
	p := e.pending()
	require.Len(t, p, 1, "one timer waits")
	waited := p[0].at.Sub(e.now)
	e.now = p[0].at
	fn := p[0].fn
	p[0].fn = nil
	fn()
	return waited
}

// logins are the login frames sent on l.
func logins(l *scriptLink) []relay.ClientFrame {
	var out []relay.ClientFrame
	for _, f := range l.sent {
		if f.Op == relay.OpLogin {
			out = append(out, f)
		}
	}
	return out
}

// A login answered 5002 (the user's partition has no owner for a moment, in a cluster) is
// retried after a backoff with the credentials kept, on the same connection, or on a new one if
// the connection ended meanwhile; any other refusal drops the credentials and is not retried.
func TestALoginRefusedUnavailableIsRetried(t *testing.T) {
	start := func(t *testing.T) (*scriptEnv, *Device, *scriptLink) {
		env := &scriptEnv{now: time.Unix(1_700_000_000, 0).UTC()}
		d := NewDevice(DeviceConfig{ID: "d1", User: "bob", SDKAppID: 1, AppSecret: "s", Installed: true}, env, rand.New(rand.NewPCG(1, 2)))
		d.Start()
		d.Login(false)
		require.Len(t, env.links, 1)
		l := env.links[0]
		d.OnRelayOpen(l)
		require.Len(t, logins(l), 1)
		// The heartbeat's timer is the device's own: cancel it, so that only a retry waits.
		for _, tm := range env.pending() {
			tm.cancelled = true
		}
		return env, d, l
	}
	refuse := func(d *Device, l *scriptLink, code relay.Code) {
		login := logins(l)[len(logins(l))-1]
		d.OnRelayFrame(l, relay.ServerFrame{Op: relay.OpReply, ID: login.ID, Code: code, Desc: "refused"})
	}
	// refused is a device whose first login was answered 5002.
	refused := func(t *testing.T) (*scriptEnv, *Device, *scriptLink) {
		env, d, l := start(t)
		refuse(d, l, relay.CodeUnavailable)
		return env, d, l
	}

	t.Run("on the same connection", func(t *testing.T) {
		env, d, l := refused(t)
		require.True(t, d.State().Credentials, "5002 keeps the credentials")
		require.Len(t, logins(l), 1, "not at once")
		first := env.fire(t)
		require.GreaterOrEqual(t, first, 500*time.Millisecond)
		require.LessOrEqual(t, first, time.Second)
		require.Len(t, logins(l), 2, "logged in again on the same connection")
		refuse(d, l, relay.CodeUnavailable)
		second := env.fire(t)
		require.GreaterOrEqual(t, second, time.Second, "the backoff doubles")
		require.LessOrEqual(t, second, 2*time.Second)
		require.Len(t, logins(l), 3)
		d.OnRelayFrame(l, relay.ServerFrame{Op: relay.OpReply, ID: logins(l)[2].ID, Code: relay.OK})
		require.True(t, d.State().LoggedIn)
		require.Len(t, env.links, 1, "no new connection")
	})

	t.Run("on a new connection when this one ended", func(t *testing.T) {
		env, d, l := refused(t)
		d.OnRelayClosed(l, "partition moved; reconnect")
		env.fire(t)
		require.Len(t, env.links, 2, "dialled again")
		d.OnRelayOpen(env.links[1])
		require.Len(t, logins(env.links[1]), 1, "and logged in there")
	})

	t.Run("not after a kill", func(t *testing.T) {
		env, d, _ := refused(t)
		d.Kill()
		require.Empty(t, env.pending(), "the retry is cancelled with the app")
	})

	t.Run("by the reconnect timer already waiting", func(t *testing.T) {
		// The connection died while the network was down, so a reconnect waits; the network
		// returns and the app dials at once; its login is answered 5002. The waiting timer must
		// log in again on the new connection, or the app stays connected and never logged in.
		env, d, l := start(t)
		d.OnRelayFrame(l, relay.ServerFrame{Op: relay.OpReply, ID: logins(l)[0].ID, Code: relay.OK})
		require.True(t, d.State().LoggedIn)
		d.NetLoss()
		d.OnRelayClosed(l, "heartbeat deadline")
		require.Len(t, env.pending(), 1, "a reconnect waits")
		d.NetRestore()
		require.Len(t, env.links, 2, "dialled at once")
		l2 := env.links[1]
		d.OnRelayOpen(l2)
		env.cancelNewest() // the new connection's heartbeat
		refuse(d, l2, relay.CodeUnavailable)
		require.Len(t, env.pending(), 1, "the reconnect's timer is the retry")
		env.fire(t)
		require.Len(t, logins(l2), 2, "logged in again on the new connection")
	})

	t.Run("not after a logout", func(t *testing.T) {
		env, d, l := refused(t)
		d.Logout()
		env.fire(t)
		require.Len(t, logins(l), 1, "a logged-out app does not log in again")
	})

	t.Run("not while a login waits for its answer", func(t *testing.T) {
		env, d, l := refused(t)
		d.sendLogin() // a login already on its way when the retry fires
		env.fire(t)
		require.Len(t, logins(l), 2, "no second login in flight")
	})

	t.Run("from a fresh backoff once a login is taken", func(t *testing.T) {
		env, d, l := refused(t)
		env.fire(t)
		refuse(d, l, relay.CodeUnavailable)
		env.fire(t)
		d.OnRelayFrame(l, relay.ServerFrame{Op: relay.OpReply, ID: logins(l)[2].ID, Code: relay.OK})
		d.OnRelayClosed(l, "partition moved; reconnect")
		waited := env.fire(t)
		require.LessOrEqual(t, waited, time.Second, "the backoff starts over after a taken login")
	})

	t.Run("any other refusal drops the credentials", func(t *testing.T) {
		env, d, l := start(t)
		refuse(d, l, relay.CodeBadSignature)
		require.False(t, d.State().Credentials)
		require.Empty(t, env.pending(), "nothing retried")
	})
}
