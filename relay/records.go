package relay

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/pushlab/pushlab/internal/ratelimit"
)

// Record is one durable change the core asks its driver to persist, in order, before anything
// else of the same Ready becomes visible. The concrete types below are all the records there are,
// with AppendTrace (trace.go), which the driver adds.
type Record interface{ isRecord() }

// PutApp stores an app (created or updated).
type PutApp struct{ App AppConfig }

// DeleteApp removes an app and everything of it.
type DeleteApp struct{ SDKAppID uint64 }

// PutCertificate stores a certificate (created, updated, or its status changed).
type PutCertificate struct{ Cert Certificate }

// DeleteCertificate removes a certificate.
type DeleteCertificate struct{ ID int64 }

// PutSession stores a logged-in device, or the caps of one logged out (SessionState.LoggedOut).
type PutSession struct{ Session SessionState }

// DeleteSession removes a device's login (logout, kick).
type DeleteSession struct{ Key DeviceKey }

// PutBinding stores a device's push binding.
type PutBinding struct{ Binding Binding }

// DeleteBinding removes a device's push binding.
type DeleteBinding struct{ Key DeviceKey }

// PutMessage stores a message in one user's inbox.
type PutMessage struct {
	User UserKey
	Msg  StoredMsg
}

// TrimInbox drops a user's messages with seq at or below Through.
type TrimInbox struct {
	User    UserKey
	Through uint64
}

// PutGroup stores a group and its members.
type PutGroup struct{ Group Group }

// PutReceiveOpt stores a user's receive option for a conversation ("receive" deletes it).
type PutReceiveOpt struct {
	User UserKey
	Conv string
	Opt  string
}

// PutPush stores a push that is not finished (sent, or waiting to be retried).
type PutPush struct{ Push PushState }

// DeletePush removes a finished push.
type DeletePush struct{ ID uint64 }

// PutCounter stores one of the core's counters (message and push numbering).
type PutCounter struct {
	Name  string
	Value uint64
}

// PutPushSettings stores a user's push settings. Default settings (PushSettings.IsDefault) delete
// them: a store keeps only the users whose settings differ from the default.
type PutPushSettings struct {
	User     UserKey
	Settings PushSettings
}

// PutProfile stores a user's profile (an empty nickname deletes it).
type PutProfile struct{ Profile Profile }

func (PutApp) isRecord()            {}
func (DeleteApp) isRecord()         {}
func (PutCertificate) isRecord()    {}
func (DeleteCertificate) isRecord() {}
func (PutSession) isRecord()        {}
func (DeleteSession) isRecord()     {}
func (PutBinding) isRecord()        {}
func (DeleteBinding) isRecord()     {}
func (PutMessage) isRecord()        {}
func (TrimInbox) isRecord()         {}
func (PutGroup) isRecord()          {}
func (PutReceiveOpt) isRecord()     {}
func (PutPush) isRecord()           {}
func (DeletePush) isRecord()        {}
func (PutCounter) isRecord()        {}
func (PutPushSettings) isRecord()   {}
func (PutProfile) isRecord()        {}

// UserKey names a user of an app.
type UserKey struct {
	SDKAppID uint64 `json:"sdkAppId"`
	UserID   string `json:"userId"`
}

// DeviceKey names a device of a user.
type DeviceKey struct {
	SDKAppID uint64 `json:"sdkAppId"`
	UserID   string `json:"userId"`
	DeviceID string `json:"deviceId"`
}

// User returns the key of the device's user.
func (k DeviceKey) User() UserKey { return UserKey{k.SDKAppID, k.UserID} }

// SessionState is a logged-in device as it is persisted: it survives a relay restart as a
// killed-but-logged-in device.
type SessionState struct {
	Key      DeviceKey `json:"key"`
	Platform string    `json:"platform"`
	LoginAt  time.Time `json:"loginAt"`
	// Unread is the badge count pushes carry.
	Unread int `json:"unread"`
	// Held are the seqs of messages a cap held back, to be covered by one summary push.
	Held []uint64 `json:"held,omitempty"`
	// Caps is what the device's frequency caps have counted, so that a restarted relay keeps
	// to them; nil before its first push.
	Caps *CapsState `json:"caps,omitempty"`
	// LoggedOut marks a device whose login ended (logout, kick) but whose caps still count: FCM's
	// per-device limits do not start afresh at the next login, so neither do the relay's, even
	// across a restart. Such a row restores the caps and nothing else.
	LoggedOut bool `json:"loggedOut,omitempty"`
	// Locale is the language the device's login asked for (a canonical BCP 47 tag; empty: the
	// app's default), which picks the texts the relay writes into its pushes.
	Locale string `json:"locale,omitempty"`
}

// CapsState is one device's frequency caps as counted so far.
type CapsState struct {
	PerMinute ratelimit.WindowState `json:"perMinute"`
	PerHour   ratelimit.WindowState `json:"perHour"`
	// BucketFull is when the burst bucket would be full again.
	BucketFull time.Time `json:"bucketFull"`
}

// clone is a copy of c that shares nothing with it (nil for nil).
func (c *CapsState) clone() *CapsState {
	if c == nil {
		return nil
	}
	d := *c
	d.PerMinute.Slots = slices.Clone(c.PerMinute.Slots)
	d.PerHour.Slots = slices.Clone(c.PerHour.Slots)
	return &d
}

