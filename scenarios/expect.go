package scenarios

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim"
)

// defaultTraceWithin is how long a trace expectation waits when it names no window.
const defaultTraceWithin = 5 * time.Second

// describeExpect says in words what an expectation expects.
func describeExpect(e *Expect) string {
	switch {
	case e.Push != nil:
		p := e.Push
		s := "a push"
		if p.Count != nil {
			s = fmt.Sprintf("exactly %d push(es)", *p.Count)
		}
		if p.Title != "" {
			s += fmt.Sprintf(" titled %q", p.Title)
		}
		if p.Body != "" {
			s += fmt.Sprintf(" saying %q", p.Body)
		}
		if p.Badge != nil {
			s += fmt.Sprintf(" with badge %d", *p.Badge)
		}
		if p.CollapseKey != "" {
			s += fmt.Sprintf(" collapsing on %q", p.CollapseKey)
		}
		if p.Silent != nil && *p.Silent {
			s += " silent (data only)"
		} else if p.Silent != nil {
			s += " with a notification"
		}
		for _, f := range []struct{ what, v string }{{"channel", p.ChannelID}, {"sound", p.Sound}, {"click action", p.ClickAction}} {
			if f.v != "" {
				s += fmt.Sprintf(" %s %q", f.what, f.v)
			}
		}
		if len(p.Data) > 0 {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(p.Data)) {
				kv = append(kv, fmt.Sprintf("%s=%q", k, p.Data[k]))
			}
			s += " with data " + strings.Join(kv, " ")
		}
		return fmt.Sprintf("%s on %s within %v", s, e.Device, p.Within)
	case e.NoPush != nil:
		return fmt.Sprintf("no push on %s for %v", e.Device, e.NoPush.For)
	case e.Delivered != nil:
		return fmt.Sprintf("%q delivered live to %s within %v", e.Delivered.Text, e.Device, e.Delivered.Within)
	case e.Synced != nil:
		return fmt.Sprintf("%s synced %d message(s) since its login, in order, none twice", e.Device, e.Synced.Count)
	case e.Kicked != nil:
		return fmt.Sprintf("%s kicked within %v", e.Device, e.Kicked.Within)
	case e.Trace != nil:
		return fmt.Sprintf("the relay's latest push-trace reason for %s is %q", e.Device, e.Trace.Reason)
	}
	return "?"
}

// kindOf names an expectation's kind.
func kindOf(e *Expect) string {
	switch {
	case e.Push != nil:
		return "push"
	case e.NoPush != nil:
		return "noPush"
	case e.Delivered != nil:
		return "delivered"
	case e.Synced != nil:
		return "synced"
	case e.Kicked != nil:
		return "kicked"
	default:
		return "trace"
	}
}

