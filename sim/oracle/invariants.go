package oracle

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
)

// invariantPushOnlyToKilledLoggedInBound (invariant 1): a push goes out only to a device that,
// when the relay decided it, was logged in, away, bound to that token, and the messages were
// pushable to it. (Later attempts of the same push are invariant 2's.)
func (m *model) invariantPushOnlyToKilledLoggedInBound(p relay.Push) {
	const name = PushOnlyToKilledLoggedInBound
	d := m.devs[p.Device]
	if d == nil {
		m.violate(name, p.Device.DeviceID, "push %d to unknown device %s of %s", p.ID, p.Device.DeviceID, p.Device.UserID)
		return
	}
	if why := m.pushable(d, nil); why != "" {
		m.violate(name, d.id(), "push %d (attempt %d) to %s, which is %s", p.ID, p.Attempt, d.id(), why)
		return
	}
	if p.Token != d.token || p.CertificateID != d.cert {
		m.violate(name, d.id(), "push %d to %s on token %.12s… (certificate %d), bound to %.12s… (certificate %d)", p.ID, d.id(), p.Token, p.CertificateID, d.token, d.cert)
	}
	u := d.key.User()
	switch {
	case len(p.Seqs) > 1:
		for _, s := range p.Seqs {
			if !m.held[d.key][s] {
				m.violate(name, d.id(), "summary push %d to %s covers seq %d, which no cap held", p.ID, d.id(), s)
			}
			delete(m.held[d.key], s)
		}
		m.reach.Coalesced++
	default:
		if why := m.pushable(d, p.Seqs); why != "" {
			m.violate(name, d.id(), "push %d to %s: %s", p.ID, d.id(), why)
		}
		for _, s := range p.Seqs {
			if m.muted[u][m.msgs[u][s].Conv] && !m.held[d.key][s] {
				m.violate(name, d.id(), "push %d to %s: seq %d is in a muted conversation", p.ID, d.id(), s)
			}
			delete(m.held[d.key], s)
		}
	}
	m.pushes[p.ID] = &push{dev: d, token: p.Token, seqs: slices.Clone(p.Seqs)}
	m.tokens[p.Token] = d
}

// invariantNoPushAfterEnd (invariant 2): no push is retried, or reaches FCM, for a device after
// its logout or kick, nor for a token after it was unbound (FCM called it UNREGISTERED, or it
// moved).
func (m *model) invariantNoPushAfterEnd(p relay.Push, what string) {
	const name = NoPushAfterEnd
	d := m.devs[p.Device]
	if d == nil {
		return
	}
	switch {
	case !d.loggedIn:
		m.violate(name, d.id(), "push %d (attempt %d) %s for %s after its session ended (%s)", p.ID, p.Attempt, what, d.id(), d.ended)
	case d.token != p.Token:
		m.violate(name, d.id(), "push %d (attempt %d) %s on a token %s no longer holds (unbound, moved or UNREGISTERED)", p.ID, p.Attempt, what, d.id())
	case what == "retried" && d.conn != 0:
		m.violate(name, d.id(), "push %d retried to %s, which is connected", p.ID, d.id())
	}
}

// invariantNoPushWhilePushesOff: no push is decided (a first attempt or a summary), retried or
// handed to FCM for a user while the user's pushes are off. Turning pushes off cancels what was
// on its way: a push the relay handed out before is dropped by the driver if it is still waiting.
func (m *model) invariantNoPushWhilePushesOff(p relay.Push, what string) {
	if p.Test || !m.pushesOff[p.Device.User()] {
		return
	}
	m.violate(NoPushWhilePushesOff, p.Device.DeviceID, "push %d (attempt %d, covering %v) %s for %s, whose user %s turned pushes off",
		p.ID, p.Attempt, p.Seqs, what, p.Device.DeviceID, p.Device.UserID)
}

