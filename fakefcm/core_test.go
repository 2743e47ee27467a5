package fakefcm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// bench is a core on a virtual clock with one project and helpers that act like a device: it
// acknowledges every message it is handed and keeps what it received.
type bench struct {
	t        *testing.T
	core     *Core
	now      time.Time
	project  Project
	received map[string][]*RemoteMessage // by token
	deleted  map[string]int
	closed   map[string]int
	noAck    bool
}

func newBench(t *testing.T, b Behaviour) *bench {
	t.Helper()
	core, err := New(Config{Seed: 1, Behaviour: b})
	require.NoError(t, err)
	w := &bench{t: t, core: core, now: epoch,
		received: map[string][]*RemoteMessage{}, deleted: map[string]int{}, closed: map[string]int{}}
	p, err := w.core.CreateProject(ProjectSpec{ID: "demo", SenderID: "123456789", PackageNames: []string{"com.example.im"}})
	require.NoError(t, err)
	w.project = p
	return w
}

func (w *bench) device() string {
	w.t.Helper()
	tok, err := w.core.RegisterDevice(w.now, DeviceSpec{SenderID: w.project.SenderID, PackageName: "com.example.im"})
	require.NoError(w.t, err)
	return tok
}

// drain carries out the outbox like a device channel would.
func (w *bench) drain() {
	for _, d := range w.core.TakeOutbox() {
		switch d.Kind {
		case DeliverMessage:
			w.received[d.Token] = append(w.received[d.Token], d.Message)
			if !w.noAck {
				require.NoError(w.t, w.core.Ack(w.now, d.Token, d.Message.MessageID))
			}
		case DeliverDeleted:
			w.deleted[d.Token]++
		case CloseChannel:
			w.closed[d.Token]++
		}
	}
}

// advance runs the virtual clock forward by d, firing every timer on the way at its own time.
func (w *bench) advance(d time.Duration) {
	end := w.now.Add(d)
	for {
		at, ok := w.core.NextWake()
		if !ok || at.After(end) {
			break
		}
		w.now = laterOf(w.now, at)
		w.core.Tick(w.now)
		w.drain()
	}
	w.now = end
	w.core.Tick(w.now)
	w.drain()
}

func (w *bench) connect(tok string) {
	w.t.Helper()
	require.NoError(w.t, w.core.Connect(w.now, tok))
	w.drain()
}

func (w *bench) send(m Message) SendResult {
	w.t.Helper()
	r := w.core.Send(w.now, SendRequest{API: APIV1, Project: w.project.ID, Message: m})
	w.drain()
	return r
}

func (w *bench) record(r SendResult) Record {
	w.t.Helper()
	require.Nil(w.t, r.Err, "send refused")
	rec, ok := w.core.Record(r.MessageID)
	require.True(w.t, ok)
	return rec
}

func notif(tok, body string) Message {
	return Message{Token: tok, Notification: &Notification{Title: "t", Body: body}}
}

func keyed(tok, key, body string) Message {
	m := notif(tok, body)
	m.Android = &AndroidConfig{CollapseKey: key}
	return m
}

func dataMsg(tok string, i int) Message {
	return Message{Token: tok, Data: map[string]string{"i": fmt.Sprint(i)}}
}

func withTTL(m Message, ttl time.Duration) Message {
	if m.Android == nil {
		m.Android = &AndroidConfig{}
	}
	m.Android.TTL = &ttl
	return m
}

func bodies(ms []*RemoteMessage) []string {
	var out []string
	for _, m := range ms {
		if m.Notification != nil {
			out = append(out, m.Notification.Body)
		} else {
			out = append(out, m.Data["i"])
		}
	}
	return out
}

func TestConnectedDeviceReceivesAndAcknowledges(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	w.connect(tok)
	r := w.send(notif(tok, "hi"))
	require.Equal(t, []string{"hi"}, bodies(w.received[tok]))
	rec := w.record(r)
	require.Equal(t, FateDelivered, rec.Fate)
	require.Equal(t, "projects/demo/messages/"+r.MessageID, r.Name)
	require.Equal(t, w.project.SenderID, w.received[tok][0].From)
	require.Equal(t, epoch.UnixMilli(), w.received[tok][0].SentTime)
}

