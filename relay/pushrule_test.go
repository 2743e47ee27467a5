package relay

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
)

// roomyCaps never hold a push back in these tests.
var roomyCaps = Caps{PerMinute: 10_000, PerHour: 100_000, Burst: 10_000, Refill: duration.Of(time.Second)}

// loginOnly opens a connection and logs a device in without reporting a token or syncing.
func (w *world) loginOnly(user, dev string) ConnID {
	w.t.Helper()
	id := w.open()
	r := w.do(id, ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: user, UserSig: sig(user, w.now.Add(24*time.Hour)), DeviceID: dev})
	require.Equal(w.t, OK, r.Code, r.Desc)
	return id
}

// seqsOf lists the seqs pushes cover, in order.
func seqsOf(ps []Push) []uint64 {
	var out []uint64
	for _, p := range ps {
		out = append(out, p.Seqs...)
	}
	return out
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// TestLoginWithoutSyncThenDeathPushesWhatCameAfterTheLogin: a device that logs in again and dies
// before it finished syncing got no frame for what arrived since its login: exactly the messages
// in (max(acked, loginSeq), latest] are pushed when its connection goes — not those pushed while
// it was killed before, nor those a partial sync already returned.
func TestLoginWithoutSyncThenDeathPushesWhatCameAfterTheLogin(t *testing.T) {
	t.Run("no sync at all", func(t *testing.T) {
		w := newWorld(t, Config{DefaultCaps: roomyCaps})
		alice := w.login("alice", "alice-phone")
		bob := w.login("bob", "bob-phone")
		bob.send("alice", "seen")
		require.Len(t, alice.live(), 1) // seq 1, acknowledged
		alice.kill()
		bob.send("alice", "pushed while killed") // seq 2
		require.Equal(t, []uint64{2}, seqsOf(w.pushesTo("alice-phone")))

		id := w.loginOnly("alice", "alice-phone") // loginSeq = 2
		bob.send("alice", "c")
		bob.send("alice", "d")
		require.Len(t, w.pushesTo("alice-phone"), 1, "online: no push yet")
		w.core.Closed(w.now, id)
		w.settle()
		after := w.pushesTo("alice-phone")[1:]
		require.Equal(t, []uint64{3, 4}, seqsOf(after))
		require.Equal(t, []string{"c", "d"}, bodies(after))
	})

	t.Run("a partial sync past the login", func(t *testing.T) {
		w := newWorld(t, Config{DefaultCaps: roomyCaps})
		alice := w.login("alice", "alice-phone")
		bob := w.login("bob", "bob-phone")
		alice.kill()
		for i := range 150 {
			bob.send("alice", fmt.Sprint(i)) // seqs 1..150, each pushed
		}
		n := len(w.pushesTo("alice-phone"))
		id := w.loginOnly("alice", "alice-phone") // loginSeq = 150
		for i := range 100 {
			bob.send("alice", fmt.Sprint(150+i)) // seqs 151..250 while online, unsynced
		}
		r := w.do(id, ClientFrame{Op: OpSync}) // returns 1..200, more to come
		require.True(t, r.More)
		require.Equal(t, uint64(200), r.Msgs[len(r.Msgs)-1].Seq)
		w.core.Closed(w.now, id)
		w.settle()
		require.Equal(t, seqRange(201, 250), seqsOf(w.pushesTo("alice-phone")[n:]))
	})
}

// TestOfflinePushFieldsAreBounded: offlinePush title, desc and ext are refused over
// MaxPushFieldBytes with code 4004 (nothing stored, nothing pushed) and accepted at the limit.
func TestOfflinePushFieldsAreBounded(t *testing.T) {
	for _, field := range []string{"title", "desc", "ext"} {
		t.Run(field, func(t *testing.T) {
			w := newWorld(t, Config{})
			alice := w.login("alice", "alice-phone")
			bob := w.login("bob", "bob-phone")
			alice.kill()
			op := func(n int) *OfflinePush {
				v := strings.Repeat("é", n/2) + strings.Repeat("x", n%2) // bytes, not runes, count
				switch field {
				case "title":
					return &OfflinePush{Title: v}
				case "desc":
					return &OfflinePush{Desc: v}
				}
				return &OfflinePush{Ext: v}
			}

			r := w.do(bob.conn, ClientFrame{Op: OpSend, To: "alice", Text: "over", OfflinePush: op(MaxPushFieldBytes + 1)})
			require.Equal(t, CodeTextTooLong, r.Code)
			require.Contains(t, r.Desc, fmt.Sprint(MaxPushFieldBytes))
			_, err := w.core.AdminSend(w.now, testApp, SendRequest{To: "alice", Text: "over", OfflinePush: op(MaxPushFieldBytes + 1)})
			require.ErrorIs(t, err, ErrInvalid)
			w.settle()
			u, _ := w.core.User(testApp, "alice")
			require.Zero(t, u.LastSeq, "a refused message is not stored")
			require.Empty(t, w.pushesTo("alice-phone"))

			r = w.do(bob.conn, ClientFrame{Op: OpSend, To: "alice", Text: "at the limit", OfflinePush: op(MaxPushFieldBytes)})
			require.Equal(t, OK, r.Code, r.Desc)
			ps := w.pushesTo("alice-phone")
			require.Len(t, ps, 1)
			got := map[string]string{"title": ps[0].Title, "desc": ps[0].Body, "ext": ps[0].Data["ext"]}[field]
			require.Len(t, got, MaxPushFieldBytes)
		})
	}
}

// TestTokensAreScopedToTheirApp: the same token string bound in two apps is two bindings; neither
// a report nor FCM's UNREGISTERED in one app touches the other's.
func TestTokensAreScopedToTheirApp(t *testing.T) {
	const (
		otherApp    = uint64(1400000002)
		otherSecret = "another-app-secret-0123"
		otherCert   = int64(9000)
	)
	w := newWorld(t, Config{})
	w.app(AppConfig{SDKAppID: otherApp, SecretKey: secret.New(otherSecret)})
	w.cert(otherApp, otherCert)
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")

	dave := w.open()
	r := w.do(dave, ClientFrame{Op: OpLogin, SDKAppID: otherApp, UserID: "dave", DeviceID: "dave-phone",
		UserSig: MakeUserSig(otherSecret, UserSigClaims{SDKAppID: otherApp, UserID: "dave", Expire: w.now.Add(time.Hour).Unix()})})
	require.Equal(t, OK, r.Code, r.Desc)
	r = w.do(dave, ClientFrame{Op: OpSetPushToken, CertificateID: otherCert, Token: alice.token})
	require.Equal(t, OK, r.Code, r.Desc)

	binding := func(app uint64, user string) *Binding {
		u, ok := w.core.User(app, user)
		require.True(t, ok)
		return u.Devices[0].Binding
	}
	require.Empty(t, cmp.Diff(&Binding{Key: DeviceKey{testApp, "alice", "alice-phone"}, CertificateID: testCert, Token: alice.token}, binding(testApp, "alice")),
		"a report in another app does not steal the binding")

	alice.kill()
	w.core.Closed(w.now, dave)
	w.settle()
	bob.send("alice", "for alice")
	_, err := w.core.AdminSend(w.now, otherApp, SendRequest{To: "dave", Text: "for dave"})
	require.NoError(t, err)
	w.settle()
	require.Equal(t, []string{"for alice"}, bodies(w.pushesTo("alice-phone")))
	daves := w.pushesTo("dave-phone")
	require.Equal(t, []string{"for dave"}, bodies(daves))
	require.Equal(t, otherCert, daves[0].CertificateID)

	w.fail("dave-phone", PushError{Code: "UNREGISTERED"})
	require.Nil(t, binding(otherApp, "dave"))
	require.NotNil(t, binding(testApp, "alice"), "UNREGISTERED in one app does not unbind the other's device")
}

// heldTrace returns the device's trace entries about several messages at once (held summaries).
func (w *world) heldTrace(dev string) []TraceEntry {
	var out []TraceEntry
	for _, e := range w.entries(dev) {
		if len(e.Seqs) > 0 && e.PushID == 0 {
			out = append(out, TraceEntry{Seqs: e.Seqs, Reason: e.Reason})
		}
	}
	return out
}

// TestEndLoginCancelsTheHeldSummary: a kick or a logout drops the messages a cap held back at
// once, with the reason, so that no summary follows.
func TestEndLoginCancelsTheHeldSummary(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason string
		end    func(w *world)
	}{
		{"kick", ReasonKicked, func(w *world) {
			_, err := w.core.Kick(w.now, testApp, "alice", "")
			require.NoError(w.t, err)
			w.settle()
		}},
		{"logout after a login without sync", ReasonLoggedOut, func(w *world) {
			id := w.loginOnly("alice", "alice-phone")
			u, _ := w.core.User(testApp, "alice")
			require.Equal(w.t, 2, u.Devices[0].Held, "a login alone keeps the held messages")
			r := w.do(id, ClientFrame{Op: OpLogout})
			require.Equal(w.t, OK, r.Code)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Config{DefaultCaps: tinyCaps})
			alice := w.login("alice", "alice-phone")
			bob := w.login("bob", "bob-phone")
			alice.kill()
			for i := range 4 {
				bob.send("alice", fmt.Sprint(i))
			}
			require.Empty(t, cmp.Diff([]TraceEntry(nil), w.heldTrace("alice-phone")))
			tc.end(w)
			require.Empty(t, cmp.Diff([]TraceEntry{{Seqs: []uint64{3, 4}, Reason: tc.reason}}, w.heldTrace("alice-phone")),
				"the held summary is cancelled when the login ends")
			u, _ := w.core.User(testApp, "alice")
			require.Zero(t, u.Devices[0].Held)
			w.advance(time.Hour)
			require.Len(t, w.pushesTo("alice-phone"), 2, "no summary")
			require.Len(t, w.heldTrace("alice-phone"), 1)
		})
	}
}

