// Package scenarios holds the scenario file format (YAML), its validation, and the runner that
// plays scenarios against simulated devices, in virtual time or live. A scenario names devices and
// a list of steps — lifecycle transitions, sends, faults, waits — and expectations checked
// against what the devices observed.
package scenarios

import (
	"strings"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
)

// Scenario is one scenario file.
type Scenario struct {
	// Name says what behaviour the scenario checks.
	Name        string `yaml:"name" json:"name" jsonschema:"required"`
	Description string `yaml:"description" json:"description,omitempty"`
	// Apps default to one app, 1400000001, single-platform, default caps.
	Apps []App `yaml:"apps" json:"apps,omitempty"`
	// Certificates default to one HTTP v1 certificate, 6768, for the first app, on a fakefcm
	// project.
	Certificates []Certificate `yaml:"certificates" json:"certificates,omitempty"`
	// FCM is fakefcm's behaviour: latency, jitter, loss, throttles.
	FCM fakefcm.Behaviour `yaml:"fcm" json:"fcm,omitzero"`
	// Relay overrides the relay's rules: heartbeatDeadline, heartbeatInterval, pushTTL, retry.
	Relay relay.Config `yaml:"relay" json:"relay,omitzero"`
	// Network is the link between the devices and the relay.
	Network Network  `yaml:"network" json:"network,omitzero"`
	Devices []Device `yaml:"devices" json:"devices" jsonschema:"required"`
	// Replay pins the run to a property test's: its seed, and steps applied back to back.
	Replay *Replay `yaml:"replay" json:"replay,omitempty"`
	// Cluster runs the scenario on the cluster twin: a relay cluster of that many nodes and
	// partitions in virtual time, whose nodes the node steps kill, restart, pause and cut off.
	Cluster *Cluster `yaml:"cluster" json:"cluster,omitempty"`
	Steps   []Step   `yaml:"steps" json:"steps" jsonschema:"required"`

	// File is where the scenario was read from.
	File string `yaml:"-" json:"-"`
	// src is the file's text, for the positions of settings a world refuses.
	src []byte
}

// App is an app (SDKAppID) of the scenario.
type App struct {
	SDKAppID    uint64            `yaml:"sdkAppId" json:"sdkAppId" jsonschema:"required"`
	Name        string            `yaml:"name" json:"name,omitempty"`
	LoginPolicy relay.LoginPolicy `yaml:"loginPolicy" json:"loginPolicy,omitempty" jsonschema:"enum=multi,enum=single-platform,enum=single"`
	Caps        relay.Caps        `yaml:"caps" json:"caps,omitzero"`
	// DefaultLocale and PushTemplates are the app's texts for the pushes the relay writes
	// (README "Admin API"): templates keyed by locale, with summaryTitle, summaryBody ({count})
	// and groupTitle ({nickname}, {group}).
	DefaultLocale string                        `yaml:"defaultLocale" json:"defaultLocale,omitempty"`
	PushTemplates map[string]relay.PushTemplate `yaml:"pushTemplates" json:"pushTemplates,omitempty"`
	// SecretKey signs the devices' UserSigs: it is the app's secret on the relay (pushsim's own
	// when left out). Against a relay whose apps exist already (no --fcm) it is required, and
	// usually written "${APP_SECRET}".
	SecretKey string `yaml:"secretKey" json:"secretKey,omitempty"`
}

// Certificate is a push certificate of the scenario.
type Certificate struct {
	ID          int64  `yaml:"id" json:"id" jsonschema:"required"`
	App         uint64 `yaml:"app" json:"app,omitempty"`
	PackageName string `yaml:"packageName" json:"packageName,omitempty"`
	// API is "v1" (a service account, the default) or "legacy" (a server key).
	API string `yaml:"api" json:"api,omitempty" jsonschema:"enum=v1,enum=legacy"`
	// ChannelID is the certificate's default Android notification channel.
	ChannelID string `yaml:"channelId" json:"channelId,omitempty"`
}