func TestOfflineDeviceGetsPendingMessagesOnConnect(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	r1 := w.send(notif(tok, "one"))
	w.send(notif(tok, "two"))
	require.Equal(t, FatePending, w.record(r1).Fate)
	require.Empty(t, w.received[tok])
	w.advance(time.Hour)
	w.connect(tok)
	require.Equal(t, []string{"one", "two"}, bodies(w.received[tok]))
	require.Equal(t, FateDelivered, w.record(r1).Fate)
}

func TestLatencyDelaysDeliveryAndKeepsOrder(t *testing.T) {
	w := newBench(t, Behaviour{Latency: duration.Of(200 * time.Millisecond), Jitter: duration.Of(100 * time.Millisecond)})
	tok := w.device()
	w.connect(tok)
	for i := range 20 {
		w.send(dataMsg(tok, i))
	}
	require.Empty(t, w.received[tok])
	w.advance(199 * time.Millisecond)
	require.Empty(t, w.received[tok])
	w.advance(101 * time.Millisecond)
	want := make([]string, 20)
	for i := range want {
		want[i] = fmt.Sprint(i)
	}
	require.Equal(t, want, bodies(w.received[tok]))
}

func TestTTLExpiresPendingMessage(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	r := w.send(withTTL(notif(tok, "short"), time.Minute))
	keep := w.send(withTTL(notif(tok, "long"), time.Hour))
	w.advance(time.Minute)
	rec := w.record(r)
	require.Equal(t, FateTTLExpired, rec.Fate)
	require.Equal(t, epoch.Add(time.Minute), rec.FateAt)
	w.connect(tok)
	require.Equal(t, []string{"long"}, bodies(w.received[tok]))
	require.Equal(t, FateDelivered, w.record(keep).Fate)
}

func TestTTLZeroIsNowOrNever(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	offline := w.send(withTTL(notif(tok, "gone"), 0))
	require.Equal(t, FateTTLExpired, w.record(offline).Fate)
	w.connect(tok)
	online := w.send(withTTL(notif(tok, "now"), 0))
	require.Equal(t, FateDelivered, w.record(online).Fate)
	require.Equal(t, []string{"now"}, bodies(w.received[tok]))
}

func TestCollapseKeyReplacesPendingMessage(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	first := w.send(keyed(tok, "chat-1", "a"))
	w.send(keyed(tok, "chat-2", "x"))
	w.send(keyed(tok, "chat-1", "b"))
	require.Equal(t, FateCollapsed, w.record(first).Fate)
	w.connect(tok)
	require.Equal(t, []string{"x", "b"}, bodies(w.received[tok]))
}

func TestAtMostFourCollapseKeysAreKept(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	var rs []SendResult
	for i := range 5 {
		rs = append(rs, w.send(keyed(tok, fmt.Sprintf("k%d", i), fmt.Sprint(i))))
	}
	require.Equal(t, FateCollapseKeyLimit, w.record(rs[0]).Fate)
	w.connect(tok)
	require.Equal(t, []string{"1", "2", "3", "4"}, bodies(w.received[tok]))
}

func TestFullOfflineQueueIsDiscardedAndDeviceTold(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	var rs []SendResult
	for i := range MaxPendingNonCollapsible + 1 {
		rs = append(rs, w.send(dataMsg(tok, i)))
	}
	require.Equal(t, FateTooManyPending, w.record(rs[0]).Fate)
	require.Equal(t, FateTooManyPending, w.record(rs[99]).Fate)
	require.Equal(t, FatePending, w.record(rs[100]).Fate)
	w.connect(tok)
	require.Equal(t, 1, w.deleted[tok], "onDeletedMessages once")
	require.Equal(t, []string{"100"}, bodies(w.received[tok]))
}

func TestForceStoppedDeviceGetsNothingUntilItConnectsAgain(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	w.connect(tok)
	require.NoError(t, w.core.ForceStop(w.now, tok))
	r := w.send(notif(tok, "held"))
	w.advance(time.Hour)
	require.Empty(t, w.received[tok])
	require.Equal(t, FatePending, w.record(r).Fate)
	w.connect(tok) // relaunch
	require.Equal(t, []string{"held"}, bodies(w.received[tok]))
}

