package scenarios

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/reports"
)

// sendsByPush groups the relay's trace by push: when FCM's answer (or the timeout) came back for
// each of its sends, in ms.
func sendsByPush(s reports.Scenario) map[string][]int64 {
	out := map[string][]int64{}
	for _, e := range s.Trace {
		if strings.HasPrefix(e.Reason, "fcm-") {
			k := fmt.Sprintf("%s push %d", e.Device, e.PushID)
			out[k] = append(out[k], e.AtMs)
		}
	}
	return out
}

// arrivals counts the notifications each phone showed, by text (each message of these runs has
// its own).
func arrivals(s reports.Scenario) map[string]int {
	out := map[string]int{}
	for _, d := range s.Devices {
		for _, e := range d.Events {
			if e.Kind == "push" {
				out[d.ID+": "+e.Text]++
			}
		}
	}
	return out
}

// fcmRecordsByDevice counts the sends fakefcm received per phone, whatever it answered.
func fcmRecordsByDevice(s reports.Scenario) map[string]int {
	out := map[string]int{}
	for _, m := range s.FCM {
		out[m.Device]++
	}
	return out
}

// storm is a scenario with four killed phones, each sent `messages` messages while FCM misbehaves
// as fault says, then left alone for ten minutes.
func storm(maxAttempts, messages int, fault string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: storm\nrelay: {retry: {maxAttempts: %d}}\nfcm: {latency: 100ms}\ndevices:\n", maxAttempts)
	phones := []string{"p1", "p2", "p3", "p4"}
	for _, p := range phones {
		fmt.Fprintf(&b, "  - {id: %s, user: %s}\n", p, p)
	}
	b.WriteString("  - {id: sender, user: sender}\nsteps:\n  - login: sender\n")
	for _, p := range phones {
		fmt.Fprintf(&b, "  - login: %s\n  - kill: %s\n", p, p)
	}
	fmt.Fprintf(&b, "  - fault: %s\n", fault)
	for i := range messages {
		for _, p := range phones {
			fmt.Fprintf(&b, "  - send: {from: sender, to: %s, text: message %d for %s}\n", p, i, p)
		}
	}
	b.WriteString("  - wait: 10m\n") // retries past a phone's burst cap wait for its refill (one per 3 min)
	return b.String()
}

// TestRetriesAreBoundedAndDuplicatesStayWithinTheBudget: under FCM storms, every message reaches
// FCM at most retry.maxAttempts times (so N messages cost at most N × maxAttempts sends), a phone
// shows a message at most once per send that reached FCM, retries wait for Retry-After and for
// the send timeout plus backoff, and a timeout costs one more send, not a storm. Played in the
// virtual mode, and the library's timeout scenario (40) live as well.
func TestRetriesAreBoundedAndDuplicatesStayWithinTheBudget(t *testing.T) {
	const messages = 5
	for _, tc := range []struct {
		name        string
		maxAttempts int
		fault       string
		// wantSends is every message's sends; minGapMs bounds the time between two of them.
		wantSends, wantArrivals int
		minGapMs                int64
	}{
		// Every answer slower than the 10 s send timeout: each send times out, is accepted and
		// delivered all the same, and is retried after the timeout and a backoff of at least
		// half of 1 s; the budget of 3 ends it.
		{"every answer too slow", 3, "{latency: 12s}", 3, 3, 10_500},
		// Every send refused 503: tried 4 times, given up, nothing shown.
		{"503 forever", 4, "{status: 503}", 4, 0, 500},
		// The first send of every message refused 429 with Retry-After 7 s: retried once, no
		// sooner than FCM asked, shown once.
		{"429 with Retry-After", 5, fmt.Sprintf("{status: 429, retryAfter: 7s, count: %d}", 4*messages), 2, 1, 7_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := Parse("storm.yaml", []byte(storm(tc.maxAttempts, messages, tc.fault)))
			require.NoError(t, err)
			res := Run(context.Background(), sc, Options{Seed: 11})
			require.Empty(t, res.Error)
			for _, s := range res.Steps {
				require.Empty(t, s.Error, "step %d", s.Index)
			}
			// Exactly wantSends per message, and the table keeps wantSends within the budget: so
			// N messages cost at most N × maxAttempts sends.
			require.LessOrEqual(t, tc.wantSends, tc.maxAttempts, "the case itself")
			byPush := sendsByPush(res)
			require.Len(t, byPush, 4*messages, "one push per message")
			for k, answers := range byPush {
				require.Len(t, answers, tc.wantSends, "%s: sends reaching FCM", k)
				for i := 1; i < len(answers); i++ {
					require.GreaterOrEqual(t, answers[i]-answers[i-1], tc.minGapMs, "%s: retry %d too soon: %v", k, i, answers)
				}
			}
			for dev, n := range fcmRecordsByDevice(res) {
				require.Equal(t, messages*tc.wantSends, n, "%s: sends fakefcm received", dev)
			}
			shown := arrivals(res)
			for _, p := range []string{"p1", "p2", "p3", "p4"} {
				for i := range messages {
					k := fmt.Sprintf("%s: message %d for %s", p, i, p)
					require.Equal(t, tc.wantArrivals, shown[k], "%s: notifications shown (a duplicate per send at most)", k)
				}
			}
			// The trace agrees: no push is attempted past the budget.
			for _, e := range res.Trace {
				require.LessOrEqual(t, e.Attempt, tc.maxAttempts, "%+v", e)
			}
		})
	}

	// The library's timeout scenario, in both modes: one slow answer, one retry, the phone sees
	// the message twice and never a third time.
	sc, err := Load("library/40-fcm-answer-slower-than-the-send-timeout-is-retried-and-may-duplicate.yaml")
	require.NoError(t, err)
	for _, live := range []bool{false, true} {
		res := Run(context.Background(), sc, Options{Seed: 3, Live: live})
		require.True(t, res.Passed, "live %v: %+v", live, res.Expectations)
		require.Equal(t, map[string]int{"alice-phone": 2}, fcmRecordsByDevice(res), "live %v: the first send and one retry reach FCM", live)
		require.Equal(t, 2, arrivals(res)["alice-phone: are you there?"], "live %v: the phone shows it twice", live)
		reasons := map[string]int{}
		for _, e := range res.Trace {
			if e.Device == "alice-phone" {
				reasons[e.Reason]++
			}
		}
		require.Equal(t, map[string]int{"pushed": 1, "fcm-TIMEOUT": 1, "fcm-ok": 1}, reasons, "live %v", live)
		require.True(t, slices.ContainsFunc(res.Trace, func(e reports.TraceEntry) bool { return e.Reason == "fcm-ok" && e.Attempt == 2 }), "live %v", live)
	}
}
