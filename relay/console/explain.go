package console

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pushlab/pushlab/relay"
)

// reasonKind sorts push-trace reasons for their badge colour.
type reasonKind string

const (
	kindOK        reasonKind = "ok"   // pushed, accepted by FCM, a certificate check passed
	kindBad       reasonKind = "bad"  // an FCM error, a certificate check failed
	kindHeld      reasonKind = "warn" // held by a frequency cap, waiting for a summary
	kindNotPushed reasonKind = ""     // not pushed, by the push rule
)

// kindOf answers how a reason is coloured.
func kindOf(reason string) reasonKind {
	switch {
	case reason == relay.ReasonPushed, reason == relay.ReasonFCMOK, reason == relay.ReasonCertificateCheckOK, reason == relay.ReasonTestPush:
		return kindOK
	case reason == relay.ReasonCapped:
		return kindHeld
	case strings.HasPrefix(reason, relay.ReasonFCMPrefix), reason == relay.ReasonCertificateCheckFailed:
		return kindBad
	default:
		return kindNotPushed
	}
}

// decisionWords says in plain words a push-rule verdict that stops a push; ok is false for any
// other reason. A verdict can be about one message, about a summary of held messages cancelled,
// or about a push cancelled (or a retry of one) because the device no longer qualifies.
func decisionWords(reason string) (words string, ok bool) {
	switch reason {
	case relay.ReasonOnline:
		return "the device was online (connected): it gets the message over its connection, or syncs it", true
	case relay.ReasonLoggedOut:
		return "the device had logged out: a logged-out device gets no pushes until it logs in again", true
	case relay.ReasonKicked:
		return "the device was kicked (a login elsewhere under the app's login policy, or an admin kick), and its push binding went with it", true
	case relay.ReasonNoBinding:
		return "the device has reported no push token since its login: the app must report its token after every login", true
	case relay.ReasonUserDisabled:
		return "the user turned pushes off (setPushSettings from the app, or the admin API's pushSettings): messages are stored and synced, " +
			"none is pushed until the user turns pushes on again, and what came meanwhile is not pushed then", true
	case relay.ReasonMuted:
		return "the user muted the conversation (receive without notification)", true
	case relay.ReasonOnlineOnly:
		return "the message was sent online-only", true
	case relay.ReasonPushDisabled:
		return "the sender disabled the push for this message (offlinePush.disable)", true
	case relay.ReasonOwnMessage:
		return "it is the user's own message, echoed to another of their devices", true
	}
	return "", false
}

// fcmWords says in plain words one of FCM's error codes (or the sender's own: no answer,
// credentials refused), with what follows from it; ok is false for a code it does not know.
func fcmWords(code string) (words string, ok bool) {
	switch code {
	case "UNREGISTERED":
		return "FCM says the token is no longer registered (the app was uninstalled, its data cleared, or the token expired); " +
			"the relay dropped the device's binding — the app must report a new token", true
	case "INVALID_ARGUMENT":
		return "FCM refused the request as invalid (a malformed token, a package name that does not match, a bad payload); not retried", true
	case "SENDER_ID_MISMATCH":
		return "FCM says the token belongs to another Firebase project than the certificate's: check that the certificate ID " +
			"in the app's code is the one of its Firebase project; not retried, the certificate is marked misconfigured", true
	case "QUOTA_EXCEEDED":
		return "FCM refused it for a rate limit (the project's, or this device's)", true
	case "UNAVAILABLE":
		return "FCM was unavailable (overloaded)", true
	case "INTERNAL":
		return "FCM failed with an internal error", true
	case "THIRD_PARTY_AUTH_ERROR":
		return "FCM could not authenticate to APNs or web push with the project's credentials: fix them in the Firebase console; not retried", true
	case relay.ErrCodeUnauthenticated:
		return "FCM refused the certificate's credentials (service account or server key): update the certificate; " +
			"not retried, the certificate is marked misconfigured", true
	case relay.ErrCodeTimeout:
		return "FCM did not answer in time (the push may have reached it)", true
	case relay.ErrCodeNetwork:
		return "the relay could not reach FCM (a network error)", true
	}
	return "", false
}

// retried reports whether the relay retries a push FCM answered with code.
func retried(code string) bool {
	switch code {
	case "QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL", relay.ErrCodeTimeout, relay.ErrCodeNetwork:
		return true
	}
	return false
}

// knownReason reports whether explain has words of its own for a reason.
func knownReason(reason string) bool {
	switch reason {
	case relay.ReasonPushed, relay.ReasonCapped, relay.ReasonFCMOK, relay.ReasonCertificateCheckOK, relay.ReasonCertificateCheckFailed,
		relay.ReasonTestPush:
		return true
	}
	if _, ok := decisionWords(reason); ok {
		return true
	}
	code, isFCM := strings.CutPrefix(reason, relay.ReasonFCMPrefix)
	_, ok := fcmWords(code)
	return ok && isFCM
}

