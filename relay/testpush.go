package relay

import (
	"errors"
	"fmt"
	"time"
)

// ErrNoBinding is a test push's refusal when the device has no push binding.
var ErrNoBinding = errors.New("relay: no push binding")

// ReasonTestPush is the push-trace reason of an operator's test push, handed to FCM; FCM's answer
// follows as fcm-ok or fcm-<CODE>, as for any push.
const ReasonTestPush = "test-push"

// The text of a test push when the operator gives none.
const (
	DefaultTestPushTitle = "pushlab test push"
	DefaultTestPushBody  = "If you can read this, pushes reach this device."
)

// TestPush sends an operator's test notification to one device's current binding (certificate
// and token), whether the device is online, logged in, muted or capped: it checks the path to
// the phone, not the push rule. It is not a message: it takes no inbox seq, is not charged to the
// caps, leaves the badge count as it is (the push carries it unchanged), and is neither stored
// nor retried (one attempt; after a restart its answer is ignored). FCM's answer comes back
// through PushResult like any push's: UNREGISTERED unbinds the token, a credentials error marks
// the certificate misconfigured. It reports ErrNotFound for an unknown app, user or device and
// ErrNoBinding when the device has reported no token.
func (c *Core) TestPush(now time.Time, dev DeviceKey, title, body string) (Push, error) {
	c.observe(now)
	if _, ok := c.apps[dev.SDKAppID]; !ok {
		return Push{}, fmt.Errorf("%w: app %d", ErrNotFound, dev.SDKAppID)
	}
	u, ok := c.users[dev.User()]
	if !ok {
		return Push{}, fmt.Errorf("%w: user %q in app %d", ErrNotFound, dev.UserID, dev.SDKAppID)
	}
	i, ok := u.findDevice(dev.DeviceID)
	if !ok {
		return Push{}, fmt.Errorf("%w: device %q of user %q", ErrNotFound, dev.DeviceID, dev.UserID)
	}
	d := u.devices[i]
	if d.binding == nil {
		return Push{}, fmt.Errorf("%w: device %q: no FCM token reported: the app must log in and report its token", ErrNoBinding, dev.DeviceID)
	}
	cert, ok := c.certs[d.binding.CertificateID]
	if !ok {
		return Push{}, fmt.Errorf("%w: device %q: certificate %d was deleted", ErrNoBinding, dev.DeviceID, d.binding.CertificateID)
	}
	c.pushCounter++
	p := Push{
		ID:                c.pushCounter,
		Device:            d.key,
		CertificateID:     d.binding.CertificateID,
		Token:             d.binding.Token,
		Title:             title,
		Body:              body,
		Data:              map[string]string{"pushlabTest": "1"},
		CollapseKey:       "pushlab-test",
		TTL:               c.cfg.PushTTL,
		NotificationCount: d.unread,
		ChannelID:         cert.ChannelID,
		Attempt:           1,
		Test:              true,
	}
	if p.Title == "" {
		p.Title = DefaultTestPushTitle
	}
	if p.Body == "" {
		p.Body = DefaultTestPushBody
	}
	c.pushes[p.ID] = &pendingPush{push: p}
	if c.recording() {
		c.record(PutCounter{Name: c.cfg.Partition.counter(counterPushes), Value: c.pushCounter})
	}
	c.tracePush(p, ReasonTestPush, "", "an operator's test push")
	c.ready.Pushes = append(c.ready.Pushes, p)
	return p, nil
}

// TestPushResult is a test push's outcome as the admin API answers it.
type TestPushResult struct {
	PushID        uint64 `json:"pushId"`
	CertificateID int64  `json:"certificateId"`
	// Token is the token pushed to, shortened (ShortToken).
	Token string `json:"token"`
	// Result is fcm-ok or fcm-<CODE>, the reason the push trace records for the answer.
	Result  string `json:"result"`
	FCMName string `json:"fcmName,omitempty"`
	// Detail is FCM's error message and what the relay did about it.
	Detail string `json:"detail,omitempty"`
}

// TestPushOutcome describes the test push p by the trace entry e the core recorded for FCM's
// answer to it (fcm-ok or fcm-<CODE>, with what the core did about it in the detail), so that the
// admin answer says what the trace says.
func TestPushOutcome(p Push, e TraceEntry) TestPushResult {
	return TestPushResult{PushID: p.ID, CertificateID: p.CertificateID, Token: ShortToken(p.Token),
		Result: e.Reason, FCMName: e.FCMName, Detail: e.Detail}
}

// ShortToken shows a token by its first 8 and last 4 characters, enough to tell tokens apart
// without printing one whole.
func ShortToken(t string) string {
	if len(t) <= 16 {
		if len(t) <= 4 {
			return "…"
		}
		return "…" + t[len(t)-4:]
	}
	return t[:8] + "…" + t[len(t)-4:]
}