// Binding is a device's push binding: which certificate and token to push it through.
type Binding struct {
	Key           DeviceKey `json:"key"`
	CertificateID int64     `json:"certificateId"`
	Token         string    `json:"token"`
}

// StoredMsg is a message in one user's inbox, with that user's sequence number.
type StoredMsg struct {
	Seq        uint64    `json:"seq"`
	ID         string    `json:"id"`
	From       string    `json:"from"`
	FromDevice string    `json:"fromDevice,omitempty"`
	Conv       string    `json:"conv"`
	Group      string    `json:"group,omitempty"`
	Text       string    `json:"text"`
	Time       time.Time `json:"time"`
	// Push is the message's offlinePush options; nil when it has none, as most messages do: an
	// inbox holds many messages, and the options take more room than the rest of one.
	Push *OfflinePush `json:"push,omitempty"`
	// Nickname is the sender's nickname when the message was sent (empty: none), the title of
	// its pushes.
	Nickname string `json:"nickname,omitempty"`
}

// PushOptions is the message's offlinePush options, the zero value when it has none.
func (m *StoredMsg) PushOptions() OfflinePush {
	if m.Push == nil {
		return OfflinePush{}
	}
	return *m.Push
}

// WithPushOptions returns m with options o: none kept when o is the zero value.
func (m StoredMsg) WithPushOptions(o OfflinePush) StoredMsg {
	m.Push = nil
	if o != (OfflinePush{}) {
		m.Push = &o
	}
	return m
}

// Group is a group chat and its members.
type Group struct {
	SDKAppID uint64   `json:"sdkAppId"`
	ID       string   `json:"id"`
	Members  []string `json:"members"`
	// Name is the group's display name, shown in its pushes' titles; optional.
	Name string `json:"name,omitempty"`
}

// Profile is what a user shows of themselves: the nickname that titles their messages' pushes.
type Profile struct {
	SDKAppID uint64 `json:"sdkAppId"`
	UserID   string `json:"userId"`
	Nickname string `json:"nickname"`
}

// PushState is a push that has not finished: it survives a restart and is sent again.
type PushState struct {
	Push      Push      `json:"push"`
	NotBefore time.Time `json:"notBefore"` // when it may be sent (a retry's backoff)
}

// State is everything the core is rebuilt from after a restart.
type State struct {
	Apps         []AppConfig
	Certificates []Certificate
	Sessions     []SessionState
	Bindings     []Binding
	Messages     map[UserKey][]StoredMsg // each in seq order
	Groups       []Group
	ReceiveOpts  map[UserKey]map[string]string
	Pushes       []PushState
	Counters     map[string]uint64
	// PushSettings are the settings of the users whose settings are not the default (users who
	// turned pushes off).
	PushSettings map[UserKey]PushSettings
	Profiles     []Profile
}

// Sort puts the state in the order every Store's Load returns it in, so that two stores'
// answers compare equal: apps and certificates by ID, sessions and bindings by device, each
// inbox by seq, groups by app then ID, pushes by ID, profiles by user.
func (st *State) Sort() {
	slices.SortFunc(st.Apps, func(a, b AppConfig) int { return cmp.Compare(a.SDKAppID, b.SDKAppID) })
	slices.SortFunc(st.Certificates, func(a, b Certificate) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(st.Sessions, func(a, b SessionState) int { return compareDeviceKeys(a.Key, b.Key) })
	slices.SortFunc(st.Bindings, func(a, b Binding) int { return compareDeviceKeys(a.Key, b.Key) })
	for _, msgs := range st.Messages {
		slices.SortFunc(msgs, func(a, b StoredMsg) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	slices.SortFunc(st.Groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(a.SDKAppID, b.SDKAppID), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(st.Pushes, func(a, b PushState) int { return cmp.Compare(a.Push.ID, b.Push.ID) })
	slices.SortFunc(st.Profiles, func(a, b Profile) int {
		return cmp.Or(cmp.Compare(a.SDKAppID, b.SDKAppID), cmp.Compare(a.UserID, b.UserID))
	})
}

// Store keeps the relay's durable state. The relay shell and the simulator persist each Ready's
// records with Apply before acting on the rest of it, and rebuild the core from Load at start.
type Store interface {
	// Apply persists records atomically, in order: all of them or none.
	Apply(ctx context.Context, records []Record) error
	// Load returns the state the records so far describe.
	Load(ctx context.Context) (*State, error)
	// Close releases the store.
	Close() error
	// TraceStore keeps the push trace that Apply's AppendTrace records write.
	TraceStore
}

// StagedStore is a Store whose Apply comes in two halves, so that a driver can go on with its
// work while a batch is written: Stage encodes records, keeping nothing of their slices or maps,
// and the batch's Commit writes them, on any goroutine, atomically as Apply would. Batches are
// committed one at a time, in the order they were staged, each once.
type StagedStore interface {
	Store
	Stage(records []Record) (StagedBatch, error)
}

// StagedBatch is a batch of records a StagedStore has encoded and not yet written.
type StagedBatch interface {
	// Commit writes the batch's records atomically, in order: all of them or none.
	Commit(ctx context.Context) error
}
