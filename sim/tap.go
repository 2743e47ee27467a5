package sim

import (
	"time"

	"github.com/pushlab/pushlab/relay"
)

// TapKind names what crossed the relay core's boundary.
type TapKind int

// The tap events.
const (
	TapInput     TapKind = iota + 1 // the relay core is about to take an input (Input)
	TapReady                        // the relay's answer to one input, before it is carried out
	TapFCM                          // a push reaches FCM
	TapRestarted                    // the relay restarted from its store
	// TapPartitionMoved: a cluster node started serving a partition (Partition), restored from
	// the store: for that partition's users, as a restart.
	TapPartitionMoved
)

// TapEvent is one thing that crossed the relay core's boundary: its inputs are relay.Inputs,
// the same that the relay shell's Tap is told of, so one checker serves every twin. Checkers that
// hold the relay to its rules from the outside (the property tests) rebuild what it should have
// done from these.
type TapEvent struct {
	Kind  TapKind
	Time  time.Time
	Input relay.Input // TapInput
	// Device is the phone behind Input.Conn, when the world knows it (the virtual twin does; a
	// live relay's connection says who it is at login).
	Device *Device
	Ready  *relay.Ready // TapReady
	Push   relay.Push   // TapFCM
	// Stale marks a push reaching FCM from a relay that has since restarted (a cluster node
	// since killed, or one that no longer serves the push's partition).
	Stale bool
	// Partition is the partition that moved (TapPartitionMoved).
	Partition relay.Partition
}