// invariantRetryBudget (FCM chaos): one push is sent at most the retry budget's number of
// times, attempts included, so no fault turns it into a storm; and a retry never goes out
// before the Retry-After of FCM's answer has passed.
func (m *model) invariantRetryBudget(now time.Time, p relay.Push, what string) {
	const name = RetryBudget
	mp := m.pushes[p.ID]
	if mp == nil {
		return
	}
	switch what {
	case "reached FCM":
		if mp.sends++; mp.sends > m.maxAttempts {
			m.violate(name, mp.dev.id(), "push %d reached FCM %d times, over the budget of %d sends", p.ID, mp.sends, m.maxAttempts)
		}
	case "retried":
		if p.Attempt > m.maxAttempts {
			m.violate(name, mp.dev.id(), "push %d retried as attempt %d, over the budget of %d", p.ID, p.Attempt, m.maxAttempts)
		}
		if !mp.answered.IsZero() && now.Before(mp.answered.Add(mp.retryAfter)) {
			m.violate(name, mp.dev.id(), "push %d retried %v after FCM answered with Retry-After %v", p.ID, now.Sub(mp.answered), mp.retryAfter)
		}
	}
}

// invariantGivenUpAtBudget (retry budget): a push whose attempt number retry.maxAttempts FCM
// refused for a passing reason is given up at once — the trace says FCM's answer and nothing
// more of it; a relay that kept it for a retry would trace it again (a timeout, a cancel).
func (m *model) invariantGivenUpAtBudget(e relay.TraceEntry, p *push) {
	if !p.finalTraced && e.Reason == relay.ReasonFCMPrefix+p.lastErr {
		p.finalTraced = true
		return
	}
	m.violate(RetryBudget, p.dev.id(), "push %d: attempt %d of %d failed (%s), so it is given up, yet the relay traced %s for it after: %s",
		e.PushID, p.attempt, m.maxAttempts, p.lastErr, e.Reason, e.Detail)
}

// invariantNoPushOfAcknowledged: no push, first attempt, retry or summary, covers a message the
// device acknowledged since its latest login. The relay decides again only what a connection that
// ended left unacknowledged; a push for an acknowledged message would mean it took written for
// acknowledged the other way round, or let a later, lower ack take an acknowledgement back.
func (m *model) invariantNoPushOfAcknowledged(p relay.Push) {
	d := m.devs[p.Device]
	if d == nil {
		return
	}
	for _, s := range p.Seqs {
		if s <= d.acked {
			m.violate(NoPushOfAcknowledged, d.id(), "push %d (attempt %d) to %s covers seq %d, which it acknowledged (up to seq %d) since its login",
				p.ID, p.Attempt, d.id(), s, d.acked)
			return
		}
	}
}

// invariantCaps (invariant 3): in every window, the pushes handed to FCM for a device stay
// within its app's caps.
func (m *model) invariantCaps(now time.Time, p relay.Push) {
	const name = WithinCaps
	d := m.devs[p.Device]
	if d == nil {
		return
	}
	caps := m.appOf(d).caps
	m.reachCaps(d, now)
	d.sent = append(d.sent, now)
	n := len(d.sent)
	// Only windows ending now can newly break: count back from the newest push.
	for i := n - 1; i >= 0; i-- {
		span := now.Sub(d.sent[i])
		count := n - i
		switch {
		case span < time.Minute && count > caps.PerMinute:
			m.violate(name, d.id(), "%s: %d pushes within %v, over %d per minute", d.id(), count, span, caps.PerMinute)
			return
		case span < time.Hour && count > caps.PerHour:
			m.violate(name, d.id(), "%s: %d pushes within %v, over %d per hour", d.id(), count, span, caps.PerHour)
			return
		case count > caps.Burst+int(span/caps.Refill.D()):
			m.violate(name, d.id(), "%s: %d pushes within %v, over a burst of %d plus one per %v", d.id(), count, span, caps.Burst, caps.Refill)
			return
		}
	}
}

// checkNoThrottle: fakefcm throttles no push of a relay app running with default caps (while
// its throttles are FCM's own). A record's device is the one the relay pushed its token on.
func (m *model) checkNoThrottle(at time.Time, recs []fakefcm.Record) {
	if !m.fcmOwnThrottles {
		return
	}
	m.at = at
	for _, r := range recs {
		if r.Throttle == "" {
			continue
		}
		d := m.tokens[r.Token]
		if d == nil || !m.appOf(d).defaultCaps {
			continue
		}
		m.violate(WithinCaps, d.id(), "fakefcm throttled record %d (%s) of %s, whose app runs with the default caps", r.Seq, r.Throttle, d.id())
		return
	}
}

