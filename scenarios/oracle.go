package scenarios

import (
	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim"
)

// The invariant oracle in a scenario run (sim/oracle): it is told of the apps and devices the
// runner provisions, taps the relay and hears every observation, and so checks invariants 1–5
// of DESIGN.md §7, the retry budget and the login policy while the scenario plays. At the end
// it checks what a scenario's end can settle: fakefcm throttled no push of an app with default
// caps, and every phone that is logged in on a whole link (network up, not partitioned, no link
// loss) and that the relay sees connected has every message of its user — after waiting up to
// the settle timeout for messages still in flight (not in a replay with settle: false, whose
// time passes only in its steps). Invariant 5's second half (held summaries sent, every push
// answered) is checked only where the steps say they end settled (replay.settled, written by a
// property that got to its settled end): a scenario may end before a cap refills or a
// Retry-After passes.

// noTapWhy says why the oracle does not run on a world without a tap.
const noTapWhy = "the relay's core cannot be tapped (a remote relay, or the live cluster's relay processes): the invariants were not checked (the expectations still were)"

// markStep notes how many violations were found when a step starts.
func (r *runner) markStep() {
	if r.oracle != nil {
		r.found = append(r.found, len(r.oracle.Violations()))
	}
}

// settledDevices are the phones the end-of-run checks hold caught up: logged in on a whole
// link (call inside Do).
func (r *runner) settledDevices() []*sim.Device {
	var out []*sim.Device
	for _, dc := range r.sc.Devices {
		d := r.devices[dc.ID]
		if d == nil {
			continue
		}
		l := r.w.LinkOf(d)
		if d.LoggedIn() && d.NetUp() && !l.Partitioned && l.Loss == 0 {
			out = append(out, d)
		}
	}
	return out
}

// settleForOracle lets a scenario that settles catch its phones up before the end-of-run checks.
func (r *runner) settleForOracle() {
	if r.sc.settles() {
		r.w.WaitUntil(r.w.Now().Add(settleTimeout), r.onDevices(func() bool { return len(r.oracle.Behind(r.settledDevices())) == 0 }))
	}
}

// checkAtEnd runs the oracle's end-of-run checks (see above) on the run's push trace and FCM
// records, which finish reads once for the report too.
func (r *runner) checkAtEnd(trace []relay.TraceEntry, records []fakefcm.Record) {
	if r.sc.Replay != nil && r.sc.Replay.Settled {
		// The steps settled the world as a property does at its end: what it checks then.
		r.oracle.CheckSettled(r.w.Now(), trace)
	}
	r.w.Do(func() { r.oracle.CheckCaughtUp(r.w.Now(), r.settledDevices()) })
	r.oracle.CheckNoThrottle(r.w.Now(), records)
}

// oracleReport is what the oracle found, each violation given the step during which it was
// found; atEnd is how many were found before the end-of-run checks.
func (r *runner) oracleReport(atEnd int) *reports.Oracle {
	if r.oracle == nil {
		return &reports.Oracle{NotRunWhy: noTapWhy, Violations: []reports.Violation{}}
	}
	out := &reports.Oracle{Ran: true, Violations: []reports.Violation{}}
	for i, v := range r.oracle.Violations() {
		step := 0
		for s, n := range r.found {
			if n <= i {
				step = s + 1
			}
		}
		out.Violations = append(out.Violations, reports.Violation{Invariant: v.Invariant, Step: step, AtEnd: i >= atEnd,
			AtMs: r.ms(v.Time), Device: v.Device, Evidence: v.Evidence})
	}
	return out
}
