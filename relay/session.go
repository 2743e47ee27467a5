package relay

import (
	"errors"
	"fmt"
	"time"

	"github.com/pushlab/pushlab/internal/ratelimit"
)

// conn is one transport connection, logged in or not.
type conn struct {
	id       ConnID
	dev      *device // the device logged in on it; nil before login and after logout
	lastSeen time.Time
	frames   ratelimit.Bucket // flood control, kept in the conn: every frame takes from it
	refused  int              // frames refused in a row for flooding
	gen      uint64           // heartbeat timer generation
	closed   bool
	// steady: the driver keeps the connection's heartbeat (SetHeard) and the core looks at its
	// deadline again only once the driver says it stopped (HeartbeatStopped): no timer runs.
	steady bool
}

// user is a user of an app: their inbox, devices and receive options.
type user struct {
	key   UserKey
	seq   uint64 // the last sequence number given to a message in this inbox
	inbox []inboxEntry
	conv  string // c2cConv, once made
	// devices are the user's devices sorted by ID, the order of delivery and of the trace. A
	// user has a few devices, and a slice costs far less memory than a map (per user, and users
	// are many) while finding one among a few just as fast.
	devices []*device
	opts    map[string]string // conv → "notNotify"; nil until the first
	// pushesOff: the user turned pushes off (PushSettings.Enabled false).
	pushesOff bool
	nickname  string // the user's profile; empty: none
	// clientMsgIDs remembers recent client message IDs so that a resent message is not sent
	// twice; clientMsgOrder bounds it. nil until the user's first message with one.
	clientMsgIDs   map[string]string
	clientMsgOrder []string
}

// device is one device of a user as the relay knows it: logged in or not, connected or not.
type device struct {
	key      DeviceKey
	user     *user
	platform string
	locale   string // the login's locale, canonical; empty: the app's default
	loggedIn bool
	ended    string // why the login ended: ReasonLoggedOut or ReasonKicked; empty if never logged in
	loginAt  time.Time
	conn     *conn    // nil when the device has no live connection
	binding  *Binding // nil: none; whoever sets it sets lastCert to its certificate too

	background bool
	unread     int

	// Live delivery on the current connection: frames flow once the device has synced; cursor
	// is the last seq written to it and acked the last one it acknowledged.
	synced bool
	cursor uint64
	acked  uint64

	caps       *deviceCaps
	held       []uint64 // seqs a cap held back, waiting for the summary push
	summaryGen uint64
	summaryAt  time.Time // when the summary push of held is due (the core's time it was scheduled for)

	// lastSeen is when the relay last heard from the device: its login or any later frame it
	// sent on its connection. Kept in memory only (see DeviceView.LastSeen).
	lastSeen time.Time

	// loginSeq is the user's last seq when the device logged in: what came after it, before the
	// device's first completed sync, reached it by no frame.
	loginSeq uint64
	// pushes are the device's unfinished pushes, cancelled when it stops qualifying.
	pushes []uint64
	// lastCert is the certificate of the device's latest binding, its binding's while it has
	// one: trace entries are attributed to it, after the binding is gone too.
	lastCert int64
}

// Open tells the core a transport connection opened.
func (c *Core) Open(now time.Time, id ConnID) {
	now = c.observe(now)
	cn := &conn{id: id, lastSeen: now}
	// Config.Validate checked the flood settings.
	ratelimit.MustInit(cn.frames.Init(c.cfg.FrameBurst, time.Second/time.Duration(c.cfg.FramesPerSecond)))
	c.conns[id] = cn
	c.timers.Push(now.Add(c.cfg.HeartbeatDeadline.D()), timer{kind: timerHeartbeat, conn: cn, gen: cn.gen})
}

// Closed tells the core a connection is gone: the peer closed it, the network broke it, or the
// driver closed it. A logged-in device whose connection goes without a logout is now killed:
// messages come to it as pushes, and frames it never acknowledged are pushed now.
func (c *Core) Closed(now time.Time, id ConnID) {
	c.observe(now)
	if cn, ok := c.conns[id]; ok {
		c.gone(cn)
	}
}

