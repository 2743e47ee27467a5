package sim

import (
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/fcmwire"
)

// The app's side of the Device: its protocol with the relay (connect, login and the token report,
// heartbeats, requests and replies, live messages and sync, reconnects) and the phone's FCM side
// (pushes into the tray, the channel closing). The lifecycle steps that drive it are in device.go.

// connect dials the relay, unless a connection is already up or on its way.
func (d *Device) connect() {
	if d.linkState != linkNone || d.app == AppNotRunning {
		return
	}
	d.linkState = linkDialing
	d.link = d.env.DialRelay(d)
}

// dropLink closes the app's connection (the relay hears of it if the network is up).
func (d *Device) dropLink() {
	if d.link != nil {
		d.link.Close()
	}
	d.resetLink()
}

func (d *Device) resetLink() {
	d.link, d.linkState, d.loggedIn = nil, linkNone, false
	d.dropAcks()
	d.pending = d.pending[:0]
	if d.pingCancel != nil {
		d.pingCancel()
		d.pingCancel = nil
	}
}

// OnRelayOpen: the connection is up; the app logs in.
func (d *Device) OnRelayOpen(l RelayLink) {
	if l != d.link {
		l.Close() // a connection the app no longer wants
		return
	}
	d.linkState = linkOpen
	d.lastHeard = d.env.Now()
	d.heartbeat()
	if d.creds {
		d.sendLogin()
	}
}

func (d *Device) sendLogin() {
	if d.sigKey == nil {
		d.sigKey = relay.NewUserSigKey(d.cfg.AppSecret)
	}
	sig := d.sigKey.Make(relay.UserSigClaims{SDKAppID: d.cfg.SDKAppID, UserID: d.cfg.User, Expire: d.env.Now().Add(24 * time.Hour).Unix()})
	d.request(relay.ClientFrame{Op: relay.OpLogin, SDKAppID: d.cfg.SDKAppID, UserID: d.cfg.User, UserSig: sig, DeviceID: d.cfg.ID, Platform: d.cfg.Platform, Locale: d.cfg.Locale})
}

// awaiting reports whether a request of that op is waiting for its reply: the app never has
// two logins, or two syncs, in flight (two syncs from the same seq would bring messages twice).
func (d *Device) awaiting(op string) bool {
	for _, r := range d.pending {
		if r.op == op {
			return true
		}
	}
	return false
}

func (d *Device) request(f relay.ClientFrame) {
	if d.link == nil || d.linkState != linkOpen {
		return
	}
	d.nextID++
	f.ID = d.nextID
	d.pending = append(d.pending, pendingRequest{id: f.ID, op: f.Op})
	d.link.Send(f)
}

// pendingRequest is a request waiting for its reply: a phone has a few at most, so a slice
// searched from end to end (no map's buckets apart from the phone) holds them.
type pendingRequest struct {
	id int64
	op string
}

// replied takes the request id out of the pending ones and returns its op ("" if none waits).
func (d *Device) replied(id int64) string {
	for i, r := range d.pending {
		if r.id == id {
			last := len(d.pending) - 1
			d.pending[i] = d.pending[last]
			d.pending[last] = pendingRequest{}
			d.pending = d.pending[:last]
			return r.op
		}
	}
	return ""
}

// heartbeat pings while connected, and gives up on a connection silent for two intervals.
func (d *Device) heartbeat() {
	if d.pingTick == nil {
		d.pingTick = d.ping
	}
	d.pingLink = d.link
	if k, ok := d.link.(beatKeeper); ok {
		if cancel, ok := k.keepBeats(d.cfg.Heartbeat); ok {
			d.pingCancel = cancel
			return
		}
	}
	d.pingCancel = d.env.After(d.cfg.Heartbeat, d.pingTick)
}

// beatKeeper is a RelayLink that can keep the app's heartbeat itself while nothing changes (the
// virtual network with LazyHeartbeats): no event per ping, the pings and their pongs accounted
// for when something does change (resumeBeats).
type beatKeeper interface {
	// keepBeats takes over the heartbeat from now on, one ping every interval, if it can; cancel
	// stops it as cancelling the app's timer would.
	keepBeats(every time.Duration) (cancel func(), ok bool)
	// unsteady hands the heartbeat back to the app (resumeBeats), before a change of the
	// phone's network.
	unsteady()
}