// checkSettled (invariant 5's second half) runs once the world has been quiet for hours,
// everything healed: every owed decision ended in a push FCM answered or a reason, and no held
// message waits.
func (m *model) checkSettled(at time.Time, trace []relay.TraceEntry) {
	m.at = at
	last := map[owedKey]relay.TraceEntry{}
	for _, e := range trace {
		seqs := e.Seqs
		if e.Seq != 0 {
			seqs = []uint64{e.Seq}
		}
		key := relay.DeviceKey{SDKAppID: e.SDKAppID, UserID: e.UserID, DeviceID: e.DeviceID}
		for _, s := range seqs {
			last[owedKey{key, s}] = e
		}
	}
	keys := make([]owedKey, 0, len(m.owed))
	for k := range m.owed {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareOwed)
	for _, k := range keys {
		e, ok := last[k]
		dev := k.dev.DeviceID
		switch {
		case !ok:
			m.violate(PushedOrExplained, dev, "%s seq %d: nothing in the trace", dev, k.seq)
		case e.Reason == relay.ReasonCapped:
			m.violate(PushedOrExplained, dev, "%s seq %d: still held for a summary hours later", dev, k.seq)
		case e.Reason == relay.ReasonPushed:
			m.violate(PushedOrExplained, dev, "%s seq %d: push %d never answered", dev, k.seq, e.PushID)
		}
	}
}

// behind reports whether the relay sees a device logged in and connected while it has not
// taken in every message of its user.
func (m *model) behind(d *device) bool {
	return d.loggedIn && d.conn != 0 && d.seen != m.latest[d.key.User()]
}

// checkCaughtUp (invariant 4's completeness half) runs once the world has settled.
func (m *model) checkCaughtUp(at time.Time, devs []*sim.Device) {
	m.at = at
	keys := make([]relay.DeviceKey, 0, len(devs))
	for _, d := range devs {
		keys = append(keys, keyOf(d))
	}
	slices.SortFunc(keys, func(a, b relay.DeviceKey) int { return compareOwed(owedKey{dev: a}, owedKey{dev: b}) })
	for _, k := range keys {
		if d := m.devs[k]; d != nil && m.behind(d) {
			m.violate(NoLoss, d.id(), "%s is logged in and connected but has seq %d of %s's %d", d.id(), d.seen, k.UserID, m.latest[k.User()])
		}
	}
}

// invariantPushContent: a push carries what the messages it covers call for, and the device's
// unread count as its badge. The first time the oracle sees a push, the device's unread count
// (the latest background {unread}) goes up by one and the push must carry it, with the title,
// body, collapse key and data the rule gives its messages; a retry (or a resend after a restart)
// carries the same content as the push first decided.
func (m *model) invariantPushContent(p relay.Push) {
	const name = PushContent
	d := m.devs[p.Device]
	if d == nil {
		return
	}
	if first, ok := m.contents[p.ID]; ok {
		if diff := contentDiff(p, first); diff != "" {
			m.violate(name, d.id(), "push %d (attempt %d) to %s differs from its first attempt: %s", p.ID, p.Attempt, d.id(), diff)
		}
		return
	}
	d.unread++
	want, ok := m.wantContent(d, p.CertificateID, p.Seqs)
	if !ok {
		return // messages the oracle never saw stored: invariant 1 names them
	}
	if diff := contentDiff(p, want); diff != "" {
		m.violate(name, d.id(), "push %d to %s covering %v: %s", p.ID, d.id(), p.Seqs, diff)
		d.unread = p.NotificationCount // name where the count went wrong, not every push after
	}
	p.Data = maps.Clone(p.Data)
	m.contents[p.ID] = p
}

