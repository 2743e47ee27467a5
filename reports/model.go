// Package reports turns runs into what people and CI read: report.json (the model below,
// versioned), junit.xml, and a self-contained report.html.
//
// Everything that varies between two runs with the same seed — wall-clock times, host, durations —
// lives in the top-level Run object; the rest of a virtual-mode report is identical run to run.
// Times inside scenarios are milliseconds from the scenario's start (virtual time in the virtual
// mode).
package reports

import "time"

// SchemaVersion names the report.json format.
const SchemaVersion = "pushlab.report/v1"

// Report is one run of pushsim: scenarios (pushsim run) or a load test (pushsim load).
type Report struct {
	Schema    string     `json:"schema"`
	Run       Run        `json:"run"`
	Scenarios []Scenario `json:"scenarios,omitempty"`
	Totals    Totals     `json:"totals"`
	Load      *Load      `json:"load,omitempty"`
}

// Run holds what differs between runs of the same seed.
type Run struct {
	Seed      uint64    `json:"seed"`
	Mode      string    `json:"mode"` // "virtual", "live" or "remote"
	Command   string    `json:"command"`
	Replay    string    `json:"replay"` // the command that replays this run
	Version   string    `json:"version"`
	GoVersion string    `json:"goVersion"`
	Host      string    `json:"host"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	// WallSeconds is the run's wall time; ScenarioWallSeconds each scenario's, by file.
	WallSeconds         float64            `json:"wallSeconds"`
	ScenarioWallSeconds map[string]float64 `json:"scenarioWallSeconds,omitempty"`
}

// Scenario is one scenario's outcome.
type Scenario struct {
	Name string `json:"name"`
	File string `json:"file"`
	// Description is the scenario file's description: why the behaviour matters.
	Description string `json:"description,omitempty"`
	Passed      bool   `json:"passed"`
	// Error is set when the scenario could not run (setup failed, or NotRun).
	Error string `json:"error,omitempty"`
	// NotRun marks a scenario that was not run because the world it was to run on cannot honour
	// one of its settings (Error says which, at its file:line): neither passed nor failed.
	NotRun bool `json:"notRun,omitempty"`
	// DurationMs is how long the scenario ran in its own time (virtual time in virtual mode).
	DurationMs   int64         `json:"durationMs"`
	Steps        []Step        `json:"steps"`
	Expectations []Expectation `json:"expectations"`
	Devices      []Device      `json:"devices"`
	// Trace is the relay's push trace for the scenario's users.
	Trace []TraceEntry `json:"trace"`
	// FCM is what fakefcm recorded: every message with its true fate.
	FCM []FCMMessage `json:"fcm"`
	// Oracle is what the invariant oracle found: it holds the relay to DESIGN.md §7 during and at
	// the end of every run whose world can tap the relay. Absent from scenarios not run and from
	// reports written before it existed.
	Oracle *Oracle `json:"oracle,omitempty"`
	// Pushes follow each FCM message to its device: fate and arrival side by side. Derived from
	// FCM and Devices by LinkPushes, once, when the scenario is first summed up (a scenario that
	// has them keeps them); absent from reports written before it existed, which are linked when
	// read back and completed.
	Pushes []Push `json:"pushes,omitempty"`
	Totals Totals `json:"totals"`
}

// Step is one step as it ran.
type Step struct {
	Index  int    `json:"index"` // from 1
	Kind   string `json:"kind"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	AtMs   int64  `json:"atMs"`
	Text   string `json:"text"` // what it did, in words
	Device string `json:"device,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Expectation is one expectation and whether it held.
type Expectation struct {
	Step   int    `json:"step"`
	Device string `json:"device"`
	Kind   string `json:"kind"` // push, noPush, delivered, synced, kicked, trace
	Text   string `json:"text"` // what it expected, in words
	Held   bool   `json:"held"`
	Seen   string `json:"seen"` // what was seen (instead)
	FromMs int64  `json:"fromMs"`
	ToMs   int64  `json:"toMs"`
	// DeliveryNotObservable marks a push or noPush expectation judged from the relay's push trace
	// (FCM accepted the push, or did not) because the phone's FCM could not be watched (a remote
	// relay on Google's FCM): whether, and when, a push reached the phone is not known.
	DeliveryNotObservable bool `json:"deliveryNotObservable,omitempty"`
}

// Oracle is the invariant oracle's outcome in one scenario run.
type Oracle struct {
	// Ran is false when the world has no tap (a remote relay): NotRunWhy says so, and the
	// scenario is judged by its expectations alone.
	Ran       bool   `json:"ran"`
	NotRunWhy string `json:"notRunWhy,omitempty"`
	// Violations are the invariants it saw broken, first first; any fails the scenario.
	Violations []Violation `json:"violations"`
}

// Violation is one broken invariant.
type Violation struct {
	// Invariant names it (DESIGN.md §7, in words).
	Invariant string `json:"invariant"`
	// Step is the step during which it was found (the last one started before it; 0: during
	// setup); AtEnd marks those found by the end-of-run checks, after the last step.
	Step  int   `json:"step"`
	AtEnd bool  `json:"atEnd,omitempty"`
	AtMs  int64 `json:"atMs"`
	// Device is the device concerned, if one is.
	Device string `json:"device,omitempty"`
	// Evidence says what happened, in words.
	Evidence string `json:"evidence"`
}

// Device is one device's timeline.
type Device struct {
	ID     string  `json:"id"`
	User   string  `json:"user"`
	Events []Event `json:"events"`
}

// Event is something a device observed.
type Event struct {
	AtMs  int64  `json:"atMs"`
	Kind  string `json:"kind"` // lifecycle, push, msg, synced, duplicate, kicked, refused, connected, closed, token, deleted, forgot (messages taken in but never acknowledged, dropped when the app let go of them)
	Seq   uint64 `json:"seq,omitempty"`
	Title string `json:"title,omitempty"`
	Text  string `json:"text,omitempty"`
	// Detail is, for a lifecycle event, the step (install, kill, background (unread 3), …); for a
	// push, FCM's message ID; otherwise what the device was told.
	Detail string `json:"detail,omitempty"`
	// Conv is the conversation of a push or a message; Badge a push's notification count.
	Conv  string `json:"conv,omitempty"`
	Badge int    `json:"badge,omitempty"`
	// CollapseKey and Data are a push's collapse key and data payload, as the device got them.
	CollapseKey string            `json:"collapseKey,omitempty"`
	Data        map[string]string `json:"data,omitempty"`
	// ChannelID and ClickAction are a push's Android channel and tap action; Silent marks a
	// data-only push, handed to the app rather than the tray.
	ChannelID   string `json:"channelId,omitempty"`
	ClickAction string `json:"clickAction,omitempty"`
	Silent      bool   `json:"silent,omitempty"`
	// LatencyMs is, for a push or a message, the time from its sending to its arrival.
	LatencyMs *int64 `json:"latencyMs,omitempty"`
	// State is the device's state once it had taken the event in, as the simulator recorded it;
	// absent from reports written before devices recorded their states.
	State *DeviceState `json:"state,omitempty"`
}

// DeviceState is a device's state as the simulator recorded it: what its swimlane's bands draw.
type DeviceState struct {
	Installed bool `json:"installed,omitempty"`
	// App is not-running, foreground or background.
	App string `json:"app"`
	// ForceStopped is true from a force-stop until the app runs again: FCM holds its pushes.
	ForceStopped bool `json:"forceStopped,omitempty"`
	// Credentials is true while the user is logged in on the phone (kept across kills).
	Credentials bool `json:"credentials,omitempty"`
	// LoggedIn is true while the relay has accepted the app's login on its current connection.
	LoggedIn bool `json:"loggedIn,omitempty"`
	// NetUp is true while the phone has network.
	NetUp bool `json:"netUp,omitempty"`
}

// TraceEntry is one relay push-trace entry.
type TraceEntry struct {
	AtMs    int64    `json:"atMs"`
	User    string   `json:"user"`
	Device  string   `json:"device"`
	Seq     uint64   `json:"seq,omitempty"`
	Seqs    []uint64 `json:"seqs,omitempty"`
	Reason  string   `json:"reason"`
	PushID  uint64   `json:"pushId,omitempty"`
	Attempt int      `json:"attempt,omitempty"`
	Detail  string   `json:"detail,omitempty"`
	// MsgID is the relay's message ID; CertificateID the certificate pushed through; FCMName the
	// FCM message name once FCM accepted the push (matches FCMMessage.Name).
	MsgID         string `json:"msgId,omitempty"`
	CertificateID int64  `json:"certificateId,omitempty"`
	FCMName       string `json:"fcmName,omitempty"`
}

// FCMMessage is one message fakefcm recorded.
type FCMMessage struct {
	Seq          int64  `json:"seq"`
	Device       string `json:"device,omitempty"`
	API          string `json:"api"`
	ReceivedAtMs int64  `json:"receivedAtMs"`
	Fate         string `json:"fate"`
	FateAtMs     *int64 `json:"fateAtMs,omitempty"`
	Error        string `json:"error,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Title        string `json:"title,omitempty"`
	Body         string `json:"body,omitempty"`
	Attempts     int    `json:"attempts,omitempty"`
	Throttle     string `json:"throttle,omitempty"`
	// Name is the v1 message name (projects/P/messages/ID) and MessageID the ID the device sees
	// (Event.Detail of its push); both empty for a refused send.
	Name      string `json:"name,omitempty"`
	MessageID string `json:"messageId,omitempty"`
	// CollapseKey is the message's collapse key (the conversation, for the relay's pushes).
	CollapseKey string `json:"collapseKey,omitempty"`
	// ChannelID is the Android notification's channel; DataOnly marks a message without a
	// notification (the relay's silent push).
	ChannelID string `json:"channelId,omitempty"`
	DataOnly  bool   `json:"dataOnly,omitempty"`
	// DispatchedAtMs is the last time the message left for the device, DeliveredAtMs when the
	// device acknowledged it; ThrottledForMs how long a throttle held it.
	DispatchedAtMs *int64 `json:"dispatchedAtMs,omitempty"`
	DeliveredAtMs  *int64 `json:"deliveredAtMs,omitempty"`
	ThrottledForMs int64  `json:"throttledForMs,omitempty"`
}