// resumeBeats takes the heartbeat back from a beatKeeper: last is its latest ping (zero if none
// yet) and pong when that ping's pong arrived; the next ping is due at next.
func (d *Device) resumeBeats(last, pong, next time.Time) {
	// The pong raised lastHeard unless a frame heard after the ping set it (to its own time).
	if !last.IsZero() && last.After(d.lastHeard) && pong.After(d.lastHeard) {
		d.lastHeard = pong
	}
	d.pingCancel = d.env.After(next.Sub(d.env.Now()), d.pingTick)
}

// ping is one heartbeat on pingLink: a ping, or giving up on a silent connection.
func (d *Device) ping() {
	if d.link != d.pingLink || d.linkState != linkOpen {
		return
	}
	if d.env.Now().Sub(d.lastHeard) > 2*d.cfg.Heartbeat {
		defer d.observe(Observation{Kind: ObsClosed, Detail: "no answer from the relay: reconnecting"})
		d.dropLink()
		d.scheduleReconnect()
		return
	}
	d.link.Send(relay.ClientFrame{Op: relay.OpPing})
	d.heartbeat()
}

// OnRelayFrame: a frame from the relay.
func (d *Device) OnRelayFrame(l RelayLink, f relay.ServerFrame) {
	if l != d.link || !d.netUp {
		return
	}
	d.lastHeard = d.env.Now()
	switch f.Op {
	case relay.OpReply:
		d.onReply(d.replied(f.ID), f)
	case relay.OpMsg:
		if !d.loggedIn {
			// The app logged out, but its logout may not have reached the relay (a half-open
			// link): a message for the ended session is not shown, nor acknowledged; the next
			// login syncs it (found by the property test).
			return
		}
		d.onMsg(*f.Msg, ObsMsg)
		if f.Msg.Seq > 0 {
			d.ack(d.lastSeq)
		}
	case relay.OpKicked:
		defer d.observe(Observation{Kind: ObsKicked, Detail: f.Reason})
		d.creds, d.loggedIn = false, false
		d.dropAcks()
	}
}

func (d *Device) onReply(op string, f relay.ServerFrame) {
	if f.Code != relay.OK {
		defer d.observe(Observation{Kind: ObsRefused, Detail: fmt.Sprintf("%s: %d %s", op, f.Code, f.Desc)})
		if op == relay.OpLogin {
			if f.Code == relay.CodeUnavailable {
				// The user's partition has no owner for a moment (a node failed over, cluster
				// mode): as the App protocol asks, the app keeps its credentials and retries,
				// on the reconnect's timer (retryNow logs in again on the open connection).
				d.scheduleReconnect()
			} else {
				d.creds = false // a refused login needs new credentials: do not retry it
			}
		}
		return
	}
	switch op {
	case relay.OpLogin:
		d.loggedIn = true
		d.backoff = 0
		d.syncedNow = nil
		d.observe(Observation{Kind: ObsConnected})
		if d.reportTok && d.token != "" {
			d.request(relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: d.cfg.CertificateID, Token: d.token})
		}
		if d.app == AppBackground {
			d.request(relay.ClientFrame{Op: relay.OpBackground, Unread: d.unread})
		}
		if !d.awaiting(relay.OpSync) {
			d.request(relay.ClientFrame{Op: relay.OpSync, Since: d.lastSeq})
		}
	case relay.OpSync:
		for _, m := range f.Msgs {
			d.onMsg(m, ObsSynced)
		}
		if f.More {
			d.request(relay.ClientFrame{Op: relay.OpSync, Since: d.lastSeq})
		}
	}
}

// onMsg takes in a message, live or by sync, exactly once in sequence order.
func (d *Device) onMsg(m relay.MsgFrame, kind ObsKind) {
	o := Observation{Kind: kind, Seq: m.Seq, Text: m.Text, Title: m.From, Conv: m.Conv, Sent: time.UnixMilli(m.Time).UTC()}
	if m.Seq != 0 && m.Seq <= d.lastSeq {
		o.Kind, o.Detail = ObsDuplicate, string(kind)
		d.observe(o)
		return
	}
	if m.Seq != 0 {
		d.lastSeq = m.Seq
	}
	if kind == ObsSynced {
		d.syncedNow = append(d.syncedNow, m.Seq)
		d.stored = m.Seq // what sync brings is acknowledged by the sync itself
	}
	d.observe(o)
}

// heard notes that the relay answered on the link (a pong) at the given time.
func (d *Device) heard(l RelayLink, at time.Time) {
	if l == d.link && at.After(d.lastHeard) {
		d.lastHeard = at
	}
}