// expect judges one expectation against the device's observations since the previous
// expectation on the same device, letting time pass as the expectation says.
func (r *runner) expect(index int, e *Expect) {
	d := r.devices[e.Device]
	from := r.w.Now()
	res := reports.Expectation{Step: index, Device: e.Device, Kind: kindOf(e), Text: describeExpect(e), FromMs: r.ms(from)}
	// Each kind of observation has its own cursor per device: a push expectation judges the
	// pushes since the previous push expectation, and leaves the messages to delivered.
	key := e.Device + "/" + cursorGroup(e)
	since := r.cursor[key]
	// newObs returns the device's observations of a kind since the cursor (call under do).
	newObs := func(kinds ...sim.ObsKind) []sim.Observation {
		var out []sim.Observation
		for _, o := range d.Observations()[since:] {
			if slices.Contains(kinds, o.Kind) {
				out = append(out, o)
			}
		}
		return out
	}
	var seen []sim.Observation
	switch {
	case (e.Push != nil || e.NoPush != nil) && r.unwatched():
		r.expectAccepted(e, from, &res)
	case e.Push != nil:
		p := e.Push
		match := p.matches
		deadline := from.Add(p.Within.D())
		if p.Count == nil {
			// At least one matching push: the run moves on as soon as it arrives.
			res.Held = r.w.WaitUntil(deadline, r.onDevices(func() bool { return slices.ContainsFunc(newObs(sim.ObsPush), match) }))
		} else {
			// Exactly Count pushes by the end of the window, every one of them matching.
			r.w.Advance(p.Within.D())
			r.w.Do(func() {
				got := newObs(sim.ObsPush)
				res.Held = len(got) == *p.Count && !slices.ContainsFunc(got, func(o sim.Observation) bool { return !match(o) })
			})
		}
		r.w.Do(func() { seen = newObs(sim.ObsPush) })
		res.Seen = describePushes(seen, r.ms)
	case e.NoPush != nil:
		r.w.Advance(e.NoPush.For.D())
		r.w.Do(func() { seen = newObs(sim.ObsPush) })
		res.Held = len(seen) == 0
		res.Seen = describePushes(seen, r.ms)
	case e.Delivered != nil:
		res.Held = r.w.WaitUntil(from.Add(e.Delivered.Within.D()), r.onDevices(func() bool {
			for _, o := range newObs(sim.ObsMsg) {
				if o.Text == e.Delivered.Text {
					return true
				}
			}
			return false
		}))
		r.w.Do(func() { seen = newObs(sim.ObsMsg, sim.ObsSynced) })
		res.Seen = describeMsgs(seen, r.ms)
	case e.Synced != nil:
		var synced []uint64
		var dups []sim.Observation
		r.w.Do(func() {
			synced = slices.Clone(d.SyncedSinceLogin())
			dups = newObs(sim.ObsDuplicate)
		})
		inOrder := slices.IsSorted(synced) && len(slices.Compact(slices.Clone(synced))) == len(synced)
		res.Held = len(synced) == e.Synced.Count && inOrder && len(dups) == 0
		res.Seen = fmt.Sprintf("synced seqs %v", synced)
		if len(dups) > 0 {
			res.Seen += fmt.Sprintf("; %d duplicate(s)", len(dups))
		}
	case e.Kicked != nil:
		res.Held = r.w.WaitUntil(from.Add(e.Kicked.Within.D()), r.onDevices(func() bool { return len(newObs(sim.ObsKicked)) > 0 }))
		r.w.Do(func() { seen = newObs(sim.ObsKicked, sim.ObsClosed) })
		res.Seen = describeOther(seen, r.ms)
	case e.Trace != nil:
		within := e.Trace.Within.D()
		if within == 0 {
			within = defaultTraceWithin
		}
		var latest string
		res.Held = r.w.WaitUntil(from.Add(within), func() bool {
			latest = r.latestReason(e.Device, strings.HasPrefix(e.Trace.Reason, relay.ReasonFCMPrefix))
			return latest == e.Trace.Reason
		})
		if latest == "" {
			latest = "no trace entry for " + e.Device
		}
		res.Seen = "latest: " + latest
	}
	res.ToMs = r.ms(r.w.Now())
	r.w.Do(func() { r.cursor[key] = len(d.Observations()) })
	r.out.Expectations = append(r.out.Expectations, res)
}

// expectAccepted judges a push or noPush expectation from the relay's push trace, for a world
// whose FCM pushsim cannot watch: a push counts when the relay decided it (pushed) and FCM
// accepted it (fcm-ok); whether it reached the phone is not observable. The entries since the
// previous push or noPush expectation on the device are judged.
func (r *runner) expectAccepted(e *Expect, from time.Time, res *reports.Expectation) {
	res.DeliveryNotObservable = true
	var accepted, fresh []relay.TraceEntry
	var readErr error
	read := func() int {
		accepted, fresh, readErr = r.acceptedSince(e.Device)
		return len(accepted)
	}
	switch {
	case e.Push != nil && e.Push.Count == nil:
		res.Held = r.w.WaitUntil(from.Add(e.Push.Within.D()), func() bool { return read() > 0 })
	case e.Push != nil:
		r.w.Advance(e.Push.Within.D())
		res.Held = read() == *e.Push.Count
	default:
		r.w.Advance(e.NoPush.For.D())
		res.Held = read() == 0
	}
	if readErr != nil {
		res.Held = false
		res.Seen = "the push trace could not be read: " + readErr.Error()
	} else {
		res.Seen = r.describeAccepted(accepted, fresh)
	}
	if err := r.markTraceJudged(e.Device); err != nil && res.Seen != "" {
		res.Seen += "; the push trace could not be read again: " + err.Error()
	}
}

// acceptedSince reads the relay's push trace for a device: the FCM acceptances (fcm-ok of a push
// the relay decided) not judged yet, and every entry not judged yet.
func (r *runner) acceptedSince(device string) (accepted, fresh []relay.TraceEntry, err error) {
	tr, err := r.w.Trace()
	if err != nil {
		return nil, nil, err
	}
	user := r.userOf(device)
	decided := map[uint64]bool{}
	for _, t := range tr {
		if t.DeviceID == device && t.UserID == user && t.Reason == relay.ReasonPushed {
			decided[t.PushID] = true
		}
	}
	for _, t := range tr {
		if t.DeviceID != device || t.UserID != user || r.judged[traceKey(t)] {
			continue
		}
		fresh = append(fresh, t)
		if t.Reason == relay.ReasonFCMOK && decided[t.PushID] {
			accepted = append(accepted, t)
		}
	}
	return accepted, fresh, nil
}

