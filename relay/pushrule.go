package relay

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/ratelimit"
)

// Push-trace reasons: why a message did or did not become a push to a device.
const (
	ReasonPushed       = "pushed"           // the relay decided to push and handed it to FCM
	ReasonOnline       = "online"           // the device is connected: it gets a frame, or syncs
	ReasonLoggedOut    = "logged-out"       // the device logged out
	ReasonKicked       = "kicked"           // the device was kicked (login elsewhere, admin)
	ReasonNoBinding    = "no-binding"       // the device reported no push token since its login
	ReasonMuted        = "muted"            // the user chose receive-but-do-not-notify for the conversation
	ReasonUserDisabled = "user-disabled"    // the user turned pushes off (setPushSettings, or the admin API)
	ReasonOnlineOnly   = "online-only"      // the message was sent online-only
	ReasonPushDisabled = "push-disabled"    // the sender disabled the push (offlinePush.disable)
	ReasonOwnMessage   = "own-message"      // the user's own message, echoed to another of its devices
	ReasonCapped       = "capped-coalesced" // a frequency cap held it back for a summary push
	ReasonFCMPrefix    = "fcm-"             // FCM's answer to a push: fcm-ok, fcm-UNREGISTERED, fcm-UNAVAILABLE, …
	ReasonFCMOK        = "fcm-ok"           // FCM accepted the push (the entry names the FCM message)
)

// Push is a notification for the driver to send through FCM.
type Push struct {
	ID            uint64            `json:"id"`
	Device        DeviceKey         `json:"device"`
	CertificateID int64             `json:"certificateId"`
	Token         string            `json:"token"`
	Title         string            `json:"title"`
	Body          string            `json:"body"`
	Data          map[string]string `json:"data"`
	CollapseKey   string            `json:"collapseKey"`
	TTL           duration.Duration `json:"ttl"`
	// NotificationCount is the device's unread count, shown as the Android badge.
	NotificationCount int `json:"notificationCount"`
	// Seqs are the messages the push covers (several for a coalesced summary).
	Seqs []uint64 `json:"seqs"`
	// Attempt counts sends of this push, from 1.
	Attempt int `json:"attempt"`
	// Test marks an operator's test push (Core.TestPush): no message, no caps, no retry.
	Test bool `json:"test,omitempty"`
	// ChannelID, Sound and ClickAction are the Android notification's channel, sound and tap
	// action: the message's own, else (the channel) the certificate's default.
	ChannelID   string `json:"channelId,omitempty"`
	Sound       string `json:"sound,omitempty"`
	ClickAction string `json:"clickAction,omitempty"`
	// Silent makes it a data-only push: the senders put no notification block in it, and carry
	// the title, body and badge in the data for the app to render.
	Silent bool `json:"silent,omitempty"`
}

// decide applies the push rule to one message for one device of its recipient. A device is pushed
// iff it is logged in, its connection is gone, it has a binding, the message is pushable to it,
// its user has pushes on, and the caps allow (else the message waits for a summary).
//
// The order of the cases is the order of the trace's reasons: first the device's session
// (logged out, online), then the message itself (online-only, own, push disabled: never to be
// pushed to anyone), then the user's choices from the widest to the narrowest (pushes off for
// every conversation, then one conversation muted), then the device's path to FCM (binding,
// caps). A user with pushes off is told user-disabled even in a muted conversation: turning
// the conversation back on alone would push nothing.
func (c *Core) decide(d *device, m StoredMsg, onlineOnly bool) {
	u := d.user
	switch {
	case !d.loggedIn:
		if d.ended != "" {
			c.traceMsg(d, m, d.ended, "")
		}
	case d.conn != nil:
		if d.synced && !onlineOnly {
			c.frame(d.conn.id, ServerFrame{Op: OpMsg, Msg: msgFrame(m)})
			d.cursor = m.Seq
		} else if onlineOnly {
			c.frame(d.conn.id, ServerFrame{Op: OpMsg, Msg: msgFrame(m)})
		}
		c.traceMsg(d, m, ReasonOnline, "")
	case onlineOnly:
		c.traceMsg(d, m, ReasonOnlineOnly, "")
	case m.From == u.key.UserID:
		c.traceMsg(d, m, ReasonOwnMessage, "")
	case m.PushOptions().Disable:
		c.traceMsg(d, m, ReasonPushDisabled, "")
	case u.pushesOff:
		c.traceMsg(d, m, ReasonUserDisabled, "")
	case u.opts[m.Conv] == ReceiveNotNotify:
		c.traceMsg(d, m, ReasonMuted, "")
	case d.binding == nil:
		c.traceMsg(d, m, ReasonNoBinding, "")
	default:
		c.pushOrHold(d, m)
	}
}

