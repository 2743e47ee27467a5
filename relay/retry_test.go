package relay

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
)

// fail answers the latest push to a device with an FCM error and returns that push.
func (w *world) fail(dev string, e PushError) Push {
	w.t.Helper()
	ps := w.pushesTo(dev)
	require.NotEmpty(w.t, ps, "no push to %s to fail", dev)
	p := ps[len(ps)-1]
	w.core.PushResult(w.now, PushResult{ID: p.ID, Err: &e})
	w.settle()
	return p
}

// sends counts how often a push was handed out (first attempt and retries).
func (w *world) sends(id uint64) int {
	n := 0
	for _, p := range w.pushes {
		if p.ID == id {
			n++
		}
	}
	return n
}

// pushEntries lists the trace entries about one push.
func (w *world) pushEntries(id uint64) []TraceEntry {
	var out []TraceEntry
	for _, e := range w.trace {
		if e.PushID == id {
			out = append(out, e)
		}
	}
	return out
}

// pendingPushes lists the pushes the store would send again after a restart.
func (w *world) pendingPushes() []PushState {
	w.t.Helper()
	st, err := w.store.Load(context.Background())
	require.NoError(w.t, err)
	return st.Pushes
}

// TestRetryDuringBackoffIsCancelledWhenTheDeviceStopsQualifying: a push FCM refused with
// UNAVAILABLE waits for its retry; if meanwhile the device is kicked, logs in again (and out), or
// loses its token to another device, the retry is never sent, the driver is told to drop it
// (Ready.Cancelled) and the trace says why.
func TestRetryDuringBackoffIsCancelledWhenTheDeviceStopsQualifying(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason string
		during func(w *world, alice, bob *phone)
	}{
		{"admin kick", ReasonKicked, func(w *world, _, _ *phone) {
			n, err := w.core.Kick(w.now, testApp, "alice", "")
			require.NoError(w.t, err)
			require.Equal(w.t, 1, n)
			w.settle()
		}},
		{"kicked by a login on another phone", ReasonKicked, func(w *world, _, _ *phone) {
			w.login("alice", "alice-phone-2") // single-platform: the killed phone is kicked
		}},
		{"logs in again and logs out", ReasonOnline, func(w *world, alice, _ *phone) {
			id := w.open()
			r := w.do(id, ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: "alice", UserSig: sig("alice", w.now.Add(time.Hour)), DeviceID: "alice-phone"})
			require.Equal(w.t, OK, r.Code, r.Desc)
			r = w.do(id, ClientFrame{Op: OpLogout})
			require.Equal(w.t, OK, r.Code, r.Desc)
			w.core.Closed(w.now, id)
			w.settle()
		}},
		{"token moves to another device", ReasonNoBinding, func(w *world, alice, _ *phone) {
			carol := w.login("carol", "carol-phone")
			r := w.do(carol.conn, ClientFrame{Op: OpSetPushToken, CertificateID: testCert, Token: alice.token})
			require.Equal(w.t, OK, r.Code, r.Desc)
		}},
		{"rebinds another token", ReasonOnline, func(w *world, alice, _ *phone) {
			alice.token = "tok-alice-new"
			alice.relaunch()
			alice.kill()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Config{})
			alice := w.login("alice", "alice-phone")
			bob := w.login("bob", "bob-phone")
			alice.kill()
			bob.send("alice", "1")
			p := w.fail("alice-phone", PushError{Code: "UNAVAILABLE", RetryAfter: time.Minute})
			require.Equal(t, "fcm-UNAVAILABLE", w.pushEntries(p.ID)[1].Reason)
			require.Contains(t, w.pushEntries(p.ID)[1].Detail, "retrying in 1m0s")
			require.Len(t, w.pendingPushes(), 1, "the retry waits in the store")

			tc.during(w, alice, bob)
			require.Contains(t, w.cancelled, p.ID, "the driver is told to drop the retry")
			es := w.pushEntries(p.ID)
			last := es[len(es)-1]
			require.Equal(t, tc.reason, last.Reason)
			require.True(t, strings.HasPrefix(last.Detail, "push cancelled: "), last.Detail)
			require.Empty(t, w.pendingPushes(), "nothing of it is sent again after a restart")

			w.advance(2 * time.Hour)
			require.Equal(t, 1, w.sends(p.ID), "the retry is never sent")
			for _, q := range w.pushes {
				require.False(t, q.Token == "tok-alice-alice-phone" && q.Device.DeviceID != "alice-phone", "the old token is not pushed for another device")
			}
			require.Len(t, w.pushEntries(p.ID), len(es), "nothing more happens to the cancelled push")
		})
	}
}

