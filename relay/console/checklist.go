package console

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pushlab/pushlab/relay"
)

// checkMark is a checklist item's answer.
type checkMark string

const (
	checkYes     checkMark = "yes"     // ✓: this is not why a push is missing
	checkNo      checkMark = "no"      // ✗: this is a reason, or a likely one
	checkUnknown checkMark = "unknown" // ?: the data cannot tell
)

// checkItem is one question of the troubleshooting checklist, answered.
type checkItem struct {
	Question string
	Mark     checkMark
	// Why is one line: what the data says, and what to do about it.
	Why string
}

// checkInput is what the checklist is answered from: the trace page's filters and what the
// admin API said.
type checkInput struct {
	SDKAppID      uint64
	UserID        string
	DeviceID      string
	CertificateID int64
	// Certs are the app's certificates; CertsErr, when set, says why they could not be read.
	Certs    []relay.CertificateView
	CertsErr string
	// User is the user's devices, nil when the relay does not know the user (or no user was
	// asked for); UserErr, when set, says why the user could not be read.
	User    *relay.UserView
	UserErr string
	// Entries are the push-trace entries read, in any order.
	Entries []relay.TraceEntry
}

// checklist answers the push troubleshooting checklist (certificate, token, login, caps, FCM's
// last answer) from the data, for the filtered app, user, device and certificate.
func checklist(in checkInput) []checkItem {
	return []checkItem{checkCertificate(in), checkToken(in), checkLogin(in), checkCaps(in), checkFCM(in)}
}

func checkCertificate(in checkInput) checkItem {
	it := checkItem{Question: "Certificate configured?"}
	if in.CertsErr != "" {
		it.Mark, it.Why = checkUnknown, "the certificates could not be read: "+in.CertsErr
		return it
	}
	if len(in.Certs) == 0 {
		it.Mark, it.Why = checkNo, fmt.Sprintf("app %d has no certificate: add the FCM credentials of its Firebase project on the app's certificates page", in.SDKAppID)
		return it
	}
	// The certificates that matter: the one asked for, else those the user's devices are bound
	// to, else all of the app's.
	ids := []int64{}
	switch {
	case in.CertificateID != 0:
		ids = append(ids, in.CertificateID)
	case in.User != nil:
		for _, d := range devicesOf(in) {
			if d.Binding != nil && !slices.Contains(ids, d.Binding.CertificateID) {
				ids = append(ids, d.Binding.CertificateID)
			}
		}
	}
	if len(ids) == 0 {
		for _, c := range in.Certs {
			ids = append(ids, c.ID)
		}
	}
	var ok, unchecked []string
	for _, id := range ids {
		i := slices.IndexFunc(in.Certs, func(c relay.CertificateView) bool { return c.ID == id })
		if i < 0 {
			it.Mark, it.Why = checkNo, fmt.Sprintf("app %d has no certificate %d: check that the certificate ID in the app's code matches one on the app's certificates page", in.SDKAppID, id)
			return it
		}
		c := in.Certs[i]
		switch {
		case c.Check.Status == relay.CheckFailed:
			it.Mark, it.Why = checkNo, fmt.Sprintf("certificate %d failed its check: %s — update its credentials", id, c.Check.Error)
			return it
		case c.Status.Misconfigured:
			it.Mark, it.Why = checkNo, fmt.Sprintf("certificate %d is marked misconfigured since FCM answered %s — update its credentials", id, c.Status.Reason)
			return it
		case c.Check.Status == relay.CheckOK:
			ok = append(ok, fmt.Sprint(id))
		default:
			unchecked = append(unchecked, fmt.Sprint(id))
		}
	}
	if len(unchecked) > 0 {
		it.Mark, it.Why = checkUnknown, fmt.Sprintf("certificate %s not checked yet: the relay checks new credentials with FCM; look again in a moment", strings.Join(unchecked, ", "))
		return it
	}
	it.Mark, it.Why = checkYes, fmt.Sprintf("certificate %s: FCM accepted its credentials", strings.Join(ok, ", "))
	return it
}

// devicesOf answers the user's devices the filter asks about.
func devicesOf(in checkInput) []relay.DeviceView {
	if in.User == nil {
		return nil
	}
	var out []relay.DeviceView
	for _, d := range in.User.Devices {
		if in.DeviceID == "" || d.DeviceID == in.DeviceID {
			out = append(out, d)
		}
	}
	return out
}