// wantContent is the content the rule gives a push covering seqs to d, with d's unread count
// already counting the push; false if a seq is no message the oracle saw stored.
func (m *model) wantContent(d *device, cert int64, seqs []uint64) (relay.Push, bool) {
	u := d.key.User()
	msgs := make([]relay.StoredMsg, 0, len(seqs))
	for _, s := range seqs {
		msg, ok := m.msgs[u][s]
		if !ok {
			return relay.Push{}, false
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return relay.Push{}, false
	}
	last := msgs[len(msgs)-1]
	opts := last.PushOptions()
	want := relay.Push{NotificationCount: d.unread, CollapseKey: last.Conv,
		Data:      map[string]string{relay.PushDataConv: last.Conv, relay.PushDataSeq: strconv.FormatUint(last.Seq, 10), relay.PushDataMsgID: last.ID, relay.PushDataSender: last.From},
		ChannelID: cmp.Or(opts.Android.ChannelID, m.channels[cert]), Sound: opts.Android.Sound,
		ClickAction: opts.Android.ClickAction,
		Silent:      !slices.ContainsFunc(msgs, func(x relay.StoredMsg) bool { return !x.PushOptions().Silent })}
	texts := m.appOf(d).texts
	if len(msgs) == 1 {
		groupName := ""
		if last.Group != "" {
			groupName = m.groupNames[groupKey{d.key.SDKAppID, last.Group}]
		}
		nickname := m.sentBy[msgKey{d.key.SDKAppID, last.ID}]
		want.Title, want.Body = texts.messageTitle(d.locale, last, nickname, groupName), cmp.Or(opts.Desc, shorten(last.Text, 100))
		if nickname != "" && opts.Title == "" {
			m.reach.NicknameTitle++
		}
		if opts.Ext != "" {
			want.Data[relay.PushDataExt] = opts.Ext
		}
		return want, true
	}
	want.Title, want.Body = texts.summaryTexts(d.locale, len(msgs))
	if _, english := (appTexts{}).summaryTexts("en", len(msgs)); want.Body != english {
		m.reach.LocalizedSummary++
	}
	if slices.ContainsFunc(msgs, func(x relay.StoredMsg) bool { return x.Conv != last.Conv }) {
		want.CollapseKey = "summary"
		delete(want.Data, relay.PushDataConv)
		want.ClickAction = "" // several conversations: the app opens its conversation list
	}
	want.Data[relay.PushDataSummary] = strconv.Itoa(len(msgs))
	return want, true
}

// invariantSendersNickname: a message carries the nickname its sender had when the relay took
// it in (the one that titles its pushes), as the administrator set it: u received msg.
func (m *model) invariantSendersNickname(u relay.UserKey, msg relay.StoredMsg) {
	k := msgKey{u.SDKAppID, msg.ID}
	want, ok := m.sentBy[k]
	if !ok {
		// Not sent from a phone the oracle saw answered (an administrator's send, or a reply
		// not seen yet): the sender's nickname now.
		want = m.nicknames[relay.UserKey{SDKAppID: u.SDKAppID, UserID: msg.From}]
		m.sentBy[k] = want
	}
	if msg.Nickname != want {
		m.violate(PushContent, u.UserID, "message %s from %s stored for %s carries the nickname %q; the sender's profile said %q when it was sent",
			msg.ID, msg.From, u.UserID, msg.Nickname, want)
	}
}

// shorten cuts text to at most limit characters, the last of them an ellipsis.
func shorten(text string, limit int) string {
	r := []rune(text)
	if len(r) <= limit {
		return text
	}
	return string(r[:limit-1]) + "…"
}

// contentDiff says how a push's content (badge, silence, title, body, collapse key, Android
// channel, sound and click action, data) differs from want's, or "" if it does not.
func contentDiff(p, want relay.Push) string {
	var out []string
	if p.NotificationCount != want.NotificationCount {
		out = append(out, fmt.Sprintf("badge %d, want %d (the unread count)", p.NotificationCount, want.NotificationCount))
	}
	if p.Silent != want.Silent {
		out = append(out, fmt.Sprintf("silent %v, want %v", p.Silent, want.Silent))
	}
	for _, f := range []struct{ what, got, want string }{{"title", p.Title, want.Title}, {"body", p.Body, want.Body}, {"collapse key", p.CollapseKey, want.CollapseKey},
		{"channel", p.ChannelID, want.ChannelID}, {"sound", p.Sound, want.Sound}, {"click action", p.ClickAction, want.ClickAction}} {
		if f.got != f.want {
			out = append(out, fmt.Sprintf("%s %q, want %q", f.what, f.got, f.want))
		}
	}
	if !maps.Equal(p.Data, want.Data) {
		out = append(out, fmt.Sprintf("data %v, want %v", p.Data, want.Data))
	}
	return strings.Join(out, "; ")
}
