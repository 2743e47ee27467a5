package sim

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// LiveWorld runs devices over real sockets against a running relay and fakefcm, on the real
// clock: the same device model as the virtual World, through gorilla WebSockets to the relay's
// /v1/ws and to fakefcm's device channels. All device calls are serialised by one lock, which the
// caller also takes (Do) to drive devices.
type LiveWorld struct {
	relayURL string
	fcm      *control.Client
	dialer   *websocket.Dialer

	mu        sync.Mutex
	devices   []*Device
	onObserve func(*Device, Observation)
	closed    bool
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	links     map[*liveConn]bool
	channels  map[*liveFCM]bool
	seed      uint64
	// linkOf holds the phones whose relay link is partitioned or lossy (SetPartition, SetLoss).
	linkOf map[*Device]Link
	rng    *rand.Rand
}

// LiveConfig says where the servers are.
type LiveConfig struct {
	RelayURL string
	FCMURL   string
	// Seed drives the devices' own draws (reconnect jitter).
	Seed uint64
	// Dialer opens the WebSockets (to the relay and fakefcm's device channels) and HTTP the
	// control calls; nil means real ones. Tests pass in-memory ones.
	Dialer *websocket.Dialer
	HTTP   *http.Client
}

// NewLiveWorld connects nothing yet: devices dial as they need.
func NewLiveWorld(cfg LiveConfig) *LiveWorld {
	ctx, cancel := context.WithCancel(context.Background())
	dialer := cfg.Dialer
	if dialer == nil {
		dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	}
	return &LiveWorld{
		relayURL: cfg.RelayURL,
		fcm:      &control.Client{BaseURL: cfg.FCMURL, HTTP: cfg.HTTP, Dialer: dialer},
		dialer:   dialer,
		ctx:      ctx, cancel: cancel, seed: cfg.Seed,
		links: map[*liveConn]bool{}, channels: map[*liveFCM]bool{},
		rng: Rand(cfg.Seed, "live/network"), linkOf: map[*Device]Link{},
	}
}

// SetPartition cuts (or heals) a phone's link to the relay: frames are dropped both ways and
// neither side is told, while the sockets stay open. Call inside Do.
func (lw *LiveWorld) SetPartition(d *Device, cut bool) {
	l := lw.linkOf[d]
	l.Partitioned = cut
	lw.linkOf[d] = l
}

// SetLoss makes a phone's link to the relay lose that share of the app's frames. Call inside Do.
func (lw *LiveWorld) SetLoss(d *Device, loss float64) {
	l := lw.linkOf[d]
	l.Loss = loss
	lw.linkOf[d] = l
}

// cut reports whether nothing crosses the phone's link to the relay.
func (lw *LiveWorld) cut(d *Device) bool { return !d.netUp || lw.linkOf[d].Partitioned }

// Do runs fn holding the world's lock: drive devices and read their observations inside it.
func (lw *LiveWorld) Do(fn func()) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	fn()
}

// OnObserve sets a function told of every observation (under the lock).
func (lw *LiveWorld) OnObserve(fn func(*Device, Observation)) { lw.Do(func() { lw.onObserve = fn }) }

// AddDevice adds a phone (call inside Do or before the run starts).
func (lw *LiveWorld) AddDevice(cfg DeviceConfig) *Device {
	d := NewDevice(cfg, lw, Rand(lw.seed, "device/"+cfg.ID))
	lw.devices = append(lw.devices, d)
	d.Start()
	return d
}

// Close closes every connection and waits for the goroutines serving them.
func (lw *LiveWorld) Close() {
	lw.mu.Lock()
	lw.closed = true
	lw.cancel()
	for l := range lw.links {
		if l.conn != nil {
			l.conn.Drop()
		}
	}
	for c := range lw.channels {
		if c.ch != nil {
			c.ch.Close()
		}
	}
	lw.mu.Unlock()
	lw.wg.Wait()
}

// go runs fn on a goroutine the world waits for at Close.
func (lw *LiveWorld) spawn(fn func()) {
	lw.wg.Add(1)
	go func() {
		defer lw.wg.Done()
		fn()
	}()
}

// locked runs fn under the lock unless the world is closed.
func (lw *LiveWorld) locked(fn func()) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if !lw.closed {
		fn()
	}
}

// Now (Env) is the real time.
func (lw *LiveWorld) Now() time.Time { return time.Now() }

// After (Env) calls fn after d on the real clock, under the lock.
func (lw *LiveWorld) After(d time.Duration, fn func()) func() {
	var cancelled bool
	t := time.AfterFunc(d, func() {
		lw.locked(func() {
			if !cancelled {
				fn()
			}
		})
	})
	return func() {
		cancelled = true
		t.Stop()
	}
}

// Observe (Env) passes an observation on.
func (lw *LiveWorld) Observe(d *Device, o Observation) {
	if lw.onObserve != nil {
		lw.onObserve(d, o)
	}
}

// connectTimeout is how long a connection attempt over a partitioned link takes to fail.
const connectTimeout = 10 * time.Second

// liveConn is an app connection over a real WebSocket.
type liveConn struct {
	lw   *LiveWorld
	dev  *Device
	conn *client.Conn
	done bool
	shut bool // the relay closed it while the link was cut, and the phone has not heard
}

