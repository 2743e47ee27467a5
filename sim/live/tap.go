package live

import (
	"time"

	"github.com/pushlab/pushlab/relay"
	relayserver "github.com/pushlab/pushlab/relay/server"
	"github.com/pushlab/pushlab/sim"
)

// tapAdapter tells a sim tap of the embedded relay shell's inputs and answers, as the virtual
// world tells it of its core's: the same TapEvents, so one checker serves both twins. It is
// called on the relay's loop goroutine.
type tapAdapter struct {
	fn func(sim.TapEvent)
}

// Input (relayserver.Tap) passes an input on.
func (t *tapAdapter) Input(now time.Time, in relayserver.TapInput) {
	switch in.Kind {
	case relayserver.TapOpened:
		t.fn(sim.TapEvent{Kind: sim.TapOpened, Time: now, Conn: in.Conn})
	case relayserver.TapReceived:
		t.fn(sim.TapEvent{Kind: sim.TapReceived, Time: now, Conn: in.Conn, Frame: in.Frame})
	case relayserver.TapClosed:
		t.fn(sim.TapEvent{Kind: sim.TapClosed, Time: now, Conn: in.Conn})
	case relayserver.TapResult:
		t.fn(sim.TapEvent{Kind: sim.TapResult, Time: now, Result: in.Result})
	case relayserver.TapKick:
		t.fn(sim.TapEvent{Kind: sim.TapKick, Time: now, App: in.App, User: in.User})
	}
}

// Ready (relayserver.Tap) passes the core's answer on.
func (t *tapAdapter) Ready(now time.Time, rd *relay.Ready) {
	t.fn(sim.TapEvent{Kind: sim.TapReady, Time: now, Ready: rd})
}