// Network is the simulated network between devices and the relay.
type Network struct {
	// Latency is one way; Jitter adds a uniformly drawn extra delay; Loss drops frames.
	Latency duration.Duration `yaml:"latency" json:"latency,omitempty"`
	Jitter  duration.Duration `yaml:"jitter" json:"jitter,omitempty"`
	Loss    float64           `yaml:"loss" json:"loss,omitempty"`
}

// Cluster is the relay cluster a scenario runs on (the cluster twin). Its nodes are named n1,
// n2, …; a device connects to the node of its place in devices (the first to n1, …), and to the
// next live one when that node is down.
type Cluster struct {
	// Nodes is the node count (3 when zero); Partitions the partition count (16 when zero).
	Nodes      int `yaml:"nodes" json:"nodes,omitempty" jsonschema:"minimum=1"`
	Partitions int `yaml:"partitions" json:"partitions,omitempty" jsonschema:"minimum=1"`
	// LeaseTTL and RenewEvery are the nodes' lease timing (6s and 1s when left out).
	LeaseTTL   duration.Duration `yaml:"leaseTTL,omitempty" json:"leaseTTL,omitempty"`
	RenewEvery duration.Duration `yaml:"renewEvery,omitempty" json:"renewEvery,omitempty"`
}

// Replay makes a run replay another exactly: what the property tests write for a counterexample.
type Replay struct {
	// Seed is the world's seed: it replaces pushsim run's --seed, and a --seed given that
	// disagrees is refused.
	Seed *uint64 `yaml:"seed,omitempty" json:"seed,omitempty"`
	// Settle false applies the steps back to back, as a property does: no step waits to land,
	// time passes only in wait (and expect) steps, and provisioning lets exactly one second
	// pass after the devices are added. Virtual world only (nothing else is deterministic).
	// Default true: each step settles (see README "Format").
	Settle *bool `yaml:"settle,omitempty" json:"settle,omitempty"`
	// Settled says the steps end with the world settled (faults cleared, networks back, hours
	// of quiet, apps relaunched): the oracle then also checks that every message for a killed
	// device ended pushed or explained, and every push was answered (invariant 5's second half).
	Settled bool `yaml:"settled,omitempty" json:"settled,omitempty"`
}

// settles says whether each step waits to land before the next (the default).
func (sc *Scenario) settles() bool {
	return sc.Replay == nil || sc.Replay.Settle == nil || *sc.Replay.Settle
}

// Device is a simulated Android phone with the app.
type Device struct {
	ID       string `yaml:"id" json:"id" jsonschema:"required"`
	User     string `yaml:"user" json:"user" jsonschema:"required"`
	Platform string `yaml:"platform" json:"platform,omitempty"`
	// Locale is the phone's language, sent with every login (a BCP 47 tag such as zh-CN).
	Locale string `yaml:"locale" json:"locale,omitempty"`
	// App and Certificate default to the first app and its first certificate.
	App         uint64 `yaml:"app" json:"app,omitempty"`
	Certificate int64  `yaml:"certificate" json:"certificate,omitempty"`
	// Installed is false for a phone that has not installed the app yet (default true).
	Installed *bool `yaml:"installed" json:"installed,omitempty"`
	// Token is a fixed FCM token the app reports instead of registering with fakefcm: a real
	// phone's (usually "${PHONE_TOKEN}"), so that a person sees the notification arrive. No push
	// is observed on such a device: a push expectation is judged from the relay's trace.
	Token string `yaml:"token" json:"token,omitempty"`
}

// Pos is where something is in a scenario file.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// StepKind names a step.
type StepKind string

