package sim

import (
	"time"

	"github.com/pushlab/pushlab/relay"
)

// TapKind names what crossed the relay core's boundary.
type TapKind int

// The tap events.
const (
	TapOpened    TapKind = iota + 1 // a phone's connection reached the relay
	TapReceived                     // the relay is about to take a frame from a connection
	TapClosed                       // a phone's close reached the relay
	TapReady                        // the relay's answer to one input, before it is carried out
	TapFCM                          // a push reaches FCM
	TapResult                       // the relay is about to take FCM's answer to a push
	TapRestarted                    // the relay restarted from its store
	TapKick                         // the administrator kicks a user (App, User)
)

// TapEvent is one thing that crossed the relay core's boundary. Checkers that hold the relay to
// its rules from the outside (the property tests) rebuild what it should have done from these.
type TapEvent struct {
	Kind   TapKind
	Time   time.Time
	Conn   relay.ConnID
	Device *Device // the phone behind Conn
	Frame  relay.ClientFrame
	Ready  *relay.Ready
	Push   relay.Push
	Result relay.PushResult
	// Stale marks a push reaching FCM from a relay that has since restarted.
	Stale bool
	// App and User name the kicked user (TapKick).
	App  uint64
	User string
}
