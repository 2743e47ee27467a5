package sim

import (
	"time"

	"github.com/pushlab/pushlab/relay"
)

// Env is what a device needs from the world it runs in: the time, timers, and its two network
// connections — the app's to the relay, and the phone's to FCM. The VirtualWorld and sim/live's phones
// implement it; each calls the device's On… methods one at a time.
type Env interface {
	Now() time.Time
	// After calls fn after d; the returned func cancels it.
	After(d time.Duration, fn func()) (cancel func())
	// DialRelay opens an app connection; the device hears of it through OnRelayOpen (or
	// OnRelayClosed if it fails).
	DialRelay(d *Device) RelayLink
	// FCMRegister asks FCM for a token (getToken); the answer comes through OnToken.
	FCMRegister(d *Device)
	// FCMRefresh replaces the token (the old one becomes UNREGISTERED); the answer comes through
	// OnToken.
	FCMRefresh(d *Device, token string)
	// FCMUnregister deletes the token (uninstall).
	FCMUnregister(d *Device, token string)
	// FCMForceStop tells FCM the app was force-stopped.
	FCMForceStop(d *Device, token string)
	// FCMConnect opens the phone's FCM channel for the token; messages come through OnPush.
	FCMConnect(d *Device, token string) FCMLink
	// Observe is told every observation, for event logs and waiting.
	Observe(d *Device, o Observation)
}

// RelayLink is the app's connection to the relay.
type RelayLink interface {
	Send(f relay.ClientFrame)
	// Close ends the connection; the relay hears of it if the network lets it.
	Close()
}

// FCMLink is the phone's connection to FCM.
type FCMLink interface {
	Ack(messageID string)
	Close()
}