// The steps.
const (
	StepInstall       StepKind = "install"
	StepLaunch        StepKind = "launch"
	StepLogin         StepKind = "login"
	StepReportToken   StepKind = "reportToken"
	StepForeground    StepKind = "foreground"
	StepBackground    StepKind = "background"
	StepKill          StepKind = "kill"
	StepForceStop     StepKind = "forceStop"
	StepNetLoss       StepKind = "netLoss"
	StepNetRestore    StepKind = "netRestore"
	StepRelaunch      StepKind = "relaunch"
	StepLogout        StepKind = "logout"
	StepKick          StepKind = "kick"
	StepUninstall     StepKind = "uninstall"
	StepTokenRefresh  StepKind = "tokenRefresh"
	StepTap           StepKind = "tap"
	StepSwitchUser    StepKind = "switchUser"
	StepHoldAcks      StepKind = "holdAcks"
	StepReleaseAcks   StepKind = "releaseAcks"
	StepSend          StepKind = "send"
	StepSendGroup     StepKind = "sendGroup"
	StepCreateGroup   StepKind = "createGroup"
	StepSetReceiveOpt StepKind = "setReceiveOpt"
	StepPushSettings  StepKind = "pushSettings"
	StepProfile       StepKind = "profile"
	StepFault         StepKind = "fault"
	StepRestartRelay  StepKind = "restartRelay"
	StepNetwork       StepKind = "network"
	StepWait          StepKind = "wait"
	StepExpect        StepKind = "expect"
	// The node steps, for a scenario on the cluster twin (cluster:).
	StepKillNode      StepKind = "killNode"
	StepRestartNode   StepKind = "restartNode"
	StepPauseNode     StepKind = "pauseNode"
	StepPartitionNode StepKind = "partitionNode"
)

// NodeSteps are the steps that act on a relay node.
var NodeSteps = []StepKind{StepKillNode, StepRestartNode, StepPauseNode, StepPartitionNode}

// DeviceSteps are the steps that act on one device, written `step: DEVICE` or
// `step: {device: DEVICE, …}`.
var DeviceSteps = []StepKind{StepInstall, StepLaunch, StepLogin, StepReportToken, StepForeground,
	StepBackground, StepKill, StepForceStop, StepNetLoss, StepNetRestore, StepRelaunch, StepLogout,
	StepUninstall, StepTokenRefresh, StepTap, StepHoldAcks, StepReleaseAcks}

// AllSteps lists every step kind, in the order the README documents them.
var AllSteps = append(append([]StepKind{}, DeviceSteps...), StepSwitchUser, StepKick, StepSend, StepSendGroup,
	StepCreateGroup, StepSetReceiveOpt, StepPushSettings, StepProfile, StepFault, StepNetwork, StepRestartRelay, StepKillNode, StepRestartNode,
	StepPauseNode, StepPartitionNode, StepWait, StepExpect)

// Step is one step: a one-key map in the file. Which fields are set depends on Kind.
type Step struct {
	Kind StepKind `json:"kind"`
	Pos  Pos      `json:"pos"`

	// Device is the device a device step acts on.
	Device string `json:"device,omitempty"`
	// ReportToken (login) is false to log in without reporting the push token.
	ReportToken *bool `json:"reportToken,omitempty"`
	// Unread (background) seeds the badge count.
	Unread int `json:"unread,omitempty"`
	// User (kick) is the user the administrator kicks; (switchUser) the phone's next user.
	User string `json:"user,omitempty"`
	// Count (releaseAcks) is how many held acks the app sends; 0 sends them all. Reverse sends
	// the newest first.
	Count   int  `json:"count,omitempty"`
	Reverse bool `json:"reverse,omitempty"`

	Send        *SendStep        `json:"send,omitempty"`
	CreateGroup *CreateGroupStep `json:"createGroup,omitempty"`
	ReceiveOpt  *ReceiveOptStep  `json:"setReceiveOpt,omitempty"`
	// PushSettings turns a user's pushes on or off.
	PushSettings *PushSettingsStep `json:"pushSettings,omitempty"`
	Profile      *ProfileStep      `json:"profile,omitempty"`
	Fault        *FaultStep        `json:"fault,omitempty"`
	Network      *NetworkStep      `json:"network,omitempty"`
	// Node is what a node step acts on.
	Node *NodeStep `json:"node,omitempty"`
	// Wait is how long a wait step lets time pass.
	Wait   duration.Duration `json:"wait,omitempty"`
	Expect *Expect           `json:"expect,omitempty"`
}

