package sim

import (
	"errors"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
)

// World is the world port: everything a scenario, a property or a load does to a world of phones,
// a relay and an FCM, and everything it reads back, whichever twin runs it. The twins are the
// VirtualWorld (the cores on the virtual clock, in this package), and the live and remote worlds
// of package sim/live (real shells on real sockets; a relay started elsewhere). Consumers take a
// World and never learn which twin they drive, except through Features: a twin that cannot honour
// something says so there, and its method answers ErrUnsupported rather than pretending.
//
// Devices are driven and read inside Do; every other method is called outside it.
type World interface {
	// Features says what this twin can honour.
	Features() Features

	// Now is the world's time: virtual, or the real clock.
	Now() time.Time
	// Advance lets d pass.
	Advance(d time.Duration)
	// WaitUntil lets time pass until cond holds or the deadline comes, and reports whether cond
	// held. cond is called outside Do, so that it may ask the servers (Online, FCMRegistered)
	// without holding the phones up; it takes Do itself to read devices.
	WaitUntil(deadline time.Time, cond func() bool) bool
	// Do runs fn with the devices safe to drive and read.
	Do(fn func())
	// OnObserve sets a function told of every observation of every device, inside Do; it must
	// not call back into the world (the live twin's lock is not reentrant).
	OnObserve(fn func(*Device, Observation))

	// AddApp creates (or replaces) an app on the relay.
	AddApp(a relay.AppConfig) error
	// AddCertificate creates an FCM project for a push certificate and registers the certificate
	// on the relay; it returns the FCM sender ID the app registers its tokens with.
	AddCertificate(c CertificateSpec) (senderID string, err error)
	// AddDevice adds a phone (call inside Do); it installs the app at once if cfg says so.
	AddDevice(cfg DeviceConfig) *Device
	// PutGroup creates or replaces a group.
	PutGroup(g relay.Group) error
	// Kick ends every login of a user, as the administrator does.
	Kick(app uint64, user string) error
	// SetPushSettings sets a user's push settings, as the administrator does.
	SetPushSettings(app uint64, user string, s relay.PushSettings) error
	// SetProfile sets a user's profile (its nickname; empty removes it), as the administrator
	// does.
	SetProfile(p relay.Profile) error

	// SetFaults replaces FCM's fault rules (nil clears them); AddFaults adds rules after those in
	// force, which keep what they have spent.
	SetFaults(rules []fakefcm.FaultRule) error
	AddFaults(rules []fakefcm.FaultRule) error

	// LinkOf is a phone's link to the relay; SetLink changes it (call inside Do).
	LinkOf(d *Device) Link
	SetLink(d *Device, l Link) error
	// PartitionFCM cuts (or heals) the relay's link to FCM: sends reach no FCM and time out.
	PartitionFCM(cut bool) error
	// RestartRelay stops the relay and starts it again from its store. The virtual twin stops it
	// as a crash would (connections drop, pushes in flight are forgotten), the cluster twin so
	// kills every node and starts them again; the live twin shuts its
	// relay down (phones see a close, pushes in flight finish) — a real crash is what the relay
	// binary's SIGKILL test covers (cmd/relay/crash_test.go).
	RestartRelay() error

	// Online reports whether the relay sees the device's app connection.
	Online(app uint64, user, device string) (bool, error)
	// FCMRegistered reports whether FCM holds the token as registered.
	FCMRegistered(token string) (bool, error)
	// Trace is the relay's push trace for the world's apps, oldest first.
	Trace() ([]relay.TraceEntry, error)
	// FCMRecords is every message FCM took for the world's certificates, with its true fate.
	FCMRecords() ([]fakefcm.Record, error)

	// Close ends the world: connections close, servers it started stop.
	Close() error
}

// CertificateSpec is a push certificate to provision: an FCM project is created for it (with the
// package) and the relay is given its credentials.
type CertificateSpec struct {
	ID          int64
	SDKAppID    uint64
	PackageName string
	// API is "v1" (a service account) or "legacy" (a server key).
	API string
	// ChannelID is the certificate's default Android notification channel.
	ChannelID string
}

// Features is what a twin can honour. A consumer checks it before it runs anything that needs a
// feature, and refuses with a clear error rather than ignore the setting.
type Features struct {
	// Twin names the twin: "virtual", "cluster" (the virtual world with a relay cluster),
	// "live" or "remote".
	Twin string
	// NetworkLatency: phones' links have a latency and jitter that can be set (virtual only: the
	// live network is the real one). Partitions and loss work on every twin.
	NetworkLatency bool
	// RelayRestart: RestartRelay works (the relay was started by the world).
	RelayRestart bool
	// FCMPartition: PartitionFCM works (the relay's link to FCM belongs to the world).
	FCMPartition bool
	// RelayConfig: the relay's rules (relay.Config) are the world's to set. A remote world
	// reads the rules its relay runs with instead (SettingsReader), and a consumer compares.
	RelayConfig bool
	// FCM says whether FCM is one pushsim can watch and steer (a fakefcm: records, faults,
	// behaviour, device tokens) or one it cannot (Google's FCM behind a staging relay).
	FCM FCMVisibility
	// FCMShared: the FCM is shared with other runs (a remote fakefcm): fault rules can be added
	// (narrowed to the world's own projects), not replaced or cleared.
	FCMShared bool
	// Tap: the relay's inputs and answers can be observed one at a time (TapEvent).
	Tap bool
	// NodeFaults: the relay is a cluster whose nodes the world can kill, restart, pause and cut
	// off the bus or the database (NodeFaults; the cluster twin).
	NodeFaults bool
}

// FCMVisibility says how much of FCM a world sees.
type FCMVisibility int

const (
	// FCMWatched is a fakefcm the world can read and steer: records, faults, behaviour, tokens.
	FCMWatched FCMVisibility = iota
	// FCMUnwatched is an FCM the world cannot see (Google's, behind a staging relay): no records,
	// no faults, and devices get no tokens from it. Pushes are judged from the relay's trace.
	FCMUnwatched
)

// ErrUnsupported is what a twin answers for an operation it cannot carry out (see Features).
var ErrUnsupported = errors.New("not supported by this world")

// SettingsReader is implemented by worlds whose relay's rules are not theirs to set (the remote
// twin): it reads the rules the relay runs with, so that a consumer can compare them with what it
// needs and refuse before it runs.
type SettingsReader interface {
	RelaySettings() (relay.Config, error)
}