// deviceCaps are one device's frequency caps: sliding windows per minute and per hour, and a
// token bucket for bursts. They are kept in one struct, which a push reads in one place rather
// than in three objects strewn over the heap.
type deviceCaps struct {
	perMinute ratelimit.Window
	perHour   ratelimit.Window
	burst     ratelimit.Bucket
}

func (c *Core) capsOf(d *device) *deviceCaps {
	if d.caps != nil {
		return d.caps
	}
	caps := c.cfg.DefaultCaps
	if a, ok := c.apps[d.key.SDKAppID]; ok {
		caps = a.caps
	}
	dc := &deviceCaps{}
	ratelimit.MustInit(errors.Join( // Caps.Validate checked these
		dc.perMinute.Init(caps.PerMinute, time.Minute, ratelimit.DefaultSlots),
		dc.perHour.Init(caps.PerHour, time.Hour, ratelimit.DefaultSlots),
		dc.burst.Init(caps.Burst, caps.Refill.D())))
	d.caps = dc
	return dc
}

// next returns when the caps next allow a push (now if they do).
func (dc *deviceCaps) next(now time.Time) time.Time {
	at := dc.perMinute.Next(now)
	for _, t := range []time.Time{dc.perHour.Next(now), dc.burst.Next(now)} {
		if t.After(at) {
			at = t
		}
	}
	return at
}

func (dc *deviceCaps) take(now time.Time) {
	dc.perMinute.Take(now)
	dc.perHour.Take(now)
	dc.burst.Take(now)
}

// pushOrHold pushes a message now if the caps allow; otherwise it joins the device's held
// messages, which one summary push covers when the caps reopen.
func (c *Core) pushOrHold(d *device, m StoredMsg) {
	dc := c.capsOf(d)
	if len(d.held) == 0 && !dc.next(c.now).After(c.now) {
		dc.take(c.now)
		d.unread++
		c.recordSession(d)
		c.startPush(d, c.buildPush(d, []StoredMsg{m}))
		return
	}
	d.held = append(d.held, m.Seq)
	c.recordSession(d)
	c.traceMsg(d, m, ReasonCapped, fmt.Sprintf("held with %d other(s) for a summary push", len(d.held)-1))
	if len(d.held) == 1 {
		c.scheduleSummary(d, dc.next(c.now))
	}
}

// scheduleSummary sets the device's summary push for at; the zero time means as soon as the core
// ticks (the caps are checked again then).
func (c *Core) scheduleSummary(d *device, at time.Time) {
	d.summaryGen++
	d.summaryAt = at
	if at.Before(c.now) {
		d.summaryAt = c.now
	}
	c.timers.Push(at, timer{kind: timerSummary, dev: d, gen: d.summaryGen})
}

// sendSummary covers the device's held messages with one push, if the device still qualifies.
func (c *Core) sendSummary(d *device) {
	if len(d.held) == 0 {
		return
	}
	if reason, detail := c.unpushable(d); reason != "" {
		c.cancelHeld(d, reason, detail)
		return
	}
	dc := c.capsOf(d)
	if at := dc.next(c.now); at.After(c.now) {
		c.scheduleSummary(d, at)
		return
	}
	var msgs []StoredMsg
	for i := range d.user.inbox {
		if e := &d.user.inbox[i]; slices.Contains(d.held, e.seq) {
			msgs = append(msgs, e.msg())
		}
	}
	d.held = nil
	d.summaryGen++
	if len(msgs) == 0 {
		c.recordSession(d)
		return // trimmed from the inbox meanwhile: nothing left to announce
	}
	dc.take(c.now)
	d.unread++
	c.recordSession(d)
	c.startPush(d, c.buildPush(d, msgs))
}