// DeviceStep is the long form of a device step.
type DeviceStep struct {
	Device      string `yaml:"device" json:"device" jsonschema:"required"`
	ReportToken *bool  `yaml:"reportToken,omitempty" json:"reportToken,omitempty"`
	Unread      int    `yaml:"unread,omitempty" json:"unread,omitempty"`
	// Count and Reverse are releaseAcks': how many held acks to send (all when left out), and
	// the newest first.
	Count   int  `yaml:"count,omitempty" json:"count,omitempty" jsonschema:"minimum=0"`
	Reverse bool `yaml:"reverse,omitempty" json:"reverse,omitempty"`
}

// SwitchUserStep hands a phone on which nobody is logged in to another user: the app's next
// login is that user's, on the same install, with the same FCM token.
type SwitchUserStep struct {
	Device string `yaml:"device" json:"device" jsonschema:"required"`
	User   string `yaml:"user" json:"user" jsonschema:"required"`
}

// SendStep sends a message from a device's app: to a user (send) or a group (sendGroup).
type SendStep struct {
	From        string             `yaml:"from" json:"from" jsonschema:"required"`
	To          string             `yaml:"to,omitempty" json:"to,omitempty"`
	Group       string             `yaml:"group,omitempty" json:"group,omitempty"`
	Text        string             `yaml:"text" json:"text" jsonschema:"required"`
	OnlineOnly  bool               `yaml:"onlineOnly,omitempty" json:"onlineOnly,omitempty"`
	OfflinePush *relay.OfflinePush `yaml:"offlinePush,omitempty" json:"offlinePush,omitempty"`
}

// CreateGroupStep creates a group through the admin API.
type CreateGroupStep struct {
	ID      string   `yaml:"id" json:"id" jsonschema:"required"`
	Members []string `yaml:"members" json:"members" jsonschema:"required"`
	App     uint64   `yaml:"app,omitempty" json:"app,omitempty"`
	// Name is the group's display name, shown in its pushes' titles.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
}

// ProfileStep sets a user's profile through the admin API: the nickname that titles the pushes
// of the user's messages ("" removes it).
type ProfileStep struct {
	User     string `yaml:"user" json:"user" jsonschema:"required"`
	Nickname string `yaml:"nickname" json:"nickname"`
	App      uint64 `yaml:"app,omitempty" json:"app,omitempty"`
}

// ReceiveOptStep sets a device's user's receive option for a conversation.
type ReceiveOptStep struct {
	Device string `yaml:"device" json:"device" jsonschema:"required"`
	Conv   string `yaml:"conv" json:"conv" jsonschema:"required"`
	Opt    string `yaml:"opt" json:"opt" jsonschema:"required,enum=receive,enum=notNotify"`
}

// PushSettingsStep turns a user's pushes on or off (every device of the user, every
// conversation): as the administrator does (user, through the admin API, in App: by default the
// app of the user's first device, else the first app), or as the app does (device: the app on
// that phone, logged in, sends setPushSettings for its user; App is then the device's own).
type PushSettingsStep struct {
	User    string `yaml:"user,omitempty" json:"user,omitempty"`
	Device  string `yaml:"device,omitempty" json:"device,omitempty"`
	Enabled *bool  `yaml:"enabled" json:"enabled" jsonschema:"required"`
	App     uint64 `yaml:"app,omitempty" json:"app,omitempty"`
}