// TestKickCancelsAQueuedPush: a push handed to the driver and not yet answered is named in the
// kick's Ready.Cancelled, and its late answer changes nothing.
func TestKickCancelsAQueuedPush(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	bob.send("alice", "1")
	bob.send("alice", "2")
	ps := w.pushesTo("alice-phone")
	require.Len(t, ps, 2)
	before := len(w.cancelled)
	_, err := w.core.Kick(w.now, testApp, "alice", "support kicked you")
	require.NoError(t, err)
	w.settle()
	require.Equal(t, []uint64{ps[0].ID, ps[1].ID}, w.cancelled[before:])
	for _, p := range ps {
		es := w.pushEntries(p.ID)
		require.Equal(t, ReasonKicked, es[len(es)-1].Reason)
		require.Equal(t, "push cancelled: support kicked you", es[len(es)-1].Detail)
	}
	require.Zero(t, w.core.Stats().PendingPushes)

	n := len(w.trace)
	w.acceptAll(0) // FCM's answers arrive after all
	require.Len(t, w.trace, n, "answers to cancelled pushes are ignored")
	require.Empty(t, w.pendingPushes())
}

// TestTokenInvalidUnbindsWithoutBlamingTheCertificate: an INVALID_ARGUMENT about message.token
// says the token is bad, not the certificate: the binding goes, the certificate stays healthy,
// nothing is retried.
func TestTokenInvalidUnbindsWithoutBlamingTheCertificate(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	bob.send("alice", "1")
	p := w.fail("alice-phone", PushError{Code: "INVALID_ARGUMENT", TokenInvalid: true, Message: "The registration token is not a valid FCM registration token"})
	es := w.pushEntries(p.ID)
	require.Equal(t, "fcm-INVALID_ARGUMENT", es[len(es)-1].Reason)
	require.Contains(t, es[len(es)-1].Detail, "binding removed")
	u, _ := w.core.User(testApp, "alice")
	require.Nil(t, u.Devices[0].Binding)
	require.False(t, w.core.Certificates(testApp)[0].Status.Misconfigured, "a bad token says nothing about the certificate")

	w.advance(time.Hour)
	require.Len(t, w.pushesTo("alice-phone"), 1, "not retried")
	bob.relaunch() // his connection died of silence meanwhile
	bob.send("alice", "2")
	require.Len(t, w.pushesTo("alice-phone"), 1)
	reasons := w.reasons("alice-phone")
	require.Equal(t, ReasonNoBinding, reasons[len(reasons)-1])

	// The same code without TokenInvalid blames the certificate and keeps the binding.
	w2 := newWorld(t, Config{})
	carol := w2.login("carol", "carol-phone")
	dave := w2.login("dave", "dave-phone")
	carol.kill()
	dave.send("carol", "1")
	w2.fail("carol-phone", PushError{Code: "INVALID_ARGUMENT", Message: "Invalid JSON payload"})
	u, _ = w2.core.User(testApp, "carol")
	require.NotNil(t, u.Devices[0].Binding)
	require.True(t, w2.core.Certificates(testApp)[0].Status.Misconfigured)
}

// TestRetryAfterBeyondMaxWaitGivesUp: a Retry-After longer than Retry.MaxWait is not waited for:
// the push is given up, traced and forgotten. Exactly MaxWait is still waited for.
func TestRetryAfterBeyondMaxWaitGivesUp(t *testing.T) {
	const maxWait = 10 * time.Minute
	cfg := Config{Retry: RetryPolicy{MaxWait: duration.Of(maxWait)}}

	t.Run("over", func(t *testing.T) {
		w := newWorld(t, cfg)
		alice := w.login("alice", "alice-phone")
		bob := w.login("bob", "bob-phone")
		alice.kill()
		bob.send("alice", "1")
		p := w.fail("alice-phone", PushError{Code: "QUOTA_EXCEEDED", RetryAfter: maxWait + time.Second, Message: "quota"})
		es := w.pushEntries(p.ID)
		require.Equal(t, "fcm-QUOTA_EXCEEDED", es[len(es)-1].Reason)
		require.Equal(t, fmt.Sprintf("gave up: FCM asks to wait %v, longer than the relay waits (%v): quota", maxWait+time.Second, maxWait), es[len(es)-1].Detail)
		require.Zero(t, w.core.Stats().PendingPushes)
		require.Empty(t, w.pendingPushes(), "not rescheduled, not even after a restart")
		w.advance(2 * time.Hour)
		require.Equal(t, 1, w.sends(p.ID))
	})

	t.Run("at the limit", func(t *testing.T) {
		w := newWorld(t, cfg)
		alice := w.login("alice", "alice-phone")
		bob := w.login("bob", "bob-phone")
		alice.kill()
		bob.send("alice", "1")
		p := w.fail("alice-phone", PushError{Code: "QUOTA_EXCEEDED", RetryAfter: maxWait})
		w.advance(maxWait - time.Nanosecond)
		require.Equal(t, 1, w.sends(p.ID), "no earlier than Retry-After")
		w.advance(time.Nanosecond)
		require.Equal(t, 2, w.sends(p.ID))
		ps := w.pushesTo("alice-phone")
		require.Equal(t, 2, ps[len(ps)-1].Attempt)
	})
}