// markTraceJudged marks the trace entries of a device (every device: "") as judged.
func (r *runner) markTraceJudged(device string) error {
	if r.judged == nil {
		r.judged = map[string]bool{}
	}
	tr, err := r.w.Trace()
	for _, t := range tr {
		if device == "" || t.DeviceID == device {
			r.judged[traceKey(t)] = true
		}
	}
	return err
}

// traceKey names a trace entry, to tell entries already judged from new ones.
func traceKey(t relay.TraceEntry) string {
	return fmt.Sprintf("%d/%d/%s/%s/%d/%d/%s/%d", t.Time.UnixNano(), t.SDKAppID, t.UserID, t.DeviceID, t.PushID, t.Attempt, t.Reason, t.Seq)
}

// describeAccepted says what the trace showed: the pushes FCM accepted, or what it holds instead.
func (r *runner) describeAccepted(accepted, fresh []relay.TraceEntry) string {
	if len(accepted) > 0 {
		var parts []string
		for _, t := range accepted {
			parts = append(parts, fmt.Sprintf("push %d (%s) at %dms", t.PushID, seqsOf(t), r.ms(t.Time)))
		}
		return fmt.Sprintf("%d push(es) accepted by FCM — delivery not observable: %s", len(accepted), strings.Join(parts, ", "))
	}
	if len(fresh) == 0 {
		return "no push accepted by FCM (delivery not observable): no trace entry for the device"
	}
	var parts []string
	for _, t := range fresh {
		s := t.Reason
		if t.Detail != "" {
			s += " (" + t.Detail + ")"
		}
		parts = append(parts, fmt.Sprintf("%s at %dms", s, r.ms(t.Time)))
	}
	return "no push accepted by FCM (delivery not observable); the trace says: " + strings.Join(parts, ", ")
}

// seqsOf names the messages a trace entry is about.
func seqsOf(t relay.TraceEntry) string {
	if len(t.Seqs) > 0 {
		return fmt.Sprintf("seqs %v", t.Seqs)
	}
	return fmt.Sprintf("seq %d", t.Seq)
}

// cursorGroup names the observations an expectation consumes.
func cursorGroup(e *Expect) string {
	switch {
	case e.Push != nil, e.NoPush != nil:
		return "push"
	case e.Delivered != nil:
		return "msg"
	case e.Kicked != nil:
		return "kicked"
	default:
		return "none"
	}
}

// latestReason is the latest push-trace reason for a device: among decisions, or among FCM's
// answers (fcm-…).
func (r *runner) latestReason(device string, fcm bool) string {
	tr, err := r.w.Trace()
	if err != nil {
		return "(the push trace could not be read: " + err.Error() + ")"
	}
	for i := len(tr) - 1; i >= 0; i-- {
		e := tr[i]
		if e.DeviceID == device && strings.HasPrefix(e.Reason, relay.ReasonFCMPrefix) == fcm {
			return e.Reason
		}
	}
	return ""
}

func describePushes(obs []sim.Observation, ms func(time.Time) int64) string {
	if len(obs) == 0 {
		return "no push"
	}
	var parts []string
	for _, o := range obs {
		part := fmt.Sprintf("%q/%q badge %d key %q", o.Title, o.Text, o.Badge, o.CollapseKey)
		if o.Silent {
			part += " silent"
		}
		for _, f := range []struct{ what, v string }{{"channel", o.ChannelID}, {"sound", o.Sound}, {"click", o.ClickAction}} {
			if f.v != "" {
				part += fmt.Sprintf(" %s %q", f.what, f.v)
			}
		}
		parts = append(parts, fmt.Sprintf("%s at %dms", part, ms(o.At)))
	}
	return fmt.Sprintf("%d push(es): %s", len(obs), strings.Join(parts, ", "))
}

func describeMsgs(obs []sim.Observation, ms func(time.Time) int64) string {
	if len(obs) == 0 {
		return "no message"
	}
	var parts []string
	for _, o := range obs {
		parts = append(parts, fmt.Sprintf("%s %q at %dms", o.Kind, o.Text, ms(o.At)))
	}
	return strings.Join(parts, ", ")
}

func describeOther(obs []sim.Observation, ms func(time.Time) int64) string {
	if len(obs) == 0 {
		return "nothing"
	}
	var parts []string
	for _, o := range obs {
		parts = append(parts, fmt.Sprintf("%s %q at %dms", o.Kind, o.Detail, ms(o.At)))
	}
	return strings.Join(parts, ", ")
}