func TestUnacknowledgedMessagesAreRedeliveredAfterReconnect(t *testing.T) {
	w := newBench(t, Behaviour{})
	w.noAck = true
	tok := w.device()
	w.connect(tok)
	r := w.send(notif(tok, "lost on the wire"))
	require.Equal(t, FateInFlight, w.record(r).Fate)
	w.core.Disconnect(w.now, tok)
	require.Equal(t, FatePending, w.record(r).Fate)
	w.noAck = false
	w.connect(tok)
	rec := w.record(r)
	require.Equal(t, FateDelivered, rec.Fate)
	require.Equal(t, 2, rec.Attempts)
}

func TestUninstallUnregistersTokenAndDropsItsQueue(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	w.connect(tok)
	require.NoError(t, w.core.ForceStop(w.now, tok))
	held := w.send(notif(tok, "held"))
	require.NoError(t, w.core.Uninstall(w.now, tok))
	w.drain()
	require.Equal(t, 1, w.closed[tok])
	require.Equal(t, FateUnregistered, w.record(held).Fate)
	r := w.send(notif(tok, "after"))
	require.NotNil(t, r.Err)
	require.Equal(t, Unregistered, r.Err.Code)
	require.Equal(t, 404, r.Err.Code.HTTPStatus())
	require.Equal(t, "NotRegistered", r.Err.LegacyError())
}

func TestRefreshTokenUnregistersTheOldOne(t *testing.T) {
	w := newBench(t, Behaviour{})
	old := w.device()
	fresh, err := w.core.RefreshToken(w.now, old)
	require.NoError(t, err)
	require.NotEqual(t, old, fresh)
	require.Equal(t, Unregistered, w.send(notif(old, "x")).Err.Code)
	require.Nil(t, w.send(notif(fresh, "y")).Err)
}

func TestTokenExpiresAfterInactivity(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	w.advance(DefaultTokenExpiry - time.Hour)
	require.Nil(t, w.send(withTTL(notif(tok, "x"), time.Minute)).Err)
	w.advance(2 * time.Hour)
	r := w.send(notif(tok, "y"))
	require.NotNil(t, r.Err)
	require.Equal(t, Unregistered, r.Err.Code)
}

func TestTargetRules(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	other, err := w.core.CreateProject(ProjectSpec{ID: "other", SenderID: "987654321"})
	require.NoError(t, err)
	otherTok, err := w.core.RegisterDevice(w.now, DeviceSpec{SenderID: other.SenderID, PackageName: "com.other.app"})
	require.NoError(t, err)
	pkg := notif(tok, "x")
	pkg.Android = &AndroidConfig{RestrictedPackageName: "com.evil.app"}
	for _, tc := range []struct {
		name   string
		msg    Message
		code   ErrorCode
		legacy string
	}{
		{"never issued", notif("bogus-token", "x"), InvalidArgument, "InvalidRegistration"},
		{"other sender", notif(otherTok, "x"), SenderIDMismatch, "MismatchSenderId"},
		{"package mismatch", pkg, InvalidArgument, "InvalidPackageName"},
		{"no target", Message{Notification: &Notification{Body: "x"}}, InvalidArgument, "MissingRegistration"},
		{"two targets", Message{Token: tok, Topic: "news"}, InvalidArgument, "MissingRegistration"},
		{"reserved key", Message{Token: tok, Data: map[string]string{"google.x": "1"}}, InvalidArgument, "InvalidDataKey"},
		{"too big", Message{Token: tok, Data: map[string]string{"k": string(make([]byte, MaxPayloadBytes))}}, InvalidArgument, "MessageTooBig"},
		{"bad ttl", withTTL(notif(tok, "x"), MaxTTL+time.Second), InvalidArgument, "InvalidTtl"},
		{"too big with the Android options", androidAtTheLimit(tok, 1), InvalidArgument, "MessageTooBig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := w.send(tc.msg)
			require.NotNil(t, r.Err)
			require.Equal(t, tc.code, r.Err.Code, r.Err.Message)
			require.Equal(t, tc.legacy, r.Err.LegacyError())
			rec := w.core.Records(RecordFilter{})
			require.Equal(t, FateRejected, rec[len(rec)-1].Fate, "refused sends are recorded")
		})
	}
}

