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
	// Input is told of each input before the core takes it: every connection event, frame
	// (refused ones included), push result and tick, and the admin kicks and push settings.
	// Other admin calls are not told, except test pushes.
	Input(now time.Time, in relay.Input)
	// Ready is told of the core's answer to that input before it is carried out.
	Ready(now time.Time, rd *relay.Ready)
}

// step tells the Tap, if any, of an input and hands it to the core.
func (s *Server) step(now time.Time, in relay.Input) {
	s.tapInput(now, in)
	if err := s.core.Step(now, in); err != nil {
		// Only admin inputs can fail, and those go through their own methods.
		s.log.Error("the relay core refused an input", "input", in.Kind.String(), "err", err)
	}
}

// tapInput tells the Tap, if any, of an input.
func (s *Server) tapInput(now time.Time, in relay.Input) {
	if s.cfg.Tap != nil {
		s.cfg.Tap.Input(now, in)
	}
}
