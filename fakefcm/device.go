package fakefcm

import (
	"fmt"
	"slices"
	"time"
)

// device is one registration token's state: the app instance on a phone as FCM sees it.
type device struct {
	token       string
	senderID    string
	packageName string
	projectID   string

	registered bool   // false once uninstalled, refreshed away or expired
	goneReason string // why it is no longer registered

	connected    bool      // a device channel is open
	forceStopped bool      // the app was force-stopped: nothing is delivered until it reconnects
	lastActive   time.Time // the last time its channel opened or closed

	pending  []*entry // waiting for the device or for a throttle, in delivery order
	outgoing []*entry // dispatched or about to be, not yet acknowledged, in delivery order
	deleted  bool     // messages were discarded; tell the device when it next connects

	limits       *deviceLimits // built on first delivery
	lastDispatch time.Time     // deliveries leave in order: none earlier than the previous one
	flushAt      time.Time     // when a throttle flush is scheduled; zero if none
	flushGen     uint64        // bumped to cancel a scheduled flush
}

// DeviceSpec is what registering a device takes: the app's sender ID and package name, as the
// FCM SDK's getToken has them.
type DeviceSpec struct {
	SenderID    string
	PackageName string
}

// DeviceInfo describes a token for the control API and tests.
type DeviceInfo struct {
	Token        string `json:"token"`
	SenderID     string `json:"senderId"`
	PackageName  string `json:"packageName"`
	ProjectID    string `json:"projectId"`
	Registered   bool   `json:"registered"`
	GoneReason   string `json:"goneReason,omitempty"`
	Connected    bool   `json:"connected"`
	ForceStopped bool   `json:"forceStopped"`
	Pending      int    `json:"pending"`
	Outgoing     int    `json:"outgoing"`
}

// RegisterDevice issues a registration token for an app instance.
func (c *Core) RegisterDevice(now time.Time, spec DeviceSpec) (string, error) {
	now = c.observe(now)
	p, ok := c.bySender[spec.SenderID]
	if !ok {
		return "", fmt.Errorf("%w: %q: create the project first (POST /fakefcm/v1/projects)", ErrUnknownSender, spec.SenderID)
	}
	if !packagePattern.MatchString(spec.PackageName) {
		return "", fmt.Errorf("%w: package name %q: expected a Java package name such as com.example.im", ErrInvalid, spec.PackageName)
	}
	if len(p.PackageNames) > 0 && !slices.Contains(p.PackageNames, spec.PackageName) {
		return "", fmt.Errorf("%w: %q is not one of project %q's apps %v", ErrPackageNotListed, spec.PackageName, p.ID, p.PackageNames)
	}
	return c.newDevice(now, p, spec.PackageName).token, nil
}

func (c *Core) newDevice(now time.Time, p *project, pkg string) *device {
	var token string
	for token == "" || c.devices[token] != nil {
		// The shape of a real token: a 22-character Firebase installation ID, then the
		// registration proper.
		token = c.randomString(22) + ":APA91b" + c.randomString(134)
	}
	d := &device{token: token, senderID: p.SenderID, packageName: pkg, projectID: p.ID, registered: true, lastActive: now}
	c.devices[token] = d
	return d
}

// lookup returns a registered device for a control operation.
func (c *Core) lookup(token string) (*device, error) {
	d, ok := c.devices[token]
	if !ok {
		return nil, fmt.Errorf("%w: %.24s…", ErrUnknownToken, token)
	}
	if !d.registered {
		return nil, fmt.Errorf("%w: %.24s… is no longer registered (%s)", ErrUnknownToken, token, d.goneReason)
	}
	return d, nil
}

// Device describes a token, registered or not.
func (c *Core) Device(token string) (DeviceInfo, bool) {
	d, ok := c.devices[token]
	if !ok {
		return DeviceInfo{}, false
	}
	info := DeviceInfo{
		Token: d.token, SenderID: d.senderID, PackageName: d.packageName, ProjectID: d.projectID,
		Registered: d.registered, GoneReason: d.goneReason, Connected: d.connected,
		ForceStopped: d.forceStopped, Pending: len(d.pending), Outgoing: len(d.outgoing),
	}
	if d.registered && c.inactive(d, c.now) {
		info.Registered, info.GoneReason = false, goneExpired
	}
	return info, true
}

