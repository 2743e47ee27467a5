package server

import (
	"time"

	"github.com/pushlab/pushlab/relay"
)

// Tap observes the relay core's inputs and its answers, one input at a time, for checkers that
// hold a running relay to its rules from the outside (the simulator's live property test). With
// a Tap the loop gives the core one event per Ready instead of batching them. Its methods are
// called on the loop's goroutine and must not block.
type Tap interface {
	// Input is told of each input before the core takes it.
	Input(now time.Time, in TapInput)
	// Ready is told of the core's answer to that input before it is carried out.
	Ready(now time.Time, rd *relay.Ready)
}

// TapKind names an input of the core.
type TapKind int

// The inputs a Tap is told of.
const (
	TapOpened   TapKind = iota + 1 // an app connection opened
	TapReceived                    // a frame from a connection
	TapClosed                      // a connection closed by its app (or its network)
	TapResult                      // FCM's answer to a push
	TapTick                        // the core's timers
	TapKick                        // the administrator kicks a user
)

// TapInput is one input of the core.
type TapInput struct {
	Kind   TapKind
	Conn   relay.ConnID
	Frame  relay.ClientFrame // TapReceived; undecodable frames are not passed on
	Result relay.PushResult  // TapResult
	App    uint64            // TapKick
	User   string            // TapKick
}

// tapInput tells the Tap, if any, of an input.
func (s *Server) tapInput(now time.Time, in TapInput) {
	if s.cfg.Tap != nil {
		s.cfg.Tap.Input(now, in)
	}
}
