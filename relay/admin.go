package relay

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"
)

// AppView is an app as the admin API shows it: no secret.
type AppView struct {
	SDKAppID    uint64      `json:"sdkAppId"`
	Name        string      `json:"name,omitempty"`
	LoginPolicy LoginPolicy `json:"loginPolicy"`
	Caps        Caps        `json:"caps"`
	// DefaultLocale and PushTemplates are the app's texts for pushes (AppConfig).
	DefaultLocale string                  `json:"defaultLocale,omitempty"`
	PushTemplates map[string]PushTemplate `json:"pushTemplates,omitempty"`
}

func (a *app) view() AppView {
	p := a.cfg.LoginPolicy
	if p == "" {
		p = PolicySinglePlatform
	}
	return AppView{SDKAppID: a.cfg.SDKAppID, Name: a.cfg.Name, LoginPolicy: p, Caps: a.caps,
		DefaultLocale: a.cfg.DefaultLocale, PushTemplates: maps.Clone(a.cfg.PushTemplates)}
}

// PutApp creates an app, or replaces the configuration of an existing one (create reports
// ErrExists if it exists; update reports ErrNotFound if it does not). An update without a
// secret key keeps the app's stored one.
func (c *Core) PutApp(now time.Time, cfg AppConfig, create bool) (AppView, error) {
	c.observe(now)
	old, exists := c.apps[cfg.SDKAppID]
	if !create && exists && cfg.SecretKey.IsZero() {
		cfg.SecretKey = old.cfg.SecretKey // an update without a secret keeps the stored one
	}
	if err := cfg.Validate(); err != nil {
		return AppView{}, err
	}
	cfg = cfg.Normalized()
	switch {
	case create && exists:
		return AppView{}, fmt.Errorf("%w: app %d", ErrExists, cfg.SDKAppID)
	case !create && !exists:
		return AppView{}, fmt.Errorf("%w: app %d", ErrNotFound, cfg.SDKAppID)
	}
	a := newApp(cfg, c.cfg)
	c.apps[cfg.SDKAppID] = a
	if exists && old.caps != a.caps {
		// New caps apply from the next push on.
		for _, u := range c.users {
			if u.key.SDKAppID == cfg.SDKAppID {
				for _, d := range u.devices {
					d.caps = nil
				}
			}
		}
	}
	c.record(PutApp{App: cfg})
	return a.view(), nil
}

// DeleteApp removes an app with its certificates, logins, bindings, messages and groups.
func (c *Core) DeleteApp(now time.Time, id uint64) error {
	c.observe(now)
	if _, ok := c.apps[id]; !ok {
		return fmt.Errorf("%w: app %d", ErrNotFound, id)
	}
	// End the app's logins before closing its connections, so that nothing is pushed on the way,
	// and take back its pushes (those of this very Ready too).
	for _, k := range c.sortedUserKeys() {
		if k.SDKAppID == id {
			u := c.users[k]
			for _, d := range u.devices {
				d.loggedIn = false
				c.cancelPushes(d, ReasonKicked, "the app was deleted")
			}
		}
	}
	for _, cn := range c.sortedConns() {
		if cn.dev != nil && cn.dev.key.SDKAppID == id {
			c.frame(cn.id, ServerFrame{Op: OpKicked, Reason: "the app was deleted"})
			c.closeConn(cn, CloseNormal, "app deleted")
		}
	}
	for k, u := range c.users {
		if k.SDKAppID == id {
			for _, d := range u.devices {
				d.summaryGen++
				if d.binding != nil && c.tokens[tokenKey{d.key.SDKAppID, d.binding.Token}] == d.key {
					delete(c.tokens, tokenKey{d.key.SDKAppID, d.binding.Token})
				}
			}
			delete(c.users, k)
		}
	}
	for _, v := range c.Certificates(id) {
		delete(c.certs, v.ID)
		c.record(DeleteCertificate{ID: v.ID}) // the driver forgets their senders
	}
	for k := range c.groups {
		if k.app == id {
			delete(c.groups, k)
		}
	}
	delete(c.apps, id)
	c.record(DeleteApp{SDKAppID: id})
	return nil
}