// Push is one message the relay handed to FCM, followed to the device: what fakefcm did with it
// and when it arrived. It joins an FCMMessage with the device's push events.
type Push struct {
	// FCMSeq is the FCMMessage's Seq.
	FCMSeq int64  `json:"fcmSeq"`
	Device string `json:"device,omitempty"`
	Title  string `json:"title,omitempty"`
	Body   string `json:"body,omitempty"`
	// SentAtMs is when fakefcm received the send.
	SentAtMs int64  `json:"sentAtMs"`
	Fate     string `json:"fate"`
	FateAtMs *int64 `json:"fateAtMs,omitempty"`
	// Error is FCM's error code for a refused send.
	Error string `json:"error,omitempty"`
	// ArrivedAtMs is its first arrival on the device, LatencyMs the time from its sending to
	// then; Arrivals counts arrivals (more than one: a duplicate). All empty if it never arrived.
	ArrivedAtMs *int64 `json:"arrivedAtMs,omitempty"`
	LatencyMs   *int64 `json:"latencyMs,omitempty"`
	Arrivals    int    `json:"arrivals,omitempty"`
}

// Totals sum up a scenario or a run.
type Totals struct {
	Scenarios    int `json:"scenarios,omitempty"`
	Passed       int `json:"passed,omitempty"`
	Failed       int `json:"failed,omitempty"`
	NotRun       int `json:"notRun,omitempty"`
	Expectations int `json:"expectations"`
	Held         int `json:"held"`
	// Violations counts broken invariants the oracle found.
	Violations int `json:"violations,omitempty"`
	// PushesSent counts sends the relay made to FCM that FCM accepted; PushesDelivered those that
	// reached a device (FCM recorded them delivered, or the device saw them arrive);
	// DeliveryRatio their quotient.
	PushesSent      int     `json:"pushesSent"`
	PushesDelivered int     `json:"pushesDelivered"`
	DeliveryRatio   float64 `json:"deliveryRatio"`
	// Duplicates counts pushes a device received more than once (FCM is at-least-once).
	Duplicates int `json:"duplicates"`
	// Reasons counts push-trace entries by reason.
	Reasons map[string]int `json:"reasons"`
	// Fates counts FCM messages by their fate at fakefcm (delivered, collapsed, loss, rejected, …).
	Fates map[string]int `json:"fates,omitempty"`
	// PushLatencyMs are percentiles of send-to-arrival latency of pushes.
	PushLatencyMs Percentiles `json:"pushLatencyMs"`
	// LatencyHistogram counts push latencies in buckets (upper bounds in ms).
	LatencyHistogram []Bucket `json:"latencyHistogram,omitempty"`
}