func TestDevicePerMinuteThrottleDelays(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{CollapsibleBurst: -1}})
	tok := w.device()
	w.connect(tok)
	var last SendResult
	for i := range DefaultDevicePerMinute + 10 {
		last = w.send(dataMsg(tok, i))
	}
	requireCount(t, w.received[tok], DefaultDevicePerMinute)
	rec := w.record(last)
	require.Equal(t, FatePending, rec.Fate)
	require.Equal(t, ThrottledDevicePerMinute, rec.Throttle)
	w.advance(61 * time.Second)
	requireCount(t, w.received[tok], DefaultDevicePerMinute+10)
	rec = w.record(last)
	require.Equal(t, FateDelivered, rec.Fate)
	require.Greater(t, rec.ThrottledFor.D(), 59*time.Second)
	require.Equal(t, int64(10), w.core.Stats().Throttled[ThrottledDevicePerMinute])
}

// TestDeviceThrottlesSitInTheirOwnObject: a device's throttles that are on sit in its limits
// object itself (one object a push reaches, not four), and those turned off are nil.
func TestDeviceThrottlesSitInTheirOwnObject(t *testing.T) {
	w := newBench(t, Behaviour{})
	l := w.core.deviceLimits(w.core.devices[w.device()])
	require.Same(t, &l.minute, l.perMinute)
	require.Same(t, &l.hour, l.perHour)
	require.Same(t, &l.bucket, l.collapsible)
	require.Equal(t, DefaultDevicePerMinute, l.perMinute.Limit())
	require.Equal(t, DefaultDevicePerHour, l.perHour.Limit())

	w = newBench(t, Behaviour{Throttles: Throttles{CollapsibleBurst: -1, DevicePerMinute: -1}})
	l = w.core.deviceLimits(w.core.devices[w.device()])
	require.Nil(t, l.perMinute)
	require.Nil(t, l.collapsible)
	require.Same(t, &l.hour, l.perHour)
}

func TestDevicePerHourThrottleOverVirtualHours(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{CollapsibleBurst: -1, DevicePerMinute: -1}})
	tok := w.device()
	w.connect(tok)
	// 250 a minute: after 20 minutes the hour's 5,000 are used.
	for range 30 {
		for i := range 250 {
			w.send(dataMsg(tok, i))
		}
		w.advance(time.Minute)
	}
	require.Equal(t, DefaultDevicePerHour, len(w.received[tok]))
	w.advance(2 * time.Hour)
	require.Equal(t, 7500, len(w.received[tok]))
}

func TestCollapsibleBurstRefillsOneEveryThreeMinutes(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	w.connect(tok)
	for i := range 25 {
		w.send(notif(tok, fmt.Sprint(i)))
	}
	requireCount(t, w.received[tok], DefaultCollapsibleBurst)
	w.advance(3*time.Minute - time.Second)
	requireCount(t, w.received[tok], 20)
	w.advance(time.Second)
	requireCount(t, w.received[tok], 21)
	w.advance(12 * time.Minute)
	requireCount(t, w.received[tok], 25)
	// ttl=0 messages are exempt from the bucket.
	w.send(withTTL(notif(tok, "now"), 0))
	requireCount(t, w.received[tok], 26)
}

func TestRejectModeAnswersQuotaExceeded(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{Mode: ThrottleReject, CollapsibleBurst: 2}})
	tok := w.device()
	require.Nil(t, w.send(notif(tok, "1")).Err)
	require.Nil(t, w.send(notif(tok, "2")).Err)
	r := w.send(notif(tok, "3"))
	require.NotNil(t, r.Err)
	require.Equal(t, QuotaExceeded, r.Err.Code)
	require.Equal(t, 3*time.Minute, r.Err.RetryAfter)
	require.Equal(t, "DeviceMessageRateExceeded", r.Err.LegacyError())
}

