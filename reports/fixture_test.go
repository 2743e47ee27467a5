package reports

import "time"

// Names and texts of the sample report, for assertions.
const (
	sampleFailing     = "a killed phone gets a push <fast> & \"soon\""
	sampleFailingFile = "scenarios/library/99-failing.yaml"
	samplePassing     = "a foreground phone gets the message live"
	sampleSetup       = "a scenario whose setup fails"
	sampleStepError   = "a scenario whose step cannot land"
	sampleFailedText  = "a push saying \"<b>hi</b>\" on alice-phone within 5s"
	sampleSeen        = "no push; latest trace <online> & more"
	sampleReplay      = "pushsim run --seed 7 scenarios/library"
	sampleInvariant   = "pushes stay within the caps"
	sampleEvidence    = "alice-phone: 3 pushes within 80ms, over a burst of <2> & one per 20s"
	sampleNoTap       = "the remote relay's core cannot be tapped"
)

func ptr[T any](v T) *T { return &v }

// Device states as the simulator records them with events.
var (
	stInstalled = DeviceState{Installed: true, App: "not-running", NetUp: true}
	stLoggingIn = DeviceState{Installed: true, App: "foreground", Credentials: true, NetUp: true}
	stLoggedIn  = DeviceState{Installed: true, App: "foreground", Credentials: true, LoggedIn: true, NetUp: true}
	stOffline   = DeviceState{Installed: true, App: "foreground", Credentials: true, LoggedIn: true}
	stKilled    = DeviceState{Installed: true, App: "not-running", Credentials: true, NetUp: true}
	stRefused   = DeviceState{Installed: true, App: "foreground", NetUp: true}
)

// withState gives an event the state recorded with it.
func withState(s DeviceState, e Event) Event {
	e.State = &s
	return e
}