// Apps lists the apps by SDKAppID.
func (c *Core) Apps() []AppView {
	out := make([]AppView, 0, len(c.apps))
	for _, a := range c.apps {
		out = append(out, a.view())
	}
	slices.SortFunc(out, func(a, b AppView) int { return cmp.Compare(a.SDKAppID, b.SDKAppID) })
	return out
}

// App returns one app.
func (c *Core) App(id uint64) (AppView, bool) {
	a, ok := c.apps[id]
	if !ok {
		return AppView{}, false
	}
	return a.view(), true
}

// PutCertificate creates a certificate (create) or replaces one; a replacement that gives
// neither a service account nor a server key keeps the stored credentials. Replacing clears a
// misconfigured status and the check: the certificate is checked again. The certificate is stored unchecked (the
// driver checks it and feeds the result back through CertificateChecked), or failed at once when
// it is a legacy certificate aimed at Google.
func (c *Core) PutCertificate(now time.Time, cert Certificate, create bool) (CertificateView, error) {
	c.observe(now)
	old, exists := c.certs[cert.ID]
	if !create && exists && old.SDKAppID == cert.SDKAppID && cert.ServiceAccount.IsZero() && cert.ServerKey.IsZero() {
		// An update without credentials keeps the stored ones.
		cert.ServiceAccount, cert.ServerKey = old.ServiceAccount, old.ServerKey
	}
	if err := cert.Validate(); err != nil {
		return CertificateView{}, err
	}
	if _, ok := c.apps[cert.SDKAppID]; !ok {
		return CertificateView{}, fmt.Errorf("%w: app %d: create the app first", ErrNotFound, cert.SDKAppID)
	}
	switch {
	case create && exists:
		return CertificateView{}, fmt.Errorf("%w: certificate %d", ErrExists, cert.ID)
	case !create && !exists:
		return CertificateView{}, fmt.Errorf("%w: certificate %d", ErrNotFound, cert.ID)
	case exists && old.SDKAppID != cert.SDKAppID:
		return CertificateView{}, fmt.Errorf("%w: certificate %d belongs to app %d", ErrInvalid, cert.ID, old.SDKAppID)
	}
	cert.Status = CertStatus{}
	c.initialCheck(&cert)
	c.certs[cert.ID] = &cert
	c.record(PutCertificate{Cert: cert})
	return cert.View(), nil
}

// NextCertificateID proposes an unused certificate ID.
func (c *Core) NextCertificateID() int64 {
	id := int64(1)
	for cid := range c.certs {
		id = max(id, cid+1)
	}
	return id
}

// DeleteCertificate removes a certificate and the bindings that use it.
func (c *Core) DeleteCertificate(now time.Time, sdkAppID uint64, id int64) error {
	c.observe(now)
	cert, ok := c.certs[id]
	if !ok || cert.SDKAppID != sdkAppID {
		return fmt.Errorf("%w: certificate %d in app %d", ErrNotFound, id, sdkAppID)
	}
	for _, k := range c.sortedUserKeys() {
		u := c.users[k]
		for _, d := range u.devices {
			if d.binding != nil && d.binding.CertificateID == id {
				c.unbind(d)
			}
		}
	}
	delete(c.certs, id)
	c.record(DeleteCertificate{ID: id})
	return nil
}

