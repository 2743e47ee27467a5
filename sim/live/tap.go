package live

import (
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
)

// tapAdapter (a relay/server Tap) tells a sim tap of the embedded relay shell's inputs and answers, as the virtual
// world tells it of its core's: the same TapEvents, so one checker serves both twins. It is
// called on the relay's loop goroutine.
type tapAdapter struct {
	fn func(sim.TapEvent)
}

// Input (relayserver.Tap) passes an input on.
func (t *tapAdapter) Input(now time.Time, in relay.Input) {
	t.fn(sim.TapEvent{Kind: sim.TapInput, Time: now, Input: in})
}

// Ready (relayserver.Tap) passes the core's answer on.
func (t *tapAdapter) Ready(now time.Time, rd *relay.Ready) {
	t.fn(sim.TapEvent{Kind: sim.TapReady, Time: now, Ready: rd})
}

// Restarted (RestartTap) tells of a relay restart, as the virtual world does.
func (t *tapAdapter) Restarted(now time.Time) {
	t.fn(sim.TapEvent{Kind: sim.TapRestarted, Time: now})
}

// The adapter is a relay shell's Tap that also hears of restarts.
var _ RestartTap = (*tapAdapter)(nil)