// FaultStep sets a fakefcm fault rule (it adds to those already set).
type FaultStep struct {
	// Device limits the rule to that device's token; empty matches every send.
	Device      string            `yaml:"device,omitempty" json:"device,omitempty"`
	API         string            `yaml:"api,omitempty" json:"api,omitempty" jsonschema:"enum=v1,enum=legacy"`
	Status      int               `yaml:"status,omitempty" json:"status,omitempty"`
	ErrorCode   string            `yaml:"errorCode,omitempty" json:"errorCode,omitempty"`
	Count       int               `yaml:"count,omitempty" json:"count,omitempty"`
	RetryAfter  duration.Duration `yaml:"retryAfter,omitempty" json:"retryAfter,omitempty"`
	Latency     duration.Duration `yaml:"latency,omitempty" json:"latency,omitempty"`
	Loss        bool              `yaml:"loss,omitempty" json:"loss,omitempty"`
	Probability float64           `yaml:"probability,omitempty" json:"probability,omitempty"`
	// Clear removes every fault rule before this one (alone, it just clears).
	Clear bool `yaml:"clear,omitempty" json:"clear,omitempty"`
}

// NetworkStep changes one link of the network: a phone's link to the relay (device), or the
// relay's link to FCM (link: fcm, partition only).
type NetworkStep struct {
	Device string `yaml:"device,omitempty" json:"device,omitempty"`
	Link   string `yaml:"link,omitempty" json:"link,omitempty" jsonschema:"enum=fcm"`
	// Partition cuts the link (true) or heals it (false): frames are dropped both ways and
	// neither side is told. A phone's FCM channel is not part of its relay link.
	Partition *bool `yaml:"partition,omitempty" json:"partition,omitempty"`
	// Latency, Jitter and Loss replace the phone's link's (virtual mode only: a live network is
	// the real one).
	Latency duration.Duration `yaml:"latency,omitempty" json:"latency,omitempty"`
	Jitter  duration.Duration `yaml:"jitter,omitempty" json:"jitter,omitempty"`
	Loss    *float64          `yaml:"loss,omitempty" json:"loss,omitempty"`
}

// NodeStep is a node step's target: killNode and restartNode name the node (killNode: n2);
// pauseNode stops it taking input for For (a zombie: its leases lapse, and its writes when it
// resumes are refused); partitionNode cuts it off the bus or the db (From), or heals that cut.
// Instead of naming the node, killNode, pauseNode and partitionNode may name a user (OwnerOf):
// the step acts on the node holding that user's partition when it runs, wherever the cluster
// placed it (killNode: {ownerOf: carol}).
type NodeStep struct {
	Node    string            `yaml:"node,omitempty" json:"node,omitempty"`
	OwnerOf string            `yaml:"ownerOf,omitempty" json:"ownerOf,omitempty"`
	For     duration.Duration `yaml:"for,omitempty" json:"for,omitempty"`
	From    string            `yaml:"from,omitempty" json:"from,omitempty" jsonschema:"enum=bus,enum=db"`
	Heal    bool              `yaml:"heal,omitempty" json:"heal,omitempty"`
}

// Expect is an expectation about one device.
type Expect struct {
	Device    string           `yaml:"device" json:"device" jsonschema:"required"`
	Push      *PushExpect      `yaml:"push,omitempty" json:"push,omitempty"`
	NoPush    *NoPushExpect    `yaml:"noPush,omitempty" json:"noPush,omitempty"`
	Delivered *DeliveredExpect `yaml:"delivered,omitempty" json:"delivered,omitempty"`
	Synced    *SyncedExpect    `yaml:"synced,omitempty" json:"synced,omitempty"`
	Kicked    *KickedExpect    `yaml:"kicked,omitempty" json:"kicked,omitempty"`
	Trace     *TraceExpect     `yaml:"trace,omitempty" json:"trace,omitempty"`
}