// TestSummaryOfAnUnpushableDeviceIsCancelled: when the caps reopen, a summary is sent only if
// the device still qualifies; otherwise its held messages are dropped with the reason.
func TestSummaryOfAnUnpushableDeviceIsCancelled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason string
		change func(w *world, alice *phone)
	}{
		{"token moved to another device", ReasonNoBinding, func(w *world, alice *phone) {
			carol := w.login("carol", "carol-phone")
			r := w.do(carol.conn, ClientFrame{Op: OpSetPushToken, CertificateID: testCert, Token: alice.token})
			require.Equal(w.t, OK, r.Code)
		}},
		{"back online, not yet synced", ReasonOnline, func(w *world, _ *phone) {
			w.loginOnly("alice", "alice-phone")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Config{DefaultCaps: tinyCaps})
			alice := w.login("alice", "alice-phone")
			bob := w.login("bob", "bob-phone")
			alice.kill()
			for i := range 4 {
				bob.send("alice", fmt.Sprint(i))
			}
			tc.change(w, alice)
			w.advance(time.Minute)
			require.Len(t, w.pushesTo("alice-phone"), 2, "no summary to a device that no longer qualifies")
			require.Empty(t, cmp.Diff([]TraceEntry{{Seqs: []uint64{3, 4}, Reason: tc.reason}}, w.heldTrace("alice-phone")))
		})
	}
}

