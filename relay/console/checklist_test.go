package console

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// answer is a checklist item's mark and a part of its reason.
type answer struct {
	mark checkMark
	why  string
}

// requireAnswer finds the item asking question and checks its mark and words.
func requireAnswer(t *testing.T, items []checkItem, question string, want answer) {
	t.Helper()
	for _, it := range items {
		if it.Question == question {
			require.Equal(t, want.mark, it.Mark, "%s: %s", question, it.Why)
			require.Contains(t, it.Why, want.why, question)
			return
		}
	}
	t.Fatalf("no checklist item %q", question)
}

const (
	qCert  = "Certificate configured?"
	qToken = "Token reported?"
	qLogin = "User logged in, app not in the foreground?"
	qCaps  = "Within the frequency caps?"
	qFCM   = "FCM's last answer?"
)

func cert(id int64, check string) relay.CertificateView {
	return relay.CertificateView{ID: id, Check: relay.CertCheck{Status: check, Error: "invalid_grant"}}
}

func device(id string, loggedIn, online bool, certID int64) relay.DeviceView {
	d := relay.DeviceView{DeviceID: id, LoggedIn: loggedIn, Online: online}
	if certID != 0 {
		d.Binding = &relay.Binding{CertificateID: certID, Token: "tok"}
	}
	if !loggedIn {
		d.Ended = relay.ReasonLoggedOut
	}
	return d
}

func TestChecklistAllGood(t *testing.T) {
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	items := checklist(checkInput{SDKAppID: 1, UserID: "alice",
		Certs: []relay.CertificateView{cert(7, relay.CheckOK), cert(8, relay.CheckFailed)},
		User:  &relay.UserView{UserID: "alice", Devices: []relay.DeviceView{device("phone", true, false, 7)}},
		Entries: []relay.TraceEntry{
			{Time: at, Reason: "fcm-UNAVAILABLE", DeviceID: "phone"},
			{Time: at.Add(time.Second), Reason: relay.ReasonFCMOK, DeviceID: "phone"},
			{Time: at, Reason: relay.ReasonPushed, DeviceID: "phone"},
		}})
	requireAnswer(t, items, qCert, answer{checkYes, "certificate 7: FCM accepted"})
	requireAnswer(t, items, qToken, answer{checkYes, "phone → certificate 7"})
	requireAnswer(t, items, qLogin, answer{checkYes, "phone logged in, connection gone"})
	requireAnswer(t, items, qCaps, answer{checkYes, "no push held"})
	requireAnswer(t, items, qFCM, answer{checkYes, "fcm-ok at 2026-12-06 12:00:01.000"})
}

func TestChecklistFindsEachProblem(t *testing.T) {
	user := func(ds ...relay.DeviceView) *relay.UserView { return &relay.UserView{UserID: "alice", Devices: ds} }
	ok7 := []relay.CertificateView{cert(7, relay.CheckOK)}
	for name, tc := range map[string]struct {
		in       checkInput
		question string
		want     answer
	}{
		"no certificate":          {checkInput{SDKAppID: 1}, qCert, answer{checkNo, "app 1 has no certificate"}},
		"certificate ID mismatch": {checkInput{SDKAppID: 1, CertificateID: 9, Certs: ok7}, qCert, answer{checkNo, "no certificate 9: check that the certificate ID in the app's code"}},
		"check failed":            {checkInput{CertificateID: 8, Certs: []relay.CertificateView{cert(8, relay.CheckFailed)}}, qCert, answer{checkNo, "certificate 8 failed its check: invalid_grant"}},
		"misconfigured": {checkInput{Certs: []relay.CertificateView{{ID: 7, Check: relay.CertCheck{Status: relay.CheckOK},
			Status: relay.CertStatus{Misconfigured: true, Reason: "SENDER_ID_MISMATCH: x"}}}}, qCert, answer{checkNo, "marked misconfigured since FCM answered SENDER_ID_MISMATCH"}},
		"unchecked":         {checkInput{Certs: []relay.CertificateView{cert(7, relay.CheckUnchecked)}}, qCert, answer{checkUnknown, "not checked yet"}},
		"certs unreadable":  {checkInput{CertsErr: "boom"}, qCert, answer{checkUnknown, "could not be read: boom"}},
		"user's cert fails": {checkInput{UserID: "alice", User: user(device("phone", true, false, 8)), Certs: []relay.CertificateView{cert(7, relay.CheckOK), cert(8, relay.CheckFailed)}}, qCert, answer{checkNo, "certificate 8 failed"}},

		"no user ID":      {checkInput{Certs: ok7}, qToken, answer{checkUnknown, "enter a user ID"}},
		"no user ID (2)":  {checkInput{Certs: ok7}, qLogin, answer{checkUnknown, "enter a user ID"}},
		"unknown user":    {checkInput{SDKAppID: 1, UserID: "zed"}, qToken, answer{checkNo, `never seen user "zed" log in`}},
		"user unreadable": {checkInput{UserID: "alice", UserErr: "down"}, qLogin, answer{checkUnknown, "could not be read: down"}},
		"unknown device":  {checkInput{UserID: "alice", DeviceID: "tv", User: user(device("phone", true, false, 7))}, qToken, answer{checkNo, `no device "tv"`}},
		"no token":        {checkInput{UserID: "alice", User: user(device("phone", true, false, 0))}, qToken, answer{checkNo, "report its token after every login"}},
		"other cert":      {checkInput{UserID: "alice", CertificateID: 9, User: user(device("phone", true, false, 7))}, qToken, answer{checkNo, "bound to another certificate (phone → certificate 7), not 9"}},

		"online":     {checkInput{UserID: "alice", User: user(device("phone", true, true, 7))}, qLogin, answer{checkNo, "pushes are not sent while online"}},
		"logged out": {checkInput{UserID: "alice", User: user(device("phone", false, false, 0))}, qLogin, answer{checkNo, "phone (logged-out)"}},

		"capped": {checkInput{UserID: "alice", User: user(relay.DeviceView{DeviceID: "phone", LoggedIn: true, Held: 2}),
			Entries: []relay.TraceEntry{{Reason: relay.ReasonCapped}, {Reason: relay.ReasonCapped}, {Reason: relay.ReasonPushed}}}, qCaps, answer{checkNo, "2 message(s) held by the caps in the entries read, 2 waiting now"}},

		"capped in the trace only": {checkInput{Entries: []relay.TraceEntry{{Reason: relay.ReasonCapped}}}, qCaps, answer{checkNo, "1 message(s) held by the caps in the entries read: held messages go out as one summary push"}},
		"held now only":            {checkInput{UserID: "alice", User: user(relay.DeviceView{DeviceID: "phone", LoggedIn: true, Held: 1})}, qCaps, answer{checkNo, "0 message(s) held by the caps in the entries read, 1 waiting now"}},

		"no FCM answer": {checkInput{Entries: []relay.TraceEntry{{Reason: relay.ReasonOnline}}}, qFCM, answer{checkUnknown, "no FCM answer"}},
		"FCM error": {checkInput{Entries: []relay.TraceEntry{{Reason: relay.ReasonFCMOK},
			{Time: time.Unix(1, 0), Reason: "fcm-UNREGISTERED", Attempt: 1, Detail: "binding removed: x"}}}, qFCM, answer{checkNo, "the app must report a new token"}},
	} {
		t.Run(name, func(t *testing.T) {
			requireAnswer(t, checklist(tc.in), tc.question, tc.want)
		})
	}
}
