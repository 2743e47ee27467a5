package scenarios

import (
	"errors"
	"strings"
	"time"

	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim"
)

// finish runs the oracle's end-of-run checks (unless setup failed or the run was interrupted),
// collects timelines, trace and FCM records, and sums up.
func (r *runner) finish() {
	atEnd := 0
	check := r.oracle != nil && r.out.Error == ""
	if r.oracle != nil {
		atEnd = len(r.oracle.Violations())
	}
	if check {
		r.settleForOracle()
	}
	end := r.w.Now()
	r.out.DurationMs = r.ms(end)
	byToken := map[string]string{}
	r.w.Do(func() {
		for _, dc := range r.sc.Devices {
			d := r.devices[dc.ID]
			if d == nil {
				continue
			}
			user := dc.User
			if us := r.users[dc.ID]; len(us) > 1 {
				user = strings.Join(us, " → ") // a phone that changed hands
			}
			dev := reports.Device{ID: dc.ID, User: user, Events: []reports.Event{}}
			for _, o := range d.Observations() {
				dev.Events = append(dev.Events, r.event(o))
			}
			for _, tok := range d.Tokens() {
				byToken[tok] = dc.ID
			}
			r.out.Devices = append(r.out.Devices, dev)
		}
	})
	r.out.Trace = []reports.TraceEntry{}
	trace, err := r.w.Trace()
	if err != nil {
		r.out.Error = joinErrors(r.out.Error, "push trace: "+err.Error())
	}
	for _, e := range trace {
		r.out.Trace = append(r.out.Trace, reports.TraceEntry{AtMs: r.ms(e.Time), User: e.UserID, Device: e.DeviceID,
			Seq: e.Seq, Seqs: e.Seqs, Reason: e.Reason, PushID: e.PushID, Attempt: e.Attempt, Detail: e.Detail,
			MsgID: e.MsgID, CertificateID: e.CertificateID, FCMName: e.FCMName})
	}
	r.out.FCM = []reports.FCMMessage{}
	records, err := r.w.FCMRecords()
	if err != nil && !errors.Is(err, sim.ErrUnsupported) {
		r.out.Error = joinErrors(r.out.Error, "FCM records: "+err.Error())
	}
	if check {
		r.checkAtEnd(trace, records)
	}
	for _, rec := range records {
		m := reports.FCMMessage{Seq: rec.Seq, Device: byToken[rec.Token], API: string(rec.API), ReceivedAtMs: r.ms(rec.ReceivedAt),
			Fate: string(rec.Fate), Error: string(rec.Error), Reason: rec.Reason, Attempts: rec.Attempts, Throttle: rec.Throttle,
			Name: rec.Name, MessageID: rec.MessageID, ThrottledForMs: rec.ThrottledFor.D().Milliseconds()}
		for _, t := range []struct {
			at  time.Time
			dst **int64
		}{{rec.FateAt, &m.FateAtMs}, {rec.DispatchedAt, &m.DispatchedAtMs}, {rec.DeliveredAt, &m.DeliveredAtMs}} {
			if !t.at.IsZero() {
				ms := r.ms(t.at)
				*t.dst = &ms
			}
		}
		if rec.Payload != nil {
			m.CollapseKey = rec.Payload.CollapseKey
			if n := rec.Payload.Notification; n != nil {
				m.Title, m.Body, m.ChannelID = n.Title, n.Body, n.ChannelID
			} else {
				m.DataOnly = true
			}
		}
		r.out.FCM = append(r.out.FCM, m)
	}
	r.out.Oracle = r.oracleReport(atEnd)
	r.out.Passed = r.out.Error == "" && len(r.out.Oracle.Violations) == 0
	for _, s := range r.out.Steps {
		if s.Error != "" {
			r.out.Passed = false
		}
	}
	for _, e := range r.out.Expectations {
		if !e.Held {
			r.out.Passed = false
		}
	}
	r.out.Totals = reports.SummarizeScenario(&r.out)
}

// joinErrors adds a line to a scenario's error.
func joinErrors(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// event turns an observation into a report event.
func (r *runner) event(o sim.Observation) reports.Event {
	st := o.State
	e := reports.Event{AtMs: r.ms(o.At), Kind: string(o.Kind), Seq: o.Seq, Title: o.Title, Text: o.Text, Detail: o.Detail,
		Conv: o.Conv, Badge: o.Badge, CollapseKey: o.CollapseKey, Data: o.Data,
		ChannelID: o.ChannelID, ClickAction: o.ClickAction, Silent: o.Silent, State: &reports.DeviceState{Installed: st.Installed, App: string(st.App),
			ForceStopped: st.ForceStopped, Credentials: st.Credentials, LoggedIn: st.LoggedIn, NetUp: st.NetUp}}
	if !o.Sent.IsZero() && (o.Kind == sim.ObsPush || o.Kind == sim.ObsMsg) {
		lat := o.At.Sub(o.Sent).Milliseconds()
		e.LatencyMs = &lat
	}
	return e
}