// gone forgets a connection and turns its device, if logged in, into a killed one.
func (c *Core) gone(cn *conn) {
	cn.closed = true
	delete(c.conns, cn.id)
	d := cn.dev
	cn.dev = nil
	if d == nil || d.conn != cn {
		return
	}
	d.conn = nil
	synced := d.synced
	d.synced = false
	if !d.loggedIn {
		return
	}
	// No notification swallowed by a dead connection: what was written but not acknowledged is
	// decided again as if it had arrived after the kill. A device that never finished its first
	// sync got no frame for what arrived since its login: that is decided again too.
	upTo := d.cursor
	from := d.acked
	if !synced {
		from, upTo = max(d.acked, d.loginSeq), d.user.seq
	}
	for _, e := range d.user.between(from, upTo) {
		c.decide(d, e.msg(), false)
	}
	if len(d.held) > 0 {
		c.scheduleSummary(d, c.now)
	}
}

// closeConn asks the driver to close a connection and forgets it at once.
func (c *Core) closeConn(cn *conn, code int, reason string) {
	c.ready.Closes = append(c.ready.Closes, CloseConn{Conn: cn.id, Code: code, Reason: reason})
	c.gone(cn)
}

// checkHeartbeat closes a connection silent past the deadline, or looks again later — or, while
// the driver keeps its heartbeat steady, once the driver says the heartbeat stopped.
func (c *Core) checkHeartbeat(cn *conn) {
	var every time.Duration
	if c.heard != nil {
		// Heartbeats the driver answered itself count as frames heard at their time.
		var at time.Time
		if at, every = c.heard(cn.id); at.After(cn.lastSeen) && !at.After(c.now) {
			cn.lastSeen = at
			if d := cn.dev; d != nil && at.After(d.lastSeen) {
				d.lastSeen = at
			}
		}
	}
	deadline := cn.lastSeen.Add(c.cfg.HeartbeatDeadline.D())
	if !c.now.Before(deadline) {
		c.closeConn(cn, CloseGoingAway, closeHeartbeat)
		return
	}
	if every > 0 && every < c.cfg.HeartbeatDeadline.D() {
		// Each kept ping comes within the deadline of the one before it (the next is at most every
		// after the last heard, so before this deadline too): the deadline would only ever move on.
		cn.steady = true
		return
	}
	c.timers.Push(deadline, timer{kind: timerHeartbeat, conn: cn, gen: cn.gen})
}

// HeartbeatStopped tells the core that the driver no longer keeps the connection's heartbeat
// (SetHeard): from the last ping it took, the connection's deadline runs again. As long as the
// driver's HeardFunc still answers for the connection with that last ping, it changes nothing
// else and leaves nothing to carry out — the ping came within one interval, inside the
// deadline — so a driver may call it while carrying out a Ready. The connection's deadline
// timer is queued anew: among connections whose deadlines fall at the very same instant, it
// now comes after those whose timers were queued before it.
func (c *Core) HeartbeatStopped(now time.Time, id ConnID) {
	c.observe(now)
	cn, ok := c.conns[id]
	if !ok || !cn.steady {
		return
	}
	cn.steady = false
	c.checkHeartbeat(cn)
}

// Refuse tells the core a frame could not be decoded; the core answers it.
func (c *Core) Refuse(now time.Time, id ConnID, fe *FrameError) {
	now = c.observe(now)
	cn, ok := c.conns[id]
	if !ok || !c.admit(cn, now, fe.ID) {
		return
	}
	c.reply(cn, fe.ID, fe.Code, fe.Desc)
}