// Certificates lists an app's certificates (all apps' when sdkAppID is 0), secrets masked.
func (c *Core) Certificates(sdkAppID uint64) []CertificateView {
	var out []CertificateView
	for _, cert := range c.certs {
		if sdkAppID == 0 || cert.SDKAppID == sdkAppID {
			out = append(out, cert.View())
		}
	}
	slices.SortFunc(out, func(a, b CertificateView) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Certificate returns a certificate with its secrets, for the driver's FCM senders.
func (c *Core) Certificate(id int64) (Certificate, bool) {
	cert, ok := c.certs[id]
	if !ok {
		return Certificate{}, false
	}
	return *cert, true
}

// Kick ends every login of a user (an admin kick) and reports how many devices were kicked.
func (c *Core) Kick(now time.Time, sdkAppID uint64, userID, reason string) (int, error) {
	c.observe(now)
	if _, ok := c.apps[sdkAppID]; !ok {
		return 0, fmt.Errorf("%w: app %d", ErrNotFound, sdkAppID)
	}
	if reason == "" {
		reason = "kicked by the administrator"
	}
	u, ok := c.users[UserKey{sdkAppID, userID}]
	if !ok {
		return 0, nil
	}
	n := 0
	for _, d := range u.devices {
		if d.loggedIn {
			c.kick(d, reason)
			n++
		}
	}
	return n, nil
}

// AdminSend sends a message on a user's behalf (a server-side send) and returns its ID.
func (c *Core) AdminSend(now time.Time, sdkAppID uint64, req SendRequest) (string, error) {
	id, _, err := c.AdminSendAsync(now, sdkAppID, req)
	return id, err
}

// AdminSendAsync is AdminSend for a partitioned core, whose send may wait for other partitions:
// then pending is true and the send's outcome comes later, in a Ready's SendsDone under the
// message's ID. A single relay's sends never wait.
func (c *Core) AdminSendAsync(now time.Time, sdkAppID uint64, req SendRequest) (id string, pending bool, _ error) {
	c.observe(now)
	if _, ok := c.apps[sdkAppID]; !ok {
		return "", false, fmt.Errorf("%w: app %d", ErrNotFound, sdkAppID)
	}
	if req.From == "" {
		req.From = "administrator"
	}
	id, pending, err := c.send(sdkAppID, "", nil, req, sendOrigin{admin: true})
	if err != nil {
		return "", false, fmt.Errorf("%w: %s", ErrInvalid, err.desc)
	}
	return id, pending, nil
}

// PutGroup creates a group or replaces its members.
func (c *Core) PutGroup(now time.Time, g Group) (Group, error) {
	c.observe(now)
	if _, ok := c.apps[g.SDKAppID]; !ok {
		return Group{}, fmt.Errorf("%w: app %d", ErrNotFound, g.SDKAppID)
	}
	if !validID(g.ID) {
		return Group{}, fmt.Errorf("%w: group id %q: 1 to 128 letters, digits or _.@:+-", ErrInvalid, g.ID)
	}
	if len(g.Members) == 0 {
		return Group{}, fmt.Errorf("%w: group %q needs at least one member", ErrInvalid, g.ID)
	}
	if err := checkDisplayName(fmt.Sprintf("group %q: name", g.ID), g.Name); err != nil {
		return Group{}, err
	}
	members := slices.Clone(g.Members)
	slices.Sort(members)
	members = slices.Compact(members)
	for _, m := range members {
		if !validID(m) {
			return Group{}, fmt.Errorf("%w: group %q: member %q is not a valid user ID", ErrInvalid, g.ID, m)
		}
	}
	g.Members = members
	c.groups[groupKey{g.SDKAppID, g.ID}] = &g
	c.record(PutGroup{Group: g})
	return g, nil
}

// SetProfile stores a user's profile; an empty nickname removes it (titles fall back to the
// user ID). The nickname titles the pushes of messages the user sends from now on.
func (c *Core) SetProfile(now time.Time, p Profile) (Profile, error) {
	c.observe(now)
	k, err := c.adminUser(p.SDKAppID, p.UserID)
	if err != nil {
		return Profile{}, err
	}
	if err := checkDisplayName("nickname", p.Nickname); err != nil {
		return Profile{}, err
	}
	c.user(k).nickname = p.Nickname
	c.record(PutProfile{Profile: p})
	return p, nil
}

// Profile returns a user's profile: ErrNotFound if the user has none.
func (c *Core) Profile(sdkAppID uint64, userID string) (Profile, error) {
	k, err := c.adminUser(sdkAppID, userID)
	if err != nil {
		return Profile{}, err
	}
	u, ok := c.users[k]
	if !ok || u.nickname == "" {
		return Profile{}, fmt.Errorf("%w: user %q in app %d has no profile: PUT one with a nickname", ErrNotFound, userID, sdkAppID)
	}
	return Profile{SDKAppID: sdkAppID, UserID: userID, Nickname: u.nickname}, nil
}

// adminUser checks the user an admin call about one user's state names: the app exists, the
// user ID is valid, and this core's partition holds the user (a call routed to the wrong
// partition would otherwise create the user where no login or message ever finds it).
func (c *Core) adminUser(sdkAppID uint64, userID string) (UserKey, error) {
	k := UserKey{sdkAppID, userID}
	switch {
	case c.apps[sdkAppID] == nil:
		return k, fmt.Errorf("%w: app %d", ErrNotFound, sdkAppID)
	case !validID(userID):
		return k, fmt.Errorf("%w: user id %q: 1 to 128 letters, digits or _.@:+-", ErrInvalid, userID)
	case !c.cfg.Partition.Holds(k):
		return k, fmt.Errorf("%w: user %q of app %d is not of partition %d", ErrInvalid, userID, sdkAppID, c.cfg.Partition.Index)
	}
	return k, nil
}

// DeviceView is one device of a user as the admin API shows it.
type DeviceView struct {
	DeviceID   string    `json:"deviceId"`
	Platform   string    `json:"platform,omitempty"`
	Locale     string    `json:"locale,omitempty"`
	LoggedIn   bool      `json:"loggedIn"`
	Ended      string    `json:"ended,omitempty"`
	Online     bool      `json:"online"`
	Background bool      `json:"background,omitempty"`
	LoginAt    time.Time `json:"loginAt,omitzero"`
	// LastSeen is when the relay last heard from the device: its login, or the last frame it
	// sent on its connection (a ping, an ack, a request). A connection that opens without a
	// login, or that ends, says nothing about which device is there, so it does not count. It is
	// kept in memory only (storing it would cost a write per heartbeat): after a restart it is
	// absent until the device speaks again.
	LastSeen time.Time `json:"lastSeen,omitzero"`
	Binding  *Binding  `json:"binding,omitempty"`
	Unread   int       `json:"unread"`
	Held     int       `json:"held,omitempty"`
	// Caps is the state of the device's frequency caps.
	Caps CapsView `json:"caps"`
	// Unpushable is the push rule's reason (a Reason… constant) why a message for the device
	// would not be pushed now, "" when it would be; UnpushableDetail adds what the reason alone
	// does not say (a deleted certificate). The rule decides it: a view never guesses it again.
	Unpushable       string `json:"unpushable,omitempty"`
	UnpushableDetail string `json:"unpushableDetail,omitempty"`
}

// CapsView is the state of one device's frequency caps, as the push rule counts it at the
// view's time.
type CapsView struct {
	// PerMinute, PerHour and Burst are the limits in force (the app's caps, defaults filled in).
	PerMinute int `json:"perMinute"`
	PerHour   int `json:"perHour"`
	Burst     int `json:"burst"`
	// SentLastMinute and SentLastHour count the pushes the caps charged (every attempt that
	// reached FCM) in the window, as the cap counts them: in slots of a sixtieth of the window,
	// so a push up to one slot older than the window may still count.
	SentLastMinute int `json:"sentLastMinute"`
	SentLastHour   int `json:"sentLastHour"`
	// Tokens is what is left in the burst bucket.
	Tokens int `json:"tokens"`
	// Held counts the messages a cap holds back for a summary push; SummaryAt is when that
	// summary is due (the caps are checked again then).
	Held      int       `json:"held,omitempty"`
	SummaryAt time.Time `json:"summaryAt,omitzero"`
}

// capsView reads a device's caps at now without changing them.
func (c *Core) capsView(d *device, now time.Time) CapsView {
	caps := c.cfg.DefaultCaps
	if a, ok := c.apps[d.key.SDKAppID]; ok {
		caps = a.caps
	}
	v := CapsView{PerMinute: caps.PerMinute, PerHour: caps.PerHour, Burst: caps.Burst, Tokens: caps.Burst, Held: len(d.held)}
	if dc := d.caps; dc != nil {
		v.SentLastMinute, v.SentLastHour = dc.perMinute.CountAt(now), dc.perHour.CountAt(now)
		v.Tokens = dc.burst.Tokens(now)
	}
	if len(d.held) > 0 {
		v.SummaryAt = d.summaryAt
	}
	return v
}

// UserView is a user as the admin API shows it.
type UserView struct {
	SDKAppID uint64 `json:"sdkAppId"`
	UserID   string `json:"userId"`
	Nickname string `json:"nickname,omitempty"`
	LastSeq  uint64 `json:"lastSeq"`
	// PushSettings are the user's push settings (pushes on or off).
	PushSettings PushSettings `json:"pushSettings"`
	Devices      []DeviceView `json:"devices"`
}

// User describes a user's devices, logins and bindings, their caps as of the core's latest
// input.
func (c *Core) User(sdkAppID uint64, userID string) (UserView, bool) {
	return c.UserAt(c.now, sdkAppID, userID)
}

// UserAt is User with the caps read at now (or the core's latest input, if later). It changes
// nothing: a view is not an input.
func (c *Core) UserAt(now time.Time, sdkAppID uint64, userID string) (UserView, bool) {
	if now.Before(c.now) {
		now = c.now
	}
	u, ok := c.users[UserKey{sdkAppID, userID}]
	if !ok {
		return UserView{}, false
	}
	v := UserView{SDKAppID: sdkAppID, UserID: userID, Nickname: u.nickname, LastSeq: u.seq, PushSettings: u.pushSettings(), Devices: []DeviceView{}}
	for _, d := range u.devices {
		dv := DeviceView{DeviceID: d.key.DeviceID, Platform: d.platform, Locale: d.locale, LoggedIn: d.loggedIn, Ended: d.ended, Online: d.conn != nil,
			Background: d.background, LoginAt: d.loginAt, LastSeen: d.lastSeen, Unread: d.unread, Held: len(d.held),
			Caps: c.capsView(d, now)}
		dv.Unpushable, dv.UnpushableDetail = c.unpushable(d)
		if d.binding != nil {
			b := *d.binding
			dv.Binding = &b
		}
		v.Devices = append(v.Devices, dv)
	}
	return v, true
}

func (c *Core) sortedConns() []*conn {
	out := make([]*conn, 0, len(c.conns))
	for _, cn := range c.conns {
		out = append(out, cn)
	}
	slices.SortFunc(out, func(a, b *conn) int { return cmp.Compare(uint64(a.id), uint64(b.id)) })
	return out
}

func (c *Core) sortedUserKeys() []UserKey {
	out := make([]UserKey, 0, len(c.users))
	for k := range c.users {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b UserKey) int {
		if a.SDKAppID != b.SDKAppID {
			return cmp.Compare(a.SDKAppID, b.SDKAppID)
		}
		return cmp.Compare(a.UserID, b.UserID)
	})
	return out
}

// Stats are the core's gauges, for metrics.
type Stats struct {
	Connections   int `json:"connections"`
	LoggedIn      int `json:"loggedIn"`
	Online        int `json:"online"`
	PendingPushes int `json:"pendingPushes"`
	Apps          int `json:"apps"`
	Certificates  int `json:"certificates"`
}

// Stats counts connections, logins and unfinished pushes.
func (c *Core) Stats() Stats {
	s := Stats{Connections: len(c.conns), PendingPushes: len(c.pushes), Apps: len(c.apps), Certificates: len(c.certs)}
	for _, u := range c.users {
		for _, d := range u.devices {
			if d.loggedIn {
				s.LoggedIn++
				if d.conn != nil {
					s.Online++
				}
			}
		}
	}
	return s
}
