package sim

import "time"

// AppState is what the app process is doing.
type AppState string

// App states.
const (
	AppNotRunning AppState = "not-running"
	AppForeground AppState = "foreground"
	AppBackground AppState = "background"
)

// ObsKind names an observation.
type ObsKind string

// What a device observes.
const (
	ObsLifecycle ObsKind = "lifecycle" // a lifecycle step: install, kill, netLoss, …
	ObsPush      ObsKind = "push"      // a notification arrived through FCM
	ObsDeleted   ObsKind = "deleted"   // FCM said messages were deleted (onDeletedMessages)
	ObsMsg       ObsKind = "msg"       // a message arrived live on the app connection
	ObsSynced    ObsKind = "synced"    // a message arrived by sync
	ObsDuplicate ObsKind = "duplicate" // a message the app already had arrived again
	ObsKicked    ObsKind = "kicked"    // the relay kicked the device
	ObsRefused   ObsKind = "refused"   // the relay refused a request (code and desc in Detail)
	ObsConnected ObsKind = "connected" // the app logged in on a new connection
	ObsClosed    ObsKind = "closed"    // the app's connection ended
	ObsToken     ObsKind = "token"     // FCM issued a token
	// ObsForgot: the app's connection or session ended, or its process died, while it held acks
	// (Device.HoldAcks): it forgot the messages it never acknowledged, to sync them again. Seq is
	// the newest message it kept.
	ObsForgot ObsKind = "forgot"
)

// Observation is one thing a device saw, with the time it saw it.
type Observation struct {
	At     time.Time `json:"at"`
	Kind   ObsKind   `json:"kind"`
	Seq    uint64    `json:"seq,omitempty"`
	Title  string    `json:"title,omitempty"`
	Text   string    `json:"text,omitempty"`
	Conv   string    `json:"conv,omitempty"`
	Detail string    `json:"detail,omitempty"`
	// Sent is when the message was sent (push: FCM's sentTime; msg: the relay's time), for
	// latency figures.
	Sent time.Time `json:"sent,omitzero"`
	// Badge is a push's notification count.
	Badge int `json:"badge,omitempty"`
	// CollapseKey and Data are a push's collapse key and data payload, as FCM delivered them.
	CollapseKey string            `json:"collapseKey,omitempty"`
	Data        map[string]string `json:"data,omitempty"`
	// ChannelID, Sound and ClickAction are a push's Android notification channel, sound and tap
	// action: the notification's, or for a silent push what its data carries for the app.
	ChannelID   string `json:"channelId,omitempty"`
	Sound       string `json:"sound,omitempty"`
	ClickAction string `json:"clickAction,omitempty"`
	// Silent marks a data-only push: FCM handed it to the app's handler (onMessageReceived),
	// the tray got nothing; Title, Text and Badge are what its data carries for the app.
	Silent bool `json:"silent,omitempty"`
	// State is the device's state once it has taken the observation in: what a kill, a kick or a
	// closed connection left, for instance.
	State DeviceState `json:"state"`
}

// DeviceState is what a device is at one moment: whether its app is installed and running,
// whether the user is logged in on it, whether it has network.
type DeviceState struct {
	Installed bool     `json:"installed,omitempty"`
	App       AppState `json:"app"`
	// ForceStopped is true from a force-stop until the app runs again: FCM holds its pushes.
	ForceStopped bool `json:"forceStopped,omitempty"`
	// Credentials is true while the user is logged in on the phone: the app logs in by itself
	// whenever it runs (kept across kills, cleared by a logout, a kick, a refused login or an
	// uninstall).
	Credentials bool `json:"credentials,omitempty"`
	// LoggedIn is true while the relay has accepted the app's login on its current connection.
	LoggedIn bool `json:"loggedIn,omitempty"`
	// NetUp is true while the phone has network.
	NetUp bool `json:"netUp,omitempty"`
}