// OnRelayClosed: the connection ended (the relay closed it, or it failed).
func (d *Device) OnRelayClosed(l RelayLink, reason string) {
	if l != d.link {
		return
	}
	defer d.observe(Observation{Kind: ObsClosed, Detail: reason})
	d.resetLink()
	d.scheduleReconnect()
}

// scheduleReconnect retries the connection with backoff while the app runs and the user is
// logged in, and a login answered 5002 (retryNow); a timer already waiting does both.
func (d *Device) scheduleReconnect() {
	if d.app == AppNotRunning || !d.creds || d.retry != nil {
		return
	}
	d.retry = d.env.After(d.nextBackoff(), d.retryNow)
}

// retryNow is what the retry timer does when it fires. On an open connection where the app,
// running with credentials, is not logged in and waits for no login — which only a login
// answered 5002 leaves — it logs in again; otherwise it dials again (redial, which does nothing
// while a connection is up or on its way). One timer serves both, so a login answered 5002
// while a reconnect waits (its connection dialled meanwhile, as NetRestore does) is retried by
// that timer rather than left to none.
func (d *Device) retryNow() {
	d.retry = nil
	if d.linkState == linkOpen && d.netUp && d.app != AppNotRunning && d.creds && !d.loggedIn && !d.awaiting(relay.OpLogin) {
		d.sendLogin()
		return
	}
	d.redial()
}

// redial connects again if the network is up, else waits for another backoff.
func (d *Device) redial() {
	if d.netUp {
		d.connect()
	} else {
		d.scheduleReconnect()
	}
}

// nextBackoff doubles the backoff (1 s at first, 30 s at most; a login taken resets it) and
// draws a wait between half of it and the whole ("equal jitter").
func (d *Device) nextBackoff() time.Duration {
	if d.backoff == 0 {
		d.backoff = time.Second
	} else {
		d.backoff = min(2*d.backoff, 30*time.Second)
	}
	return d.backoff/2 + time.Duration(d.rng.Int64N(int64(d.backoff/2)+1))
}

// OnPush: a message arrived on the phone's FCM channel.
func (d *Device) OnPush(l FCMLink, f fakefcm.DeviceFrame) {
	if l != d.fcm {
		return
	}
	if f.Type == fakefcm.DeliverDeleted {
		d.observe(Observation{Kind: ObsDeleted, Detail: "FCM deleted pending messages"})
		return
	}
	m := f.Message
	o := Observation{Kind: ObsPush, Detail: m.MessageID, Sent: time.UnixMilli(m.SentTime).UTC(), Conv: m.Data[relay.PushDataConv],
		CollapseKey: m.CollapseKey, Data: m.Data}
	if !d.cfg.Lean {
		// A kept observation outlives the message: it gets its own copy of the data. A lean
		// device keeps none, and its observers are told of the delivered map, which nobody
		// writes once FCM has it (a day in the life delivers hundreds of thousands).
		o.Data = maps.Clone(m.Data)
	}
	n := m.Notification
	if n == nil {
		// A data message: FCM wakes the app's handler even when the app is killed (not when it is
		// force-stopped: fakefcm holds the message then). The app renders it from its data; the
		// simulated app posts nothing, so the tray stays as it was.
		o.Silent = true
		o.Title, o.Text, o.Badge = m.Data[fcmwire.DataTitle], m.Data[fcmwire.DataBody], atoiOr0(m.Data[fcmwire.DataBadge])
		o.ChannelID, o.Sound, o.ClickAction = m.Data[fcmwire.DataChannelID], m.Data[fcmwire.DataSound], m.Data[fcmwire.DataClickAction]
		d.observe(o)
		l.Ack(m.MessageID)
		return
	}
	o.Title, o.Text = n.Title, n.Body
	o.ChannelID, o.Sound, o.ClickAction = n.ChannelID, n.Sound, n.ClickAction
	if n.NotificationCount != nil {
		o.Badge = *n.NotificationCount
	}
	d.observe(o)
	if d.app != AppForeground {
		d.tray++
	}
	l.Ack(m.MessageID)
}

// atoiOr0 reads a decimal count, 0 if s is not one.
func atoiOr0(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// OnFCMClosed: FCM closed the channel (the token was unregistered).
func (d *Device) OnFCMClosed(l FCMLink) {
	if l == d.fcm {
		d.fcm = nil
	}
}