func TestRejectModeNamesTheThrottleThatLetsGoLast(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{Mode: ThrottleReject, DevicePerMinute: 1, CollapsibleBurst: 1}})
	tok := w.device()
	require.Nil(t, w.send(notif(tok, "1")).Err)
	r := w.send(notif(tok, "2")) // the window reopens in about a minute, the bucket in three
	require.NotNil(t, r.Err)
	require.Equal(t, 3*time.Minute, r.Err.RetryAfter)
	recs := w.core.Records(RecordFilter{})
	require.Equal(t, r.Record, recs[len(recs)-1].Seq)
	require.Equal(t, ThrottledCollapsibleBurst, recs[len(recs)-1].Reason)
	require.Equal(t, int64(1), w.core.Stats().Throttled[ThrottledCollapsibleBurst])
}

func TestProjectQuotaAnswersQuotaExceededWithRetryAfter(t *testing.T) {
	w := newBench(t, Behaviour{Throttles: Throttles{ProjectPerMinute: 3}})
	toks := []string{w.device(), w.device(), w.device(), w.device()}
	for _, tok := range toks[:3] {
		require.Nil(t, w.send(notif(tok, "x")).Err)
	}
	w.advance(10 * time.Second)
	r := w.send(notif(toks[3], "x"))
	require.NotNil(t, r.Err)
	require.Equal(t, QuotaExceeded, r.Err.Code)
	require.Equal(t, 51*time.Second, r.Err.RetryAfter)
	w.advance(r.Err.RetryAfter)
	require.Nil(t, w.send(notif(toks[3], "x")).Err)
}

// TestAddFaultsKeepsWhatTheRulesInForceHaveSpent: added rules go after those in force, whose
// counts go on; an invalid rule adds nothing.
func TestAddFaultsKeepsWhatTheRulesInForceHaveSpent(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	w.connect(tok)
	require.NoError(t, w.core.SetFaults([]FaultRule{{Status: 503, Count: 2}}))
	require.Equal(t, Unavailable, w.send(notif(tok, "1")).Err.Code)
	require.NoError(t, w.core.AddFaults([]FaultRule{{Latency: duration.Of(time.Second), Count: 5}}))
	r := w.send(notif(tok, "2"))
	require.Equal(t, Unavailable, r.Err.Code, "the 503 rule's second and last answer")
	require.Equal(t, time.Second, r.Delay, "and the added rule, as every matching rule applies")
	r = w.send(notif(tok, "3"))
	require.Nil(t, r.Err, "the 503 rule stays spent")
	require.Equal(t, time.Second, r.Delay)
	rules := w.core.Faults()
	require.Len(t, rules, 1)
	require.Equal(t, 2, rules[0].Matched)
	require.NoError(t, w.core.SetFaults(nil))
	require.ErrorIs(t, w.core.AddFaults([]FaultRule{{Status: 500}, {Status: 418}}), ErrInvalid)
	require.Empty(t, w.core.Faults(), "nothing of an invalid list is added")
}

func TestFaultRules(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	w.connect(tok)
	require.NoError(t, w.core.SetFaults([]FaultRule{
		{Status: 503, RetryAfter: duration.Of(2 * time.Second), Count: 2},
		{Token: tok, Latency: duration.Of(time.Second)},
	}))
	for range 2 {
		r := w.send(notif(tok, "x"))
		require.NotNil(t, r.Err)
		require.Equal(t, Unavailable, r.Err.Code)
		require.Equal(t, 2*time.Second, r.Err.RetryAfter)
		require.Equal(t, time.Second, r.Delay)
	}
	r := w.send(notif(tok, "through"))
	require.Nil(t, r.Err)
	require.Equal(t, time.Second, r.Delay, "the latency rule stays")
	require.Equal(t, []string{"through"}, bodies(w.received[tok]), "delivered although the answer is late")
	rules := w.core.Faults()
	require.Len(t, rules, 1, "the 503 rule is spent")
	require.Equal(t, 3, rules[0].Matched)

	require.NoError(t, w.core.SetFaults([]FaultRule{{Loss: true}}))
	lost := w.send(notif(tok, "never"))
	require.Nil(t, lost.Err)
	require.Equal(t, FateLoss, w.record(lost).Fate)

	require.ErrorIs(t, w.core.SetFaults([]FaultRule{{Status: 418}}), ErrInvalid)
	require.ErrorIs(t, w.core.SetFaults([]FaultRule{{Probability: 2}}), ErrInvalid)
}