// admit counts a frame (id: its request ID, 0 if none) against the connection's flood limit.
// A refused request is answered CodeRateLimited under its own ID, so that a client waiting for
// it hears why; a refused frame without an ID is answered once per run of refusals. A
// connection that keeps flooding is closed.
func (c *Core) admit(cn *conn, now time.Time, id int64) bool {
	cn.lastSeen = now
	if cn.frames.Take(now) {
		cn.refused = 0
		return true
	}
	cn.refused++
	if id != 0 || cn.refused == 1 {
		c.reply(cn, id, CodeRateLimited, fmt.Sprintf("more than %d frames a second on this connection: this one was dropped; slow down, or raise framesPerSecond", c.cfg.FramesPerSecond))
	}
	if cn.refused >= c.cfg.FrameBurst {
		c.closeConn(cn, ClosePolicy, closeFloodLimit)
	}
	return false
}

func (c *Core) reply(cn *conn, id int64, code Code, desc string) {
	c.frame(cn.id, ServerFrame{Op: OpReply, ID: id, Code: code, Desc: desc})
}

// Receive hands the core one decoded frame from a connection.
func (c *Core) Receive(now time.Time, id ConnID, f ClientFrame) {
	now = c.observe(now)
	cn, ok := c.conns[id]
	if !ok || !c.admit(cn, now, f.ID) {
		return
	}
	if cn.dev != nil {
		cn.dev.lastSeen = now
	}
	switch f.Op {
	case OpPing:
		c.frame(cn.id, ServerFrame{Op: OpPong})
		return
	case OpLogin:
		c.login(cn, f)
		if cn.dev != nil {
			cn.dev.lastSeen = now
		}
		return
	case OpLogout, OpSetPushToken, OpSend, OpSync, OpAck, OpBackground, OpForeground, OpSetReceiveOpt,
		OpSetPushSettings, OpGetPushSettings:
	default:
		c.reply(cn, f.ID, CodeUnknownOp, fmt.Sprintf("unknown op %q: use login, setPushToken, send, sync, ack, background, foreground, setReceiveOpt, setPushSettings, getPushSettings, logout or ping", f.Op))
		return
	}
	d := cn.dev
	if d == nil {
		c.reply(cn, f.ID, CodeNotLoggedIn, fmt.Sprintf("%s needs a login on this connection first", f.Op))
		return
	}
	switch f.Op {
	case OpLogout:
		c.endLogin(d, ReasonLoggedOut, "logout")
		c.reply(cn, f.ID, OK, "logged out")
	case OpSetPushToken:
		c.setPushToken(cn, d, f)
	case OpSend:
		c.clientSend(cn, d, f)
	case OpSync:
		c.sync(cn, d, f)
	case OpAck:
		if f.Seq > d.acked {
			d.acked = min(f.Seq, d.cursor)
		}
	case OpBackground:
		if f.Unread < 0 {
			c.reply(cn, f.ID, CodeBadField, "unread must not be negative")
			return
		}
		d.background, d.unread = true, f.Unread
		c.recordSession(d)
		c.reply(cn, f.ID, OK, "")
	case OpForeground:
		d.background = false
		c.reply(cn, f.ID, OK, "")
	case OpSetReceiveOpt:
		c.setReceiveOpt(cn, d, f)
	case OpSetPushSettings:
		if f.Enabled == nil {
			c.reply(cn, f.ID, CodeBadField, `enabled is required: true to turn the user's pushes on, false to turn them off, e.g. {"op":"setPushSettings","id":1,"enabled":false}`)
			return
		}
		c.setPushSettings(d.user, PushSettings{Enabled: *f.Enabled})
		c.pushSettingsReply(cn, f.ID, d.user)
	case OpGetPushSettings:
		c.pushSettingsReply(cn, f.ID, d.user)
	}
}