// Percentiles of a distribution, in milliseconds.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Bucket is one histogram bucket.
type Bucket struct {
	UpToMs float64 `json:"upToMs"`
	Count  int     `json:"count"`
}

// Load is the outcome of pushsim load.
type Load struct {
	Devices   int `json:"devices"`
	Connected int `json:"connected"` // at the end, killed phones gone
	// PeakConnected is the most connections the relay held at once (phones and senders).
	PeakConnected int `json:"peakConnected"`
	// Messages counts the sends the relay acknowledged; Pushes the pushes that reached killed
	// phones' FCM channels.
	Messages                int         `json:"messages"`
	Pushes                  int         `json:"pushes"`
	MessagesPerSecond       float64     `json:"messagesPerSecond"`
	PushesPerSecond         float64     `json:"pushesPerSecond"`
	PushLatencyMs           Percentiles `json:"pushLatencyMs"`
	RelayBytesPerConnection float64     `json:"relayBytesPerConnection"`
	Errors                  int         `json:"errors"`
	// FirstError says what went wrong first, when Errors is not zero.
	FirstError string   `json:"firstError,omitempty"`
	Series     []Sample `json:"series,omitempty"`
	// Nodes is how many relay processes the run started (a cluster's nodes; 0 for a relay
	// already running); LoadProcesses how many processes held the phones (live runs).
	Nodes         int `json:"nodes,omitempty"`
	LoadProcesses int `json:"loadProcesses,omitempty"`
}

// Sample is one point of a load test's time series.
type Sample struct {
	AtMs      int64   `json:"atMs"`
	Connected int     `json:"connected"`
	Messages  float64 `json:"messagesPerSecond"`
	Pushes    float64 `json:"pushesPerSecond"`
	P99Ms     float64 `json:"p99Ms"`
}