// unpushable says why a device can no longer be pushed, or "" if it can.
func (c *Core) unpushable(d *device) (reason, detail string) {
	switch {
	case !d.loggedIn:
		return d.ended, ""
	case d.conn != nil:
		return ReasonOnline, "the device came back; it syncs what it missed"
	case d.user.pushesOff:
		return ReasonUserDisabled, "the user turned pushes off"
	case d.binding == nil:
		return ReasonNoBinding, ""
	}
	if _, ok := c.certs[d.binding.CertificateID]; !ok {
		return ReasonNoBinding, fmt.Sprintf("certificate %d was deleted", d.binding.CertificateID)
	}
	return "", ""
}

// cancelHeld drops the device's held messages with a trace entry that says why.
func (c *Core) cancelHeld(d *device, reason, detail string) {
	if len(d.held) == 0 {
		return
	}
	c.traceEntry(TraceEntry{SDKAppID: d.key.SDKAppID, UserID: d.key.UserID, DeviceID: d.key.DeviceID,
		Seqs: d.held, Reason: reason, Detail: fmt.Sprintf("summary of %d held message(s) cancelled: %s", len(d.held), detail)})
	d.held = nil
	d.summaryGen++
	if d.loggedIn {
		c.recordSession(d)
	}
}

// The data keys of a push, which the app reads to open the conversation and sync it (a silent
// push's rendering keys are fcmwire's).
const (
	PushDataConv    = "conv"    // the conversation; absent from a summary of several
	PushDataSeq     = "seq"     // the newest message's sequence number
	PushDataMsgID   = "msgId"   // the newest message's ID
	PushDataSender  = "sender"  // who sent the newest message
	PushDataExt     = "ext"     // the newest message's ext, when its sender set one
	PushDataSummary = "summary" // a summary's count of messages
)

// buildPush makes the notification for one message, or a summary of several.
func (c *Core) buildPush(d *device, msgs []StoredMsg) Push {
	last := msgs[len(msgs)-1]
	p := Push{
		Device:            d.key,
		CertificateID:     d.binding.CertificateID,
		Token:             d.binding.Token,
		TTL:               c.cfg.PushTTL,
		NotificationCount: d.unread,
		CollapseKey:       last.Conv,
		Data:              map[string]string{PushDataConv: last.Conv, PushDataSeq: itoa(last.Seq), PushDataMsgID: last.ID, PushDataSender: last.From},
	}
	for _, m := range msgs {
		p.Seqs = append(p.Seqs, m.Seq)
	}
	var a AppConfig
	if ap, ok := c.apps[d.key.SDKAppID]; ok {
		a = ap.cfg
	}
	// The Android options are the last message's; the push is silent only if every message it
	// covers asked for that (one that wants a notification gets one).
	lastOpts := last.PushOptions()
	p.ChannelID, p.Sound, p.ClickAction = lastOpts.Android.ChannelID, lastOpts.Android.Sound, lastOpts.Android.ClickAction
	if p.ChannelID == "" {
		if cert, ok := c.certs[p.CertificateID]; ok {
			p.ChannelID = cert.ChannelID
		}
	}
	p.Silent = !slices.ContainsFunc(msgs, func(m StoredMsg) bool { return !m.PushOptions().Silent })
	if len(msgs) == 1 {
		groupName := ""
		if g, ok := c.groups[groupKey{d.key.SDKAppID, last.Group}]; ok && last.Group != "" {
			groupName = g.Name
		}
		p.Title, p.Body = MessageTitle(a, d.locale, last.From, last.Nickname, groupName), preview(last.Text, previewRunes)
		if lastOpts.Title != "" {
			p.Title = lastOpts.Title
		}
		if lastOpts.Desc != "" {
			p.Body = lastOpts.Desc
		}
		if lastOpts.Ext != "" {
			p.Data[PushDataExt] = lastOpts.Ext
		}
		return p
	}
	p.Title, p.Body = SummaryTexts(a, d.locale, len(msgs))
	for _, m := range msgs {
		if m.Conv != last.Conv {
			// Several conversations: a tap opens the app's conversation list, not the last
			// message's target.
			p.CollapseKey = "summary"
			delete(p.Data, PushDataConv)
			p.ClickAction = ""
			break
		}
	}
	p.Data[PushDataSummary] = itoa(uint64(len(msgs)))
	return p
}