// TestHeldMessagesKeepTheSummaryFirst: once a message is held, later ones join the summary even
// if the caps would let one through, so that notifications never overtake the held ones.
func TestHeldMessagesKeepTheSummaryFirst(t *testing.T) {
	w := newWorld(t, Config{DefaultCaps: tinyCaps})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	for i := range 3 {
		bob.send("alice", fmt.Sprint(i)) // 1, 2 pushed; 3 held
	}
	at, ok := w.core.NextWake()
	require.True(t, ok)
	require.Equal(t, epoch.Add(time.Minute), at, "the summary waits for the next token")
	// A message arrives at the very moment the caps reopen, before the summary's timer ran.
	w.now = at
	last := bob.send("alice", "3")
	w.advance(0)
	ps := w.pushesTo("alice-phone")
	require.Len(t, ps, 3)
	require.Equal(t, [][]uint64{{1}, {2}, {3, 4}}, [][]uint64{ps[0].Seqs, ps[1].Seqs, ps[2].Seqs})
	require.Equal(t, "2 new messages", ps[2].Body)
	// A summary of one conversation names its newest message, and how many it covers.
	require.Equal(t, map[string]string{"conv": "c2c_bob", "seq": "4", "msgId": last.MsgID, "sender": "bob", "summary": "2"}, ps[2].Data)
}

// TestPerMinuteAndPerHourCaps: each window cap lets n pushes through, holds the (n+1)th for the
// summary, and lets it go once the window has passed (windows count in slots of a sixtieth, so
// at most one slot late).
func TestPerMinuteAndPerHourCaps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		caps   Caps
		window time.Duration
	}{
		{"per minute", Caps{PerMinute: 3, PerHour: 1000, Burst: 1000, Refill: duration.Of(time.Second)}, time.Minute},
		{"per hour", Caps{PerMinute: 1000, PerHour: 3, Burst: 1000, Refill: duration.Of(time.Second)}, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Config{DefaultCaps: tc.caps})
			alice := w.login("alice", "alice-phone")
			bob := w.login("bob", "bob-phone")
			alice.kill()
			for i := range 4 {
				bob.send("alice", fmt.Sprint(i))
			}
			require.Equal(t, []string{ReasonPushed, ReasonPushed, ReasonPushed, ReasonCapped}, w.reasons("alice-phone"))
			w.advance(tc.window - time.Nanosecond)
			require.Len(t, w.pushesTo("alice-phone"), 3, "the window is not over")
			w.advance(tc.window/60 + time.Nanosecond)
			ps := w.pushesTo("alice-phone")
			require.Len(t, ps, 4, "the window has passed")
			require.Equal(t, []uint64{4}, ps[3].Seqs)
		})
	}
}