// login checks a UserSig and logs the device in on the connection, kicking what the app's
// policy forbids to coexist.
func (c *Core) login(cn *conn, f ClientFrame) {
	if c.logins != nil && !c.logins.Take(c.now) {
		c.reply(cn, f.ID, CodeLoginsPerSecond, fmt.Sprintf("the relay takes at most %d logins a second; retry with backoff", c.cfg.LoginsPerSecond))
		return
	}
	a, ok := c.apps[f.SDKAppID]
	if !ok {
		c.reply(cn, f.ID, CodeUnknownApp, fmt.Sprintf("no app with sdkAppId %d: check the SDKAppID the app was built with", f.SDKAppID))
		return
	}
	if !validID(f.UserID) || !validID(f.DeviceID) {
		c.reply(cn, f.ID, CodeBadField, "userId and deviceId are required: 1 to 128 letters, digits or _.@:+-")
		return
	}
	if f.Platform == "" {
		f.Platform = "android"
	}
	if !validID(f.Platform) {
		c.reply(cn, f.ID, CodeBadField, fmt.Sprintf("platform %q: use a name such as android, ios or web", f.Platform))
		return
	}
	locale := ""
	if f.Locale != "" {
		l, err := CanonicalLocale(f.Locale)
		if err != nil {
			c.reply(cn, f.ID, CodeBadField, fmt.Sprintf("locale %q: %v; send a BCP 47 language tag such as en, zh-CN or zh-HK, or leave it out", f.Locale, err))
			return
		}
		locale = l
	}
	if err := a.sig.Verify(f.UserSig, f.SDKAppID, f.UserID, c.now); err != nil {
		code := CodeBadSignature
		switch {
		case errors.Is(err, ErrSigExpired):
			code = CodeSigExpired
		case errors.Is(err, ErrSigMismatch):
			code = CodeSigMismatch
		}
		c.reply(cn, f.ID, code, "login refused: "+err.Error()+"; make a new UserSig with the app's secret key on your server")
		return
	}
	key := DeviceKey{f.SDKAppID, f.UserID, f.DeviceID}
	if cn.dev != nil && cn.dev.key != key {
		// Logging in as another device on the same connection ends the first login.
		c.endLogin(cn.dev, ReasonLoggedOut, "another login on the same connection")
	}
	d := c.device(key)
	if old := d.conn; old != nil && old != cn {
		// The device is back on a new connection; the old one (half-open, most likely) goes
		// without turning the device into a killed one.
		d.conn, old.dev = nil, nil
		c.closeConn(old, CloseNormal, closeReplaced)
	}
	for _, o := range d.user.devices {
		if o != d && o.loggedIn && kicks(a.cfg.LoginPolicy, f.Platform, o.platform) {
			c.kick(o, fmt.Sprintf("logged in on another device (%s)", f.DeviceID))
		}
	}
	d.loggedIn, d.ended, d.platform, d.loginAt, d.locale = true, "", f.Platform, c.now, locale
	d.conn, cn.dev = cn, d
	d.synced, d.cursor, d.acked, d.background, d.loginSeq = false, 0, 0, false, d.user.seq
	// Pushes on their way to this device are moot: it syncs what it missed. (Held messages wait
	// for its first completed sync, which cancels them.)
	c.cancelPushes(d, ReasonOnline, "the device logged in again")
	c.recordSession(d)
	c.reply(cn, f.ID, OK, "logged in")
}

// kicks reports whether a new login on platform p ends an existing login on platform q.
func kicks(policy LoginPolicy, p, q string) bool {
	switch policy {
	case PolicyMulti:
		return false
	case PolicySingle:
		return true
	default: // single-platform
		return p == q
	}
}

// kick ends a device's login: an online device gets a kicked frame and its connection closed.
func (c *Core) kick(d *device, reason string) {
	if cn := d.conn; cn != nil {
		c.frame(cn.id, ServerFrame{Op: OpKicked, Reason: reason})
		d.conn, cn.dev = nil, nil
		c.closeConn(cn, CloseNormal, "kicked: "+reason)
	}
	c.endLogin(d, ReasonKicked, reason)
}