// DialRelay (Env) dials the relay on a goroutine.
func (lw *LiveWorld) DialRelay(d *Device) RelayLink {
	l := &liveConn{lw: lw, dev: d}
	if lw.linkOf[d].Partitioned {
		// The connection attempt goes nowhere: the app's connect timeout tells it.
		lw.After(connectTimeout, func() { d.OnRelayClosed(l, "connect failed: no answer") })
		return l
	}
	lw.links[l] = true
	lw.spawn(func() {
		conn, err := client.Dial(lw.ctx, lw.relayURL, client.Options{Dialer: lw.dialer})
		reason := ""
		lw.locked(func() {
			if err != nil {
				reason = "connect failed: " + err.Error()
				delete(lw.links, l)
				d.OnRelayClosed(l, reason)
				return
			}
			l.conn = conn
			if l.done {
				conn.Drop()
				return
			}
			d.OnRelayOpen(l)
		})
		if err != nil {
			return
		}
		for f := range conn.Events() {
			lw.locked(func() {
				if !lw.linkOf[d].Partitioned {
					d.OnRelayFrame(l, f)
				}
			})
		}
		lw.locked(func() {
			delete(lw.links, l)
			reason := "connection closed"
			var ce *websocket.CloseError
			if errors.As(conn.Err(), &ce) {
				reason = ce.Text
			}
			if lw.linkOf[d].Partitioned {
				l.shut = true // the close is lost on the cut link: the app finds out when it next sends
				return
			}
			d.OnRelayClosed(l, reason)
		})
	})
	return l
}

// Send writes a frame unless the phone's network is down.
func (l *liveConn) Send(f relay.ClientFrame) {
	if l.conn == nil || l.done || l.lw.cut(l.dev) {
		return
	}
	if l.shut {
		// The relay closed the connection while the link was cut: the phone's TCP stack gets a
		// reset for this frame.
		l.shut, l.done = false, true
		l.lw.After(0, func() { l.dev.OnRelayClosed(l, "connection reset by the relay") })
		return
	}
	if loss := l.lw.linkOf[l.dev].Loss; loss > 0 && l.lw.rng.Float64() < loss {
		return
	}
	_ = l.conn.Send(f)
}

// Close drops the connection. With the network down it is abandoned instead: the relay is not
// told, and finds out by its heartbeat deadline.
func (l *liveConn) Close() {
	if l.done {
		return
	}
	l.done = true
	if l.conn != nil && !l.lw.cut(l.dev) {
		conn := l.conn
		l.lw.spawn(func() { conn.Drop() })
	}
}

// liveFCM is the phone's FCM channel over a real WebSocket.
type liveFCM struct {
	lw     *LiveWorld
	dev    *Device
	ch     *control.DeviceChannel
	closed bool
}

// FCMRegister (Env) registers with fakefcm. The control calls are made in step, holding the
// lock, so that a scenario's next step sees their effect (an uninstalled token is UNREGISTERED
// for the very next send).
func (lw *LiveWorld) FCMRegister(d *Device) {
	tok, err := lw.fcm.RegisterDevice(lw.ctx, d.cfg.SenderID, d.cfg.Package)
	d.OnToken(tok, err)
}

// FCMRefresh (Env) rotates the token.
func (lw *LiveWorld) FCMRefresh(d *Device, token string) {
	tok, err := lw.fcm.RefreshToken(lw.ctx, token)
	d.OnToken(tok, err)
}

// FCMUnregister (Env) deletes the token.
func (lw *LiveWorld) FCMUnregister(_ *Device, token string) { _ = lw.fcm.Uninstall(lw.ctx, token) }

// FCMForceStop (Env) tells fakefcm the app was force-stopped.
func (lw *LiveWorld) FCMForceStop(_ *Device, token string) { _ = lw.fcm.ForceStop(lw.ctx, token) }

// FCMConnect (Env) opens the device channel on a goroutine.
func (lw *LiveWorld) FCMConnect(d *Device, token string) FCMLink {
	l := &liveFCM{lw: lw, dev: d}
	lw.channels[l] = true
	lw.spawn(func() {
		ch, err := lw.fcm.Connect(lw.ctx, token)
		ok := false
		lw.locked(func() {
			if err != nil || l.closed {
				delete(lw.channels, l)
				if ch != nil {
					ch.Close()
				}
				return
			}
			l.ch, ok = ch, true
		})
		if !ok {
			return
		}
		for {
			f, err := ch.Receive()
			if err != nil {
				break
			}
			lw.locked(func() { d.OnPush(l, f) })
		}
		lw.locked(func() {
			delete(lw.channels, l)
			d.OnFCMClosed(l)
		})
	})
	return l
}

// Ack acknowledges a message on the channel.
func (l *liveFCM) Ack(id string) {
	if l.ch != nil && !l.closed {
		_ = l.ch.Ack(id)
	}
}

// Close closes the channel.
func (l *liveFCM) Close() {
	if l.closed {
		return
	}
	l.closed = true
	if l.ch != nil {
		ch := l.ch
		l.lw.spawn(func() { ch.Close() })
	}
}

var (
	_ Env       = (*LiveWorld)(nil)
	_ RelayLink = (*liveConn)(nil)
	_ FCMLink   = (*liveFCM)(nil)
)