// PushExpect: pushes arriving on the device after the previous push or noPush expectation on
// it. Without Count, at least one within Within that matches; the run moves on as soon as it
// arrives. With Count, exactly that many pushes by the end of Within, and every one of them
// matches. A push matches when it has Title and Body (substrings), the Badge (Android
// notification count), the CollapseKey, the Android ChannelID, Sound and ClickAction, whether it
// is Silent (data-only: what the app renders is then read from its data), and each key of Data
// with that value — each only when set; data keys not named are not looked at.
type PushExpect struct {
	Within      duration.Duration `yaml:"within" json:"within" jsonschema:"required"`
	Count       *int              `yaml:"count,omitempty" json:"count,omitempty"`
	Title       string            `yaml:"title,omitempty" json:"title,omitempty"`
	Body        string            `yaml:"body,omitempty" json:"body,omitempty"`
	Badge       *int              `yaml:"badge,omitempty" json:"badge,omitempty" jsonschema:"minimum=0"`
	CollapseKey string            `yaml:"collapseKey,omitempty" json:"collapseKey,omitempty"`
	Data        map[string]string `yaml:"data,omitempty" json:"data,omitempty"`
	ChannelID   string            `yaml:"channelId,omitempty" json:"channelId,omitempty"`
	Sound       string            `yaml:"sound,omitempty" json:"sound,omitempty"`
	ClickAction string            `yaml:"clickAction,omitempty" json:"clickAction,omitempty"`
	Silent      *bool             `yaml:"silent,omitempty" json:"silent,omitempty"`
}

// content reports whether the expectation looks at a push's content, not only at its arrival.
func (p *PushExpect) content() bool {
	return p.Title != "" || p.Body != "" || p.Badge != nil || p.CollapseKey != "" || len(p.Data) > 0 ||
		p.ChannelID != "" || p.Sound != "" || p.ClickAction != "" || p.Silent != nil
}

// matches reports whether a push observation has what the expectation asks of one push.
func (p *PushExpect) matches(o sim.Observation) bool {
	if !strings.Contains(o.Title, p.Title) || !strings.Contains(o.Text, p.Body) {
		return false
	}
	if p.Badge != nil && o.Badge != *p.Badge {
		return false
	}
	if p.CollapseKey != "" && o.CollapseKey != p.CollapseKey {
		return false
	}
	for _, f := range []struct{ want, got string }{{p.ChannelID, o.ChannelID}, {p.Sound, o.Sound}, {p.ClickAction, o.ClickAction}} {
		if f.want != "" && f.got != f.want {
			return false
		}
	}
	if p.Silent != nil && o.Silent != *p.Silent {
		return false
	}
	for k, v := range p.Data {
		if got, ok := o.Data[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// NoPushExpect: no push arrives on the device for the duration.
type NoPushExpect struct {
	For duration.Duration `yaml:"for" json:"for" jsonschema:"required"`
}

// DeliveredExpect: the app received a message with this text live (a msg frame) within Within,
// since the previous delivered expectation on the device.
type DeliveredExpect struct {
	Text   string            `yaml:"text" json:"text" jsonschema:"required"`
	Within duration.Duration `yaml:"within" json:"within" jsonschema:"required"`
}

// SyncedExpect: since its latest login the device got exactly Count messages by sync, in
// sequence order, none twice.
type SyncedExpect struct {
	Count int `yaml:"count" json:"count"`
}

// KickedExpect: the device received a kicked frame within Within.
type KickedExpect struct {
	Within duration.Duration `yaml:"within" json:"within" jsonschema:"required"`
}

// TraceExpect: the relay's latest push-trace reason for the device is Reason (a decision such as
// pushed, online, logged-out; or, for fcm-… reasons, FCM's latest answer), within Within.
type TraceExpect struct {
	Reason string            `yaml:"reason" json:"reason" jsonschema:"required"`
	Within duration.Duration `yaml:"within,omitempty" json:"within,omitempty"`
}

// Defaults of a scenario that names no apps or certificates.
const (
	DefaultSDKAppID    = uint64(1400000001)
	DefaultCertificate = int64(6768)
	DefaultPackage     = "com.example.im"
)

// target is how a step names the node it acts on: the node, or the user whose partition's
// holder it is.
func (n *NodeStep) target() string {
	if n.OwnerOf != "" {
		return "{ownerOf: " + n.OwnerOf + "}"
	}
	return n.Node
}