// endLogin logs a device out (logout or kick): its binding goes, and nothing more is pushed to it.
func (c *Core) endLogin(d *device, how, detail string) {
	if !d.loggedIn {
		return
	}
	d.loggedIn, d.ended = false, how
	c.cancelHeld(d, how, detail)
	c.cancelPushes(d, how, detail)
	c.unbind(d)
	if d.caps != nil {
		// What the caps counted outlives the login (FCM's limits are per device): keep it.
		ended := d.session()
		ended.LoggedOut, ended.Held, ended.Unread, ended.Locale = true, nil, 0, ""
		c.record(PutSession{Session: ended})
	} else {
		c.record(DeleteSession{Key: d.key})
	}
	if cn := d.conn; cn != nil {
		// A logged-out device keeps its connection but no longer receives messages on it.
		cn.dev, d.conn = nil, nil
	}
}

// session is a logged-in device as persisted.
func (d *device) session() SessionState {
	s := SessionState{Key: d.key, Platform: d.platform, LoginAt: d.loginAt, Unread: d.unread, Held: d.held, Locale: d.locale}
	if d.caps != nil {
		s.Caps = &CapsState{PerMinute: d.caps.perMinute.State(), PerHour: d.caps.perHour.State(), BucketFull: d.caps.burst.State()}
	}
	return s
}

// setPushToken binds the device to a certificate and token, as the app does after every login.
func (c *Core) setPushToken(cn *conn, d *device, f ClientFrame) {
	cert, ok := c.certs[f.CertificateID]
	switch {
	case !ok:
		c.reply(cn, f.ID, CodeUnknownCertificate, fmt.Sprintf("no certificate %d: register the push certificate in the console and use its ID", f.CertificateID))
		return
	case cert.SDKAppID != d.key.SDKAppID:
		c.reply(cn, f.ID, CodeForeignCertificate, fmt.Sprintf("certificate %d belongs to another app; use one of app %d's certificates", f.CertificateID, d.key.SDKAppID))
		return
	case f.Token == "" || len(f.Token) > MaxTokenBytes:
		c.reply(cn, f.ID, CodeEmptyToken, fmt.Sprintf("token must be 1 to %d bytes: the FCM registration token from getToken", MaxTokenBytes))
		return
	}
	if owner, ok := c.tokens[tokenKey{d.key.SDKAppID, f.Token}]; ok && owner != d.key {
		// A token belongs to one app instance: it moved (the phone changed hands or users).
		c.unbind(c.device(owner))
	}
	if d.binding != nil && d.binding.Token != f.Token {
		delete(c.tokens, tokenKey{d.key.SDKAppID, d.binding.Token})
	}
	d.binding = &Binding{Key: d.key, CertificateID: cert.ID, Token: f.Token}
	c.tokens[tokenKey{d.key.SDKAppID, f.Token}] = d.key
	d.lastCert = cert.ID
	c.record(PutBinding{Binding: *d.binding})
	c.reply(cn, f.ID, OK, "push token bound")
}

// TokenMoved is told, in a partitioned core, that the device to (of another partition) bound the
// token of app sdkAppID: a device of this partition still bound to it loses its binding, as it
// would in a single relay when the token moves (the phone changed hands or users).
func (c *Core) TokenMoved(now time.Time, sdkAppID uint64, token string, to DeviceKey) {
	c.observe(now)
	if owner, ok := c.tokens[tokenKey{sdkAppID, token}]; ok && owner != to {
		c.unbind(c.device(owner))
	}
}

// unbind removes a device's push binding.
func (c *Core) unbind(d *device) {
	if d.binding == nil {
		return
	}
	if c.tokens[tokenKey{d.key.SDKAppID, d.binding.Token}] == d.key {
		delete(c.tokens, tokenKey{d.key.SDKAppID, d.binding.Token})
	}
	d.binding = nil
	c.record(DeleteBinding{Key: d.key})
	c.cancelPushes(d, ReasonNoBinding, "the push binding was removed")
}