// explain says what a push-trace entry means, in plain words. others are the entries read with
// it (any order): a held message is linked to the later summary push that covered it.
func explain(e relay.TraceEntry, others []relay.TraceEntry) string {
	r := e.Reason
	switch {
	case r == relay.ReasonPushed:
		if len(e.Seqs) > 1 {
			return fmt.Sprintf("pushed: a summary of %d messages held by the frequency caps (seqs %s), handed to FCM as push #%d",
				len(e.Seqs), seqList(e.Seqs), e.PushID)
		}
		return fmt.Sprintf("pushed: the device was logged in with its connection gone, so the relay handed the message to FCM as push #%d", e.PushID)
	case r == relay.ReasonFCMOK:
		s := "FCM accepted the push"
		if e.FCMName != "" {
			s += " as " + e.FCMName
		}
		if e.Attempt > 1 {
			s += fmt.Sprintf(", at attempt %d", e.Attempt)
		}
		return s + "; delivery to the phone is up to FCM and Android from here"
	case r == relay.ReasonTestPush:
		return fmt.Sprintf("test push #%d: an operator's test push (console or admin API) handed to FCM once, to the device's "+
			"current token; no message, not counted by the caps", e.PushID)
	case r == relay.ReasonCapped:
		return "held by the frequency cap, " + coveredBy(e, others)
	case r == relay.ReasonCertificateCheckOK:
		return "certificate check passed: FCM accepted the credentials and a validate-only send"
	case r == relay.ReasonCertificateCheckFailed:
		return "certificate check failed: FCM (or the relay, for a legacy server key aimed at Google) refused the credentials; pushes on this certificate fail until it is updated"
	case strings.HasPrefix(r, relay.ReasonFCMPrefix):
		return explainFCM(e)
	}
	words, ok := decisionWords(r)
	if !ok {
		return fmt.Sprintf("reason %q: this console has no words for it yet; see the detail", r)
	}
	switch {
	case len(e.Seqs) > 0 && e.PushID == 0:
		return fmt.Sprintf("not pushed: a summary of %d held message(s) was cancelled, because %s", len(e.Seqs), words)
	case strings.HasPrefix(e.Detail, "retry cancelled"):
		return fmt.Sprintf("not pushed: the retry of push #%d was cancelled, because %s", e.PushID, words)
	case e.PushID != 0:
		return fmt.Sprintf("not pushed: push #%d was cancelled before FCM answered, because %s", e.PushID, words)
	}
	return "not pushed: " + words
}

// explainFCM says what an FCM error means for the push: retried, given up, or dropped.
func explainFCM(e relay.TraceEntry) string {
	code := strings.TrimPrefix(e.Reason, relay.ReasonFCMPrefix)
	words, ok := fcmWords(code)
	if !ok {
		words = fmt.Sprintf("FCM answered %s", code)
	}
	attempt := ""
	if e.Attempt > 0 {
		attempt = fmt.Sprintf("attempt %d: ", e.Attempt)
	}
	switch {
	case code == "INVALID_ARGUMENT" && strings.HasPrefix(e.Detail, "binding removed"):
		return attempt + "FCM says the token itself is malformed; the relay dropped the device's binding — the app must report a valid token"
	case strings.Contains(e.Detail, "cancelled push"):
		return words + " (the answer to a push already cancelled)"
	case !retried(code):
		return attempt + words
	case strings.HasPrefix(e.Detail, "gave up"):
		return attempt + words + "; the relay gave up on this push"
	default:
		return attempt + words + "; the relay retries with backoff"
	}
}

// coveredBy finds what became of a held message: the first later push to the same device whose
// seqs include it (its summary), or the first later cancellation of that summary.
func coveredBy(e relay.TraceEntry, others []relay.TraceEntry) string {
	var first *relay.TraceEntry
	for i, o := range others {
		if o.UserID != e.UserID || o.DeviceID != e.DeviceID || o.Time.Before(e.Time) {
			continue
		}
		if o.Seq != e.Seq && !slices.Contains(o.Seqs, e.Seq) {
			continue
		}
		_, decision := decisionWords(o.Reason)
		summary := o.Reason == relay.ReasonPushed || (decision && o.PushID == 0)
		if summary && (first == nil || o.Time.Before(first.Time)) {
			first = &others[i]
		}
	}
	switch {
	case first == nil:
		return "not yet covered by a summary push (none among the entries read)"
	case first.Reason != relay.ReasonPushed:
		return fmt.Sprintf("its summary was cancelled at %s (%s)", clock(first.Time), first.Reason)
	case len(first.Seqs) > 1:
		return fmt.Sprintf("covered by a summary push at %s (push #%d, %d messages)", clock(first.Time), first.PushID, len(first.Seqs))
	default:
		return fmt.Sprintf("covered by a summary push at %s (push #%d, this message alone)", clock(first.Time), first.PushID)
	}
}

// clock shows the time of day, in UTC, to the second.
func clock(t time.Time) string { return t.UTC().Format("15:04:05") }

// seqList shows message seqs, shortened past a few.
func seqList(seqs []uint64) string {
	var b strings.Builder
	for i, s := range seqs {
		if i == 8 {
			fmt.Fprintf(&b, " … (%d more)", len(seqs)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, s)
	}
	return b.String()
}
