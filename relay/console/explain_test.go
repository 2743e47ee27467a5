package console

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// stringConsts reads the string constants of the Go files matching glob whose names start
// with prefix and, unless typ is empty, that are declared of type typ (test files left out),
// by name.
func stringConsts(t *testing.T, glob, prefix, typ string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(glob)
	require.NoError(t, err)
	require.NotEmpty(t, files, glob)
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		for _, d := range file.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); typ != "" && (!ok || id.Name != typ) {
					continue
				}
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, prefix) || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, err := strconv.Unquote(lit.Value)
						require.NoError(t, err)
						out[n.Name] = v
					}
				}
			}
		}
	}
	return out
}

// relayReasons are every reason the relay can record: its Reason constants, fcm- with each of
// the sender's own error codes, and fcm- with each FCM error code (fakefcm's list of them, from
// FCM.md).
func relayReasons(t *testing.T) []string {
	t.Helper()
	var reasons []string
	for name, v := range stringConsts(t, "../*.go", "Reason", "") {
		if strings.HasSuffix(name, "Prefix") {
			continue
		}
		reasons = append(reasons, v)
	}
	for _, v := range stringConsts(t, "../*.go", "ErrCode", "") {
		reasons = append(reasons, relay.ReasonFCMPrefix+v)
	}
	for _, v := range stringConsts(t, "../../fakefcm/*.go", "", "ErrorCode") {
		reasons = append(reasons, relay.ReasonFCMPrefix+v)
	}
	slices.Sort(reasons)
	return slices.Compact(reasons)
}

// TestEveryRelayReasonHasWords: a reason the relay records without words in the console fails
// here, found by reading the relay's constants.
func TestEveryRelayReasonHasWords(t *testing.T) {
	reasons := relayReasons(t)
	for _, want := range []string{"pushed", "capped-coalesced", "fcm-ok", "fcm-UNREGISTERED", "fcm-SENDER_ID_MISMATCH",
		"fcm-THIRD_PARTY_AUTH_ERROR", "fcm-INVALID_ARGUMENT", "fcm-QUOTA_EXCEEDED", "fcm-INTERNAL", "fcm-TIMEOUT", "fcm-UNAUTHENTICATED", "certificate-check-failed"} {
		require.Contains(t, reasons, want, "the enumeration finds the relay's reasons")
	}
	at := time.Date(2026, 12, 6, 12, 3, 10, 0, time.UTC)
	for _, r := range reasons {
		require.True(t, knownReason(r), "no words for the relay's reason %q", r)
		words := explain(relay.TraceEntry{Time: at, UserID: "alice", DeviceID: "p", Reason: r, Seq: 3, PushID: 1, Attempt: 1}, nil)
		require.NotContains(t, words, "no words", r)
		require.NotEmpty(t, words, r)
	}
	require.False(t, knownReason("fcm-SOMETHING_NEW"))
	require.Contains(t, explain(relay.TraceEntry{Reason: "teleported"}, nil), "no words")
}

func TestExplainWords(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 3, 0, 0, time.UTC)
	entry := func(sec int, reason string, seq uint64) relay.TraceEntry {
		return relay.TraceEntry{Time: at.Add(time.Duration(sec) * time.Second), UserID: "alice", DeviceID: "alice-phone", Reason: reason, Seq: seq}
	}
	held4, held5 := entry(1, relay.ReasonCapped, 4), entry(2, relay.ReasonCapped, 5)
	summary := entry(10, relay.ReasonPushed, 0)
	summary.Seqs, summary.PushID = []uint64{4, 5}, 9
	otherDevice := summary
	otherDevice.DeviceID, otherDevice.Time = "alice-tablet", at.Add(5*time.Second)
	all := []relay.TraceEntry{summary, held4, otherDevice, held5}

	require.Equal(t, "held by the frequency cap, covered by a summary push at 12:03:10 (push #9, 2 messages)", explain(held4, all))
	require.Equal(t, "held by the frequency cap, not yet covered by a summary push (none among the entries read)", explain(held5, []relay.TraceEntry{held5, otherDevice}))
	cancelled := entry(7, relay.ReasonOnline, 0)
	cancelled.Seqs = []uint64{4, 5}
	require.Equal(t, "held by the frequency cap, its summary was cancelled at 12:03:07 (online)", explain(held4, append(all, cancelled)))
	require.Contains(t, explain(cancelled, nil), "a summary of 2 held message(s) was cancelled, because the device was online")
	require.Contains(t, explain(summary, nil), "a summary of 2 messages held by the frequency caps (seqs 4, 5)")

	require.Equal(t, "not pushed: the device was online (connected): it gets the message over its connection, or syncs it", explain(entry(0, relay.ReasonOnline, 1), nil))

	unreg := relay.TraceEntry{Reason: "fcm-UNREGISTERED", PushID: 3, Attempt: 1, Detail: "binding removed: Requested entity was not found."}
	require.Contains(t, explain(unreg, nil), "dropped the device's binding — the app must report a new token")
	retry := relay.TraceEntry{Reason: "fcm-UNAVAILABLE", PushID: 3, Attempt: 2, Detail: "attempt 2 of 5 failed; retrying in 2s: busy"}
	require.Equal(t, "attempt 2: FCM was unavailable (overloaded); the relay retries with backoff", explain(retry, nil))
	retry.Detail = "gave up after 5 attempts: busy"
	retry.Attempt = 5
	require.Equal(t, "attempt 5: FCM was unavailable (overloaded); the relay gave up on this push", explain(retry, nil))
	ok := relay.TraceEntry{Reason: relay.ReasonFCMOK, FCMName: "projects/demo/messages/1", Attempt: 3}
	require.Contains(t, explain(ok, nil), "FCM accepted the push as projects/demo/messages/1, at attempt 3")
	badTok := relay.TraceEntry{Reason: "fcm-INVALID_ARGUMENT", Attempt: 1, Detail: "binding removed: The registration token is not a valid FCM registration token"}
	require.Contains(t, explain(badTok, nil), "the token itself is malformed")
	retryCancelled := relay.TraceEntry{Reason: relay.ReasonLoggedOut, PushID: 4, Seq: 2, Detail: "retry cancelled: "}
	require.Contains(t, explain(retryCancelled, nil), "the retry of push #4 was cancelled, because the device had logged out")

	require.Equal(t, kindOK, kindOf("fcm-ok"))
	require.Equal(t, kindBad, kindOf("fcm-QUOTA_EXCEEDED"))
	require.Equal(t, kindHeld, kindOf("capped-coalesced"))
	require.Equal(t, kindNotPushed, kindOf("muted"))
}
