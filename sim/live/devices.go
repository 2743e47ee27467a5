package live

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/sim"
)

// devices is the Env of phones over real sockets, on the real clock: the same device model as the
// virtual world's, through gorilla WebSockets to the relay's /v1/ws and to fakefcm's device
// channels. All device calls are serialised by one lock, which the world also takes (Do) to drive
// devices. The link rules (a partition, the loss draw, a close lost on a cut link) are sim.Links'.
type devices struct {
	relayURL string
	// relayURLOf, if set, is where the phone added index-th connects (a cluster's node).
	relayURLOf func(index int) string
	fcm        *control.Client
	dialer     *websocket.Dialer

	mu        sync.Mutex
	devices   []*sim.Device
	onObserve func(*sim.Device, sim.Observation)
	closed    bool
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	conns     map[*liveConn]bool
	channels  map[*liveFCM]bool
	seed      uint64
	rules     *sim.Links
	// fcmOff says there is no FCM to register with (an FCM pushsim cannot watch).
	fcmOff bool
}

// devicesConfig says where the servers are.
type devicesConfig struct {
	RelayURL string
	// RelayURLOf, if set, says where each phone connects instead, by the order phones were
	// added: a relay cluster's nodes.
	RelayURLOf func(index int) string
	// FCM is fakefcm's control client; nil when there is no FCM to watch.
	FCM *control.Client
	// Seed drives the devices' own draws (reconnect jitter) and the links' loss draws.
	Seed uint64
	// Loss is every phone's link's loss until SetLink.
	Loss float64
	// Dialer opens the WebSockets to the relay.
	Dialer *websocket.Dialer
}

// newDevices connects nothing yet: devices dial as they need.
func newDevices(cfg devicesConfig) *devices {
	ctx, cancel := context.WithCancel(context.Background())
	return &devices{
		relayURL: cfg.RelayURL, relayURLOf: cfg.RelayURLOf, fcm: cfg.FCM, fcmOff: cfg.FCM == nil, dialer: cfg.Dialer,
		ctx: ctx, cancel: cancel, seed: cfg.Seed,
		conns: map[*liveConn]bool{}, channels: map[*liveFCM]bool{},
		rules: sim.NewLinks(sim.Link{Loss: cfg.Loss}, sim.Rand(cfg.Seed, "live/network")),
	}
}

// Do runs fn holding the world's lock: drive devices and read their observations inside it.
// After Close it does nothing: the phones are gone.
func (ds *devices) Do(fn func()) { ds.locked(fn) }

// OnObserve sets a function told of every observation (under the lock).
func (ds *devices) OnObserve(fn func(*sim.Device, sim.Observation)) {
	ds.Do(func() { ds.onObserve = fn })
}

// AddDevice adds a phone (call inside Do or before the run starts).
func (ds *devices) AddDevice(cfg sim.DeviceConfig) *sim.Device {
	d := sim.NewDevice(cfg, ds, sim.Rand(ds.seed, "device/"+cfg.ID))
	ds.devices = append(ds.devices, d)
	d.Start()
	return d
}

// Close closes every connection and waits for the goroutines serving them.
func (ds *devices) Close() {
	ds.mu.Lock()
	ds.closed = true
	ds.cancel()
	for l := range ds.conns {
		if l.conn != nil {
			l.conn.Drop()
		}
	}
	for c := range ds.channels {
		if c.ch != nil {
			c.ch.Close()
		}
	}
	ds.mu.Unlock()
	ds.wg.Wait()
}

// spawn runs fn on a goroutine the world waits for at Close.
func (ds *devices) spawn(fn func()) {
	ds.wg.Add(1)
	go func() {
		defer ds.wg.Done()
		fn()
	}()
}

// locked runs fn under the lock unless the world is closed, and reports whether it ran: a
// goroutine told no must release what it holds itself, since Close has already passed it by.
func (ds *devices) locked(fn func()) (ran bool) {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if !ds.closed {
		fn()
	}
	return !ds.closed
}

// Now (Env) is the real time.
func (ds *devices) Now() time.Time { return time.Now() }