// TestAckIsClampedToWhatWasWritten: an ack beyond the last frame written acknowledges only what
// was written, so that a later frame is still pushed when the connection dies unacknowledged.
func TestAckIsClampedToWhatWasWritten(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	bob.send("alice", "seen")
	require.Len(t, alice.live(), 1)
	w.core.Receive(w.now, alice.conn, ClientFrame{Op: OpAck, Seq: 999})
	w.settle()
	bob.send("alice", "written after the bogus ack")
	alice.kill()
	require.Equal(t, []string{"written after the bogus ack"}, bodies(w.pushesTo("alice-phone")))
}

// TestClientMsgIDDeduplicates: a message resent with the same clientMsgId is the same message:
// one ID, one seq, one push. Another sender's equal clientMsgId is another message.
func TestClientMsgIDDeduplicates(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	carol := w.login("carol", "carol-phone")
	alice.kill()
	send := func(p *phone) ServerFrame {
		r := w.do(p.conn, ClientFrame{Op: OpSend, To: "alice", Text: "once", ClientMsgID: "c-1"})
		require.Equal(t, OK, r.Code, r.Desc)
		return r
	}
	first, again := send(bob), send(bob)
	require.NotEmpty(t, first.MsgID)
	require.Equal(t, first.MsgID, again.MsgID)
	other := send(carol)
	require.NotEqual(t, first.MsgID, other.MsgID)
	require.Len(t, w.pushesTo("alice-phone"), 2)
	alice.relaunch()
	ms := w.syncAll(alice)
	require.Equal(t, []string{first.MsgID, other.MsgID}, []string{ms[0].ID, ms[1].ID})
	require.Len(t, ms, 2)
}

// TestGroupMembership: a non-member can neither send to a group nor receive its messages.
func TestGroupMembership(t *testing.T) {
	w := newWorld(t, Config{})
	_, err := w.core.PutGroup(w.now, Group{SDKAppID: testApp, ID: "team", Members: []string{"alice", "bob"}})
	require.NoError(t, err)
	w.settle()
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	eve := w.login("eve", "eve-phone")
	mallory := w.login("mallory", "mallory-phone")
	mallory.kill()

	r := w.do(eve.conn, ClientFrame{Op: OpSend, Group: "team", Text: "let me in"})
	require.Equal(t, CodeNotMember, r.Code)
	require.Empty(t, alice.live())
	_, err = w.core.AdminSend(w.now, testApp, SendRequest{From: "eve", Group: "team", Text: "let me in"})
	require.ErrorIs(t, err, ErrInvalid)
	w.settle()

	r = w.do(bob.conn, ClientFrame{Op: OpSend, Group: "team", Text: "members only"})
	require.Equal(t, OK, r.Code)
	require.Equal(t, []string{"members only"}, texts(alice.live()))
	require.Empty(t, eve.live())
	require.Empty(t, w.pushesTo("mallory-phone"))
	require.Empty(t, w.entries("eve-phone"))
	require.Empty(t, w.entries("mallory-phone"))
	for _, user := range []string{"eve", "mallory"} {
		u, _ := w.core.User(testApp, user)
		require.Zero(t, u.LastSeq, "%s's inbox got nothing", user)
	}
}

// TestLoginsPerSecondAreBounded: past LoginsPerSecond, logins are refused with 2006 until the
// bucket refills.
func TestLoginsPerSecondAreBounded(t *testing.T) {
	w := newWorld(t, Config{LoginsPerSecond: 2})
	login := func(user string) ServerFrame {
		return w.do(w.open(), ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: user, UserSig: sig(user, w.now.Add(time.Hour)), DeviceID: user + "-phone"})
	}
	require.Equal(t, OK, login("a").Code)
	require.Equal(t, OK, login("b").Code)
	r := login("c")
	require.Equal(t, CodeLoginsPerSecond, r.Code)
	require.Contains(t, r.Desc, "at most 2 logins a second")
	u, _ := w.core.User(testApp, "c")
	require.Empty(t, slices.DeleteFunc(u.Devices, func(d DeviceView) bool { return !d.LoggedIn }))
	w.advance(500*time.Millisecond - time.Nanosecond)
	require.Equal(t, CodeLoginsPerSecond, login("c").Code)
	w.advance(time.Nanosecond)
	require.Equal(t, OK, login("c").Code)
	require.Equal(t, CodeLoginsPerSecond, login("d").Code)
}