func TestValidateOnlyDeliversNothing(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	w.connect(tok)
	r := w.core.Send(w.now, SendRequest{API: APIV1, Project: "demo", Message: notif(tok, "x"), ValidateOnly: true})
	w.drain()
	require.Nil(t, r.Err)
	require.NotEmpty(t, r.Name)
	require.Empty(t, w.received[tok])
	require.Equal(t, FateValidateOnly, w.record(r).Fate)
}

func TestControlErrors(t *testing.T) {
	w := newBench(t, Behaviour{})
	_, err := w.core.CreateProject(ProjectSpec{ID: "demo"})
	require.ErrorIs(t, err, ErrExists)
	_, err = w.core.CreateProject(ProjectSpec{ID: "Bad ID"})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = w.core.RegisterDevice(w.now, DeviceSpec{SenderID: "1", PackageName: "com.example.im"})
	require.ErrorIs(t, err, ErrUnknownSender)
	_, err = w.core.RegisterDevice(w.now, DeviceSpec{SenderID: w.project.SenderID, PackageName: "com.other.app"})
	require.ErrorIs(t, err, ErrPackageNotListed)
	require.ErrorIs(t, w.core.Connect(w.now, "nope"), ErrUnknownToken)
}

// TestSameSeedSameRun replays one mixed workload twice and compares every record and token.
func TestSameSeedSameRun(t *testing.T) {
	run := func() ([]Record, []string) {
		w := newBench(t, Behaviour{Latency: duration.Of(50 * time.Millisecond), Jitter: duration.Of(40 * time.Millisecond), Loss: 0.2})
		var toks []string
		for range 3 {
			toks = append(toks, w.device())
		}
		w.connect(toks[0])
		for i := range 60 {
			w.send(keyed(toks[i%3], fmt.Sprint(i%5), fmt.Sprint(i)))
			w.advance(time.Duration(i) * 7 * time.Millisecond)
		}
		w.connect(toks[1])
		w.advance(time.Hour)
		return w.core.Records(RecordFilter{}), toks
	}
	r1, t1 := run()
	r2, t2 := run()
	require.Equal(t, t1, t2)
	if diff := cmp.Diff(r1, r2); diff != "" {
		t.Fatalf("same seed, different records (-first +second):\n%s", diff)
	}
}

// requireCount checks how many messages arrived without printing them all when it fails.
func requireCount(t *testing.T, got []*RemoteMessage, want int) {
	t.Helper()
	require.Equal(t, want, len(got), "messages received")
}

// androidAtTheLimit is a notification whose title, body, channel ID, sound and click action add
// up to over bytes past the payload limit.
func androidAtTheLimit(tok string, over int) Message {
	each := MaxPayloadBytes / 5
	fill := func(n int) string { return strings.Repeat("x", n) }
	return Message{Token: tok, Android: &AndroidConfig{Notification: &AndroidNotification{
		Title: fill(each), Body: fill(each), ChannelID: fill(each), Sound: fill(each),
		ClickAction: fill(MaxPayloadBytes - 4*each + over)}}}
}

// TestAndroidOptionsCountTowardsThePayloadLimit: the channel ID, sound and click action count
// with the title and body; at the limit the message is accepted and the device receives them.
func TestAndroidOptionsCountTowardsThePayloadLimit(t *testing.T) {
	w := newBench(t, Behaviour{})
	tok := w.device()
	w.connect(tok)
	r := w.send(androidAtTheLimit(tok, 0))
	require.Nil(t, r.Err)
	got := w.record(r).Payload.Notification
	require.Len(t, got.ChannelID, MaxPayloadBytes/5)
	require.Len(t, got.ClickAction, MaxPayloadBytes-4*(MaxPayloadBytes/5))
	r = w.send(androidAtTheLimit(tok, 1))
	require.NotNil(t, r.Err)
	require.Contains(t, r.Err.Message, fmt.Sprintf("the payload is %d bytes, the limit is %d", MaxPayloadBytes+1, MaxPayloadBytes))
}