// Uninstall unregisters a token, as uninstalling the app or clearing its data does: later sends
// get UNREGISTERED, undelivered messages are dropped and its channel is closed.
func (c *Core) Uninstall(now time.Time, token string) error {
	now = c.observe(now)
	d, err := c.lookup(token)
	if err != nil {
		return err
	}
	c.unregister(d, now, "uninstalled")
	return nil
}

// RefreshToken gives the app instance behind token a new token (as FCM does on token rotation or
// restore) and unregisters the old one. Undelivered messages to the old token are dropped.
func (c *Core) RefreshToken(now time.Time, token string) (string, error) {
	now = c.observe(now)
	d, err := c.lookup(token)
	if err != nil {
		return "", err
	}
	c.unregister(d, now, "refreshed")
	return c.newDevice(now, c.projects[d.projectID], d.packageName).token, nil
}

func (c *Core) unregister(d *device, now time.Time, reason string) {
	d.registered = false
	d.goneReason = reason
	for _, e := range slices.Concat(d.outgoing, d.pending) {
		c.drop(e, now, FateUnregistered)
	}
	d.outgoing, d.pending = nil, nil
	c.cancelFlush(d)
	if d.connected {
		d.connected = false
		c.outbox = append(c.outbox, Delivery{Token: d.token, Kind: CloseChannel})
	}
}

// ForceStop marks the app as force-stopped: FCM delivers nothing to it until its channel opens
// again (the app is relaunched). Messages on their way go back to the pending queue.
func (c *Core) ForceStop(now time.Time, token string) error {
	now = c.observe(now)
	d, err := c.lookup(token)
	if err != nil {
		return err
	}
	d.forceStopped = true
	c.requeue(d, now)
	return nil
}

// Connect opens the device channel of a token: pending messages start to flow and, if messages
// were discarded while it was away, the device is told first. Connecting ends a force-stop. A
// connection that replaces an open one (the old one half-open, most likely) gets again what the
// old one never acknowledged.
func (c *Core) Connect(now time.Time, token string) error {
	now = c.observe(now)
	d, err := c.lookup(token)
	if err != nil {
		return err
	}
	if d.connected {
		c.requeue(d, now)
	}
	d.connected, d.forceStopped, d.lastActive = true, false, now
	if d.deleted {
		d.deleted = false
		c.outbox = append(c.outbox, Delivery{Token: token, Kind: DeliverDeleted})
	}
	c.flush(d, now)
	return nil
}

// Disconnect closes the device channel of a token. Messages sent but not acknowledged go back to
// the front of the pending queue, to be delivered again at the next connection.
func (c *Core) Disconnect(now time.Time, token string) {
	now = c.observe(now)
	d, ok := c.devices[token]
	if !ok || !d.connected {
		return
	}
	d.connected, d.lastActive = false, now
	c.requeue(d, now)
}

// Ack records that the device received a message. A message sent before a reconnection or a
// force-stop may be acknowledged late: it is found in the pending queue too.
func (c *Core) Ack(now time.Time, token, messageID string) error {
	now = c.observe(now)
	d, ok := c.devices[token]
	if !ok {
		return fmt.Errorf("%w: %.24s…", ErrUnknownToken, token)
	}
	for _, q := range []*[]*entry{&d.outgoing, &d.pending} {
		i := slices.IndexFunc(*q, func(e *entry) bool { return e.msg.MessageID == messageID && e.sent })
		if i < 0 {
			continue
		}
		e := (*q)[i]
		*q = slices.Delete(*q, i, i+1)
		e.gen++
		if e.rec != nil {
			e.rec.Fate, e.rec.FateAt, e.rec.DeliveredAt = FateDelivered, now, now
		}
		c.stats.Delivered++
		return nil
	}
	return fmt.Errorf("%w: message %q is not awaiting acknowledgement on this device", ErrInvalid, messageID)
}

func (c *Core) cancelFlush(d *device) {
	d.flushGen++
	d.flushAt = time.Time{}
}

// goneExpired is the reason a token stopped being registered after long inactivity.
const goneExpired = "expired after inactivity"

// inactive reports whether a token has been inactive (no device-channel activity) for longer
// than Android keeps tokens.
func (c *Core) inactive(d *device, now time.Time) bool {
	expiry := c.behaviour.tokenExpiry()
	return !d.connected && expiry > 0 && now.Sub(d.lastActive) > expiry
}

// reachable reports whether messages can flow to the device now (throttles aside).
func (d *device) reachable() bool { return d.connected && !d.forceStopped && d.registered }