// SampleReport is a run of four scenarios, as a runner fills them: one passing, one with a failed
// expectation and a broken invariant (two devices, a push that arrived, one FCM collapsed), one
// whose setup failed and one with a step that could not land (on a world the invariant oracle
// could not watch). Texts carry characters that HTML and XML must escape.
func SampleReport() *Report {
	started := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	r := &Report{Schema: SchemaVersion, Run: Run{Seed: 7, Mode: "virtual", Command: "pushsim run --seed 7 --out out scenarios/library",
		Replay: sampleReplay, Version: "(devel)", GoVersion: "go1.26", Host: "bench", Started: started,
		Finished: started.Add(2 * time.Second), WallSeconds: 2,
		ScenarioWallSeconds: map[string]float64{sampleFailingFile: 0.002}}}
	r.Scenarios = []Scenario{
		{
			Name: samplePassing, File: "scenarios/library/98-passing.yaml", Passed: true, DurationMs: 5340,
			Steps: []Step{
				{Index: 1, Kind: "login", Line: 8, Column: 5, AtMs: 40, Text: "alice-phone logs in as alice", Device: "alice-phone"},
				{Index: 2, Kind: "send", Line: 9, Column: 5, AtMs: 200, Text: "alice-phone sends \"yo\" to alice", Device: "alice-phone"},
				{Index: 3, Kind: "expect", Line: 10, Column: 5, AtMs: 240, Text: "expect \"yo\" delivered live to alice-phone within 5s"},
			},
			Expectations: []Expectation{{Step: 3, Device: "alice-phone", Kind: "delivered", Text: "\"yo\" delivered live to alice-phone within 5s",
				Held: true, Seen: "msg \"yo\" at 260ms", FromMs: 240, ToMs: 340}},
			Devices: []Device{{ID: "alice-phone", User: "alice", Events: []Event{
				withState(stInstalled, Event{AtMs: 0, Kind: "lifecycle", Detail: "install"}),
				withState(stLoggingIn, Event{AtMs: 40, Kind: "lifecycle", Detail: "login"}),
				withState(stLoggedIn, Event{AtMs: 120, Kind: "connected"}),
				withState(stLoggedIn, Event{AtMs: 260, Kind: "msg", Seq: 1, Title: "alice", Text: "yo", LatencyMs: ptr[int64](20)}),
			}}},
			Trace:  []TraceEntry{{AtMs: 240, User: "alice", Device: "alice-phone", Seq: 1, Reason: "online"}},
			FCM:    []FCMMessage{},
			Oracle: &Oracle{Ran: true, Violations: []Violation{}},
		},
		{
			Name: sampleFailing, File: sampleFailingFile, Description: "The killed phone must be pushed.", DurationMs: 3_600_000 + 5545,
			Steps: []Step{
				{Index: 1, Kind: "login", Line: 11, Column: 5, AtMs: 40, Text: "alice-phone logs in as alice", Device: "alice-phone"},
				{Index: 2, Kind: "login", Line: 12, Column: 5, AtMs: 160, Text: "bob-phone logs in as bob", Device: "bob-phone"},
				{Index: 3, Kind: "kill", Line: 13, Column: 5, AtMs: 280, Text: "alice-phone: swiped away (killed)", Device: "alice-phone"},
				{Index: 4, Kind: "send", Line: 14, Column: 5, AtMs: 300, Text: "bob-phone sends \"hi\" to alice"},
				{Index: 5, Kind: "expect", Line: 15, Column: 5, AtMs: 340, Text: "expect a push"},
				{Index: 6, Kind: "wait", Line: 16, Column: 5, AtMs: 545, Text: "wait 1h"},
				{Index: 7, Kind: "expect", Line: 17, Column: 5, AtMs: 3_600_545, Text: "expect " + sampleFailedText},
			},
			Expectations: []Expectation{
				{Step: 5, Device: "alice-phone", Kind: "push", Text: "a push titled \"bob\" saying \"hi\" on alice-phone within 5s",
					Held: true, Seen: "1 push(es): \"bob\"/\"hi\" at 545ms", FromMs: 340, ToMs: 545},
				{Step: 7, Device: "alice-phone", Kind: "push", Text: sampleFailedText, Held: false, Seen: sampleSeen,
					FromMs: 3_600_545, ToMs: 3_605_545},
			},
			Devices: []Device{
				{ID: "alice-phone", User: "alice", Events: []Event{
					withState(stInstalled, Event{AtMs: 0, Kind: "lifecycle", Detail: "install"}),
					withState(stInstalled, Event{AtMs: 40, Kind: "token", Detail: "p4T2…"}),
					withState(stLoggingIn, Event{AtMs: 40, Kind: "lifecycle", Detail: "login"}),
					withState(stLoggedIn, Event{AtMs: 120, Kind: "connected"}),
					withState(stKilled, Event{AtMs: 280, Kind: "lifecycle", Detail: "kill"}),
					withState(stKilled, Event{AtMs: 545, Kind: "push", Title: "bob", Text: "hi", Detail: "0:1%1", Conv: "c2c_bob", LatencyMs: ptr[int64](220)}),
					withState(stKilled, Event{AtMs: 560, Kind: "push", Title: "bob", Text: "hi", Detail: "0:1%1", LatencyMs: ptr[int64](235)}),
				}},
				{ID: "bob-phone", User: "bob", Events: []Event{
					withState(stInstalled, Event{AtMs: 0, Kind: "lifecycle", Detail: "install"}),
					withState(stLoggingIn, Event{AtMs: 160, Kind: "lifecycle", Detail: "login"}),
					withState(stLoggedIn, Event{AtMs: 240, Kind: "connected"}),
					withState(stOffline, Event{AtMs: 1000, Kind: "lifecycle", Detail: "netLoss"}),
					withState(stLoggingIn, Event{AtMs: 2000, Kind: "lifecycle", Detail: "netRestore"}), // the app dials again
				}},
			},
			Trace: []TraceEntry{
				{AtMs: 320, User: "alice", Device: "alice-phone", Seq: 1, Reason: "pushed", PushID: 1, Attempt: 1},
				{AtMs: 330, User: "alice", Device: "alice-phone", Seq: 1, Reason: "fcm-ok", PushID: 1, Attempt: 1},
				{AtMs: 320, User: "bob", Device: "bob-phone", Seq: 1, Reason: "online"},
			},
			FCM: []FCMMessage{
				{Seq: 1, Device: "alice-phone", API: "v1", ReceivedAtMs: 325, Fate: "delivered", FateAtMs: ptr[int64](565),
					Title: "bob", Body: "hi", Attempts: 2},
				{Seq: 2, Device: "alice-phone", API: "v1", ReceivedAtMs: 400, Fate: "collapsed", FateAtMs: ptr[int64](410),
					Title: "bob", Body: "hi again"},
			},
			Oracle: &Oracle{Ran: true, Violations: []Violation{{Invariant: sampleInvariant, Step: 4, AtMs: 320, Device: "alice-phone",
				Evidence: sampleEvidence}}},
		},
		{
			Name: sampleSetup, File: "scenarios/library/97-setup.yaml", Error: "setup: certificate 6768: <refused>",
			Steps: []Step{}, Expectations: []Expectation{}, Devices: []Device{}, Trace: []TraceEntry{}, FCM: []FCMMessage{},
		},
		{
			Name: sampleStepError, File: "scenarios/library/96-step.yaml", DurationMs: 10040,
			Steps: []Step{{Index: 1, Kind: "login", Line: 7, Column: 5, AtMs: 40, Text: "carol-phone logs in as carol", Device: "carol-phone",
				Error: "carol-phone did not log in within 10s: 2002 UserSig forged"}},
			Expectations: []Expectation{},
			Devices: []Device{{ID: "carol-phone", User: "carol", Events: []Event{
				withState(stInstalled, Event{AtMs: 0, Kind: "lifecycle", Detail: "install"}),
				withState(stLoggingIn, Event{AtMs: 40, Kind: "lifecycle", Detail: "login"}),
				withState(stRefused, Event{AtMs: 120, Kind: "refused", Detail: "login: 2002 UserSig forged"}),
			}}},
			Trace: []TraceEntry{}, FCM: []FCMMessage{},
			Oracle: &Oracle{NotRunWhy: sampleNoTap, Violations: []Violation{}},
		},
	}
	Complete(r)
	return r
}
