package scenarios

import (
	"errors"
	"fmt"

	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/oracle"
)

// Replayer applies a scenario's steps one at a time, given as they come, as a replay run with
// settle: false plays them: back to back, time passing only in waits. The property tests drive
// their worlds through it, so that a property run and the counterexample scenario it writes
// are provisioned and stepped by the same code.
type Replayer struct{ r *runner }

// NewReplayer provisions a prepared scenario's apps, certificates and devices on w, telling o
// (if set) of them as a run does, and lets the installs' second pass. sc must replay with
// settle: false.
func NewReplayer(sc *Scenario, w sim.World, o *oracle.Oracle) (*Replayer, error) {
	if sc.settles() {
		return nil, errors.New("a replayer plays steps back to back: the scenario needs replay: {settle: false}")
	}
	r := &runner{sc: sc, w: w, oracle: o}
	r.out = reports.Scenario{Name: sc.Name}
	r.start = w.Now()
	if err := r.setup(); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	return &Replayer{r: r}, nil
}

// Apply carries out one step (it is added to the scenario's steps); the error is the step's,
// as a run reports it, with its chain kept for errors.Is (a cluster's cluster.ErrNotOwner).
func (p *Replayer) Apply(st Step) error {
	p.r.sc.Steps = append(p.r.sc.Steps, st)
	return p.r.step(len(p.r.sc.Steps), st)
}

// Device is the phone a scenario device ID names.
func (p *Replayer) Device(id string) *sim.Device { return p.r.devices[id] }