// TestDeletedCertificateCancelsPendingAndHeldPushes: deleting a certificate unbinds its devices
// at once: pushes waiting for a retry or an answer are cancelled and held messages never become
// a summary, each with the reason in the trace.
func TestDeletedCertificateCancelsPendingAndHeldPushes(t *testing.T) {
	w := newWorld(t, Config{DefaultCaps: tinyCaps})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	alice.kill()
	for i := range 3 {
		bob.send("alice", fmt.Sprint(i))
	}
	ps := w.pushesTo("alice-phone")
	require.Len(t, ps, 2, "the third is held by the caps")
	w.core.PushResult(w.now, PushResult{ID: ps[0].ID, Err: &PushError{Code: "UNAVAILABLE", RetryAfter: 30 * time.Second}})
	w.settle()

	require.NoError(t, w.core.DeleteCertificate(w.now, testApp, testCert))
	w.settle()
	require.Subset(t, w.cancelled, []uint64{ps[0].ID, ps[1].ID})
	for _, p := range ps {
		es := w.pushEntries(p.ID)
		require.Equal(t, ReasonNoBinding, es[len(es)-1].Reason)
		require.Equal(t, "push cancelled: the push binding was removed", es[len(es)-1].Detail)
	}
	require.Empty(t, w.pendingPushes())
	require.Contains(t, w.records, Record(DeleteCertificate{ID: testCert}))

	w.advance(time.Hour)
	require.Len(t, w.pushesTo("alice-phone"), 2, "no retry, no summary")
	var held []TraceEntry
	for _, e := range w.entries("alice-phone") {
		if len(e.Seqs) > 0 {
			held = append(held, TraceEntry{Seqs: e.Seqs, Reason: e.Reason})
		}
	}
	require.Empty(t, cmp.Diff([]TraceEntry{{Seqs: []uint64{3}, Reason: ReasonNoBinding}}, held), "the held message's summary is cancelled with its reason")
}

// TestBackoffStaysBetweenHalfAndAllOfTheStep: each wait is the attempt's exponential step, capped
// at Max, with only its upper half drawn; a step that overflows to nothing is capped, not zero.
func TestBackoffStaysBetweenHalfAndAllOfTheStep(t *testing.T) {
	for _, tc := range []struct {
		name    string
		retry   RetryPolicy
		attempt int
		step    time.Duration
	}{
		{"first", RetryPolicy{}, 1, time.Second},
		{"doubles", RetryPolicy{}, 4, 8 * time.Second},
		{"capped", RetryPolicy{}, 10, time.Minute},
		// 2^34 ns shifted by 30 wraps to exactly 0: the cap must still apply.
		{"wraps to zero", RetryPolicy{Base: duration.Duration(1 << 34), Max: duration.Duration(time.Hour)}, 31, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, Config{Retry: tc.retry})
			for range 200 {
				d := w.core.backoff(tc.attempt)
				require.GreaterOrEqual(t, d, tc.step/2)
				require.LessOrEqual(t, d, tc.step)
			}
		})
	}
}

// The tokens of cancelled pushes are remembered for late UNREGISTERED answers, but only the
// newest maxCancelledTokens of them: a relay that cancels pushes all day keeps a bounded map.
func TestCancelledTokensAreBoundedOldestForgottenFirst(t *testing.T) {
	w := newWorld(t, Config{})
	for id := range uint64(maxCancelledTokens + 5) {
		w.core.rememberCancelled(Push{ID: id + 1, Device: DeviceKey{SDKAppID: testApp, UserID: "u", DeviceID: "d"}, Token: fmt.Sprintf("t%d", id+1)})
	}
	require.Equal(t, maxCancelledTokens, len(w.core.cancelled.order))
	require.Equal(t, maxCancelledTokens, len(w.core.cancelled.token))
	require.NotContains(t, w.core.cancelled.token, uint64(5), "the five oldest are forgotten")
	require.Contains(t, w.core.cancelled.token, uint64(6))
	require.Equal(t, uint64(maxCancelledTokens+5), w.core.cancelled.order[maxCancelledTokens-1])
}