// After (Env) calls fn after d on the real clock, under the lock.
func (ds *devices) After(d time.Duration, fn func()) func() {
	var cancelled bool
	t := time.AfterFunc(d, func() {
		ds.locked(func() {
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
func (ds *devices) Observe(d *sim.Device, o sim.Observation) {
	if ds.onObserve != nil {
		ds.onObserve(d, o)
	}
}

// errNoFCM is the registration error of a phone whose world has no FCM it can reach.
var errNoFCM = errors.New("no FCM to register with: this world's FCM cannot be watched (give a fakefcm, or a real device token)")

// liveConn is an app connection over a real WebSocket.
type liveConn struct {
	ds   *devices
	dev  *sim.Device
	conn *client.Conn
	done bool
	link sim.ConnLink
}

// DialRelay (Env) dials the relay on a goroutine.
func (ds *devices) DialRelay(d *sim.Device) sim.RelayLink {
	l := &liveConn{ds: ds, dev: d}
	if ok, reason, wait := ds.rules.Dial(d); !ok {
		ds.After(wait, func() { d.OnRelayClosed(l, reason) })
		return l
	}
	ds.conns[l] = true
	url := ds.relayURL
	if ds.relayURLOf != nil {
		url = ds.relayURLOf(slices.Index(ds.devices, d))
	}
	ds.spawn(func() {
		conn, err := client.Dial(ds.ctx, url, client.Options{Dialer: ds.dialer})
		reason := ""
		ran := ds.locked(func() {
			if err != nil {
				reason = "connect failed: " + err.Error()
				delete(ds.conns, l)
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
		if !ran {
			conn.Drop() // the world closed while the handshake was on its way
			return
		}
		for f := range conn.Events() {
			ds.locked(func() {
				if !ds.rules.Cut(d) {
					d.OnRelayFrame(l, f)
				}
			})
		}
		ds.locked(func() {
			delete(ds.conns, l)
			reason := "connection closed"
			var ce *websocket.CloseError
			if errors.As(conn.Err(), &ce) {
				reason = ce.Text
			}
			if ds.rules.RelayClosed(d, &l.link) {
				d.OnRelayClosed(l, reason)
			}
		})
	})
	return l
}

// Send writes a frame, as the link rules say.
func (l *liveConn) Send(f relay.ClientFrame) {
	if l.conn == nil || l.done {
		return
	}
	switch l.ds.rules.Send(l.dev, &l.link) {
	case sim.Drop:
		return
	case sim.Reset:
		// The relay closed the connection while the link was cut: the phone's TCP stack gets a
		// reset for this frame.
		l.done = true
		l.ds.After(0, func() { l.dev.OnRelayClosed(l, "connection reset by the relay") })
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
	if l.conn != nil && !l.ds.rules.Cut(l.dev) {
		conn := l.conn
		l.ds.spawn(func() { conn.Drop() })
	}
}

// liveFCM is the phone's FCM channel over a real WebSocket.
type liveFCM struct {
	ds     *devices
	dev    *sim.Device
	ch     *control.DeviceChannel
	closed bool
}

// FCMRegister (Env) registers with fakefcm. The control calls are made in step, holding the
// lock, so that a scenario's next step sees their effect (an uninstalled token is UNREGISTERED
// for the very next send).
func (ds *devices) FCMRegister(d *sim.Device) {
	if ds.fcmOff {
		d.OnToken("", errNoFCM)
		return
	}
	cfg := d.Config()
	tok, err := ds.fcm.RegisterDevice(ds.ctx, cfg.SenderID, cfg.Package)
	d.OnToken(tok, err)
}

// FCMRefresh (Env) rotates the token.
func (ds *devices) FCMRefresh(d *sim.Device, token string) {
	if ds.fcmOff {
		d.OnToken("", errNoFCM)
		return
	}
	tok, err := ds.fcm.RefreshToken(ds.ctx, token)
	d.OnToken(tok, err)
}

// FCMUnregister (Env) deletes the token.
func (ds *devices) FCMUnregister(_ *sim.Device, token string) {
	if !ds.fcmOff {
		_ = ds.fcm.Uninstall(ds.ctx, token)
	}
}

// FCMForceStop (Env) tells fakefcm the app was force-stopped.
func (ds *devices) FCMForceStop(_ *sim.Device, token string) {
	if !ds.fcmOff {
		_ = ds.fcm.ForceStop(ds.ctx, token)
	}
}

// FCMConnect (Env) opens the device channel on a goroutine.
func (ds *devices) FCMConnect(d *sim.Device, token string) sim.FCMLink {
	l := &liveFCM{ds: ds, dev: d}
	if ds.fcmOff {
		return l
	}
	ds.channels[l] = true
	ds.spawn(func() {
		ch, err := ds.fcm.Connect(ds.ctx, token)
		ok := false
		ran := ds.locked(func() {
			if err != nil || l.closed {
				delete(ds.channels, l)
				if ch != nil {
					ch.Close()
				}
				return
			}
			l.ch, ok = ch, true
		})
		if !ran && ch != nil {
			ch.Close() // the world closed while the channel was opening
		}
		if !ok {
			return
		}
		for {
			f, err := ch.Receive()
			if err != nil {
				break
			}
			ds.locked(func() { d.OnPush(l, f) })
		}
		ds.locked(func() {
			delete(ds.channels, l)
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
		l.ds.spawn(func() { ch.Close() })
	}
}

var (
	_ sim.Env       = (*devices)(nil)
	_ sim.RelayLink = (*liveConn)(nil)
	_ sim.FCMLink   = (*liveFCM)(nil)
)