// userMissing answers the user-specific items when there is no user to answer them for.
func userMissing(in checkInput, it checkItem) (checkItem, bool) {
	switch {
	case in.UserID == "":
		it.Mark, it.Why = checkUnknown, "enter a user ID to answer this"
	case in.UserErr != "":
		it.Mark, it.Why = checkUnknown, "the user could not be read: "+in.UserErr
	case in.User == nil:
		it.Mark, it.Why = checkNo, fmt.Sprintf("the relay has never seen user %q log in to app %d: check the user ID and the SDKAppID the app logs in with", in.UserID, in.SDKAppID)
	case len(devicesOf(in)) == 0:
		it.Mark, it.Why = checkNo, fmt.Sprintf("user %q has no device %q: check the device ID", in.UserID, in.DeviceID)
	default:
		return it, false
	}
	return it, true
}

func checkToken(in checkInput) checkItem {
	it, done := userMissing(in, checkItem{Question: "Token reported?"})
	if done {
		return it
	}
	var bound, elsewhere []string
	for _, d := range devicesOf(in) {
		if d.Binding == nil {
			continue
		}
		s := fmt.Sprintf("%s → certificate %d", d.DeviceID, d.Binding.CertificateID)
		if in.CertificateID != 0 && d.Binding.CertificateID != in.CertificateID {
			elsewhere = append(elsewhere, s)
			continue
		}
		bound = append(bound, s)
	}
	switch {
	case len(bound) > 0:
		it.Mark, it.Why = checkYes, "bound: "+strings.Join(bound, "; ")
	case len(elsewhere) > 0:
		it.Mark, it.Why = checkNo, fmt.Sprintf("bound to another certificate (%s), not %d: the certificate ID the app reports its token with must be the one you expect", strings.Join(elsewhere, "; "), in.CertificateID)
	default:
		it.Mark, it.Why = checkNo, "no device has reported a push token since its login: the app must report its token after every login"
	}
	return it
}

func checkLogin(in checkInput) checkItem {
	it, done := userMissing(in, checkItem{Question: "User logged in, app not in the foreground?"})
	if done {
		return it
	}
	var away, online, ended []string
	for _, d := range devicesOf(in) {
		switch {
		case d.LoggedIn && !d.Online:
			away = append(away, d.DeviceID)
		case d.LoggedIn:
			online = append(online, d.DeviceID)
		default:
			ended = append(ended, fmt.Sprintf("%s (%s)", d.DeviceID, cmp.Or(d.Ended, "never logged in")))
		}
	}
	switch {
	case len(away) > 0:
		it.Mark, it.Why = checkYes, fmt.Sprintf("%s logged in, connection gone (app killed or in the background): pushes go out", strings.Join(away, ", "))
	case len(online) > 0:
		it.Mark, it.Why = checkNo, fmt.Sprintf("%s logged in and connected (the app is in the foreground, or its connection is still open): "+
			"pushes are not sent while online; messages arrive over the connection", strings.Join(online, ", "))
	default:
		it.Mark, it.Why = checkNo, fmt.Sprintf("no device logged in: %s. A logged-out user gets no pushes: the app must be killed or in the background, not logged out", strings.Join(ended, ", "))
	}
	return it
}

func checkCaps(in checkInput) checkItem {
	it := checkItem{Question: "Within the frequency caps?"}
	capped := 0
	for _, e := range in.Entries {
		if e.Reason == relay.ReasonCapped {
			capped++
		}
	}
	held := 0
	for _, d := range devicesOf(in) {
		held += d.Held
	}
	switch {
	case capped == 0 && held == 0:
		it.Mark, it.Why = checkYes, "no push held by the caps in the entries read"
	default:
		it.Mark = checkNo
		it.Why = fmt.Sprintf("%d message(s) held by the caps in the entries read", capped)
		if in.User != nil {
			it.Why += fmt.Sprintf(", %d waiting now", held)
		}
		it.Why += ": held messages go out as one summary push when the caps reopen (see the capped-coalesced rows); the caps are on the app's page"
	}
	return it
}

func checkFCM(in checkInput) checkItem {
	it := checkItem{Question: "FCM's last answer?"}
	var last *relay.TraceEntry
	for i, e := range in.Entries {
		if strings.HasPrefix(e.Reason, relay.ReasonFCMPrefix) && (last == nil || !e.Time.Before(last.Time)) {
			last = &in.Entries[i]
		}
	}
	switch {
	case last == nil:
		it.Mark, it.Why = checkUnknown, "no FCM answer among the entries read: no push was sent to FCM in them"
	case last.Reason == relay.ReasonFCMOK:
		it.Mark, it.Why = checkYes, fmt.Sprintf("%s at %s: FCM accepted the push to %s", last.Reason, fmtMillis(last.Time), last.DeviceID)
	default:
		it.Mark, it.Why = checkNo, fmt.Sprintf("%s at %s: %s", last.Reason, fmtMillis(last.Time), explainFCM(*last))
	}
	return it
}
