package lab

import (
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim"
)

// pageView is what the page shows.
type pageView struct {
	CSRF      string
	Flash     string
	Version   uint64
	Platforms []string
	Phones    []phoneView
	Actions   int
	Ticks     int
	Swimlane  template.HTML
	CSS       template.CSS
}

// phoneView is one phone's card.
type phoneView struct {
	ID, User, Platform string
	State, StateClass  string
	Token              string
	Badge              int
	Buttons            []button
	Notifications      []itemView
	Messages           []itemView
	Trace              []traceView
	Events             []string
}

// itemView is a notification or a message on a phone, with the expectation that can be ticked.
type itemView struct {
	CSRF, Phone string
	Obs         int
	At          string
	Kind        string
	Seq         uint64
	What        string
	Badge       int
	Reasons     string
	Ticked      bool
	TickLabel   string
}

type traceView struct {
	At, Reason, Detail string
	Seq                string
}

// view builds the page's view of the session (takes mu).
func (l *Lab) view() (pageView, error) {
	l.mu.Lock()
	v := pageView{CSRF: l.csrf, Flash: l.flash, Version: l.version, Platforms: platforms(), Actions: len(l.actions),
		Ticks: len(l.ticks), CSS: reports.SwimlaneCSS()}
	for _, p := range l.phones {
		v.Phones = append(v.Phones, l.phoneView(p))
	}
	sc := l.swimlaneScenario()
	l.mu.Unlock()
	lane, err := reports.Swimlane(&sc)
	if err != nil {
		return v, err
	}
	v.Swimlane = lane
	return v, nil
}

// at is a time as the page shows it: from the session's start.
func (l *Lab) at(t time.Time) string {
	return t.Sub(l.start).Round(time.Millisecond).String()
}

// phoneView builds a phone's card (call holding mu).
func (l *Lab) phoneView(p *phone) phoneView {
	v := phoneView{ID: p.ID, User: p.User, Platform: p.Platform, State: "app not installed", StateClass: "st-none"}
	v.Buttons = buttons()
	var trace []relay.TraceEntry
	reasons := map[uint64][]string{}
	for _, e := range l.trace {
		if e.DeviceID != p.ID || e.UserID != p.User || e.Time.Before(l.start) {
			continue
		}
		trace = append(trace, e)
		for _, s := range append([]uint64{e.Seq}, e.Seqs...) {
			if s != 0 && !slices.Contains(reasons[s], e.Reason) {
				reasons[s] = append(reasons[s], e.Reason)
			}
		}
	}
	for i, o := range p.obs {
		v.State, v.StateClass = stateWords(o.State)
		switch o.Kind {
		case sim.ObsToken:
			v.Token = o.Detail
		case sim.ObsPush:
			seq, _ := strconv.ParseUint(o.Data[relay.PushDataSeq], 10, 64)
			v.Badge = o.Badge
			v.Notifications = append(v.Notifications, itemView{CSRF: l.csrf, Phone: p.ID, Obs: i, At: l.at(o.At), Kind: "notification", Seq: seq,
				What: describe(o), Badge: o.Badge, Reasons: strings.Join(reasons[seq], ", "),
				Ticked: l.ticks[tickKey{p.ID, i}], TickLabel: "expect notification"})
		case sim.ObsMsg, sim.ObsSynced:
			kind, label := "live", "expect delivered"
			if o.Kind == sim.ObsSynced {
				kind, label = "synced", "expect synced"
			}
			v.Messages = append(v.Messages, itemView{CSRF: l.csrf, Phone: p.ID, Obs: i, At: l.at(o.At), Kind: kind, Seq: o.Seq,
				What: describe(o), Reasons: strings.Join(reasons[o.Seq], ", "),
				Ticked: l.ticks[tickKey{p.ID, i}], TickLabel: label})
		default:
			what := string(o.Kind)
			if o.Detail != "" {
				what += ": " + o.Detail
			}
			v.Events = append(v.Events, l.at(o.At)+" "+what)
		}
	}
	if n := len(v.Events); n > 8 {
		v.Events = v.Events[n-8:]
	}
	for _, e := range trace {
		tv := traceView{At: l.at(e.Time), Reason: e.Reason, Detail: e.Detail}
		if e.Seq != 0 {
			tv.Seq = strconv.FormatUint(e.Seq, 10)
		} else if len(e.Seqs) > 0 {
			tv.Seq = strings.Trim(fmt.Sprint(e.Seqs), "[]")
		}
		v.Trace = append(v.Trace, tv)
	}
	return v
}

// stateWords says a phone's state in words, with the swimlane's class for its colour.
func stateWords(s sim.DeviceState) (string, string) {
	var words []string
	class := "st-idle"
	switch {
	case !s.Installed:
		return "app not installed", "st-none"
	case s.ForceStopped:
		words, class = append(words, "force-stopped"), "st-stopped"
	case s.App == sim.AppNotRunning:
		words, class = append(words, "not running"), "st-killed"
	case s.App == sim.AppForeground:
		words, class = append(words, "foreground"), "st-fg"
	case s.App == sim.AppBackground:
		words, class = append(words, "background"), "st-bg"
	}
	switch {
	case s.LoggedIn:
		words = append(words, "logged in")
	case s.Credentials:
		words = append(words, "credentials kept, not connected")
	default:
		words = append(words, "logged out")
		if class == "st-fg" || class == "st-bg" {
			class = "st-loggedout"
		}
	}
	if !s.NetUp {
		words = append(words, "network off")
	}
	return strings.Join(words, ", "), class
}

// swimlaneScenario is the session as a report's scenario, for its swimlane (call holding mu).
func (l *Lab) swimlaneScenario() reports.Scenario {
	ms := func(t time.Time) int64 { return t.Sub(l.start).Milliseconds() }
	sc := reports.Scenario{Name: "device lab session"}
	ids := map[string]bool{}
	for _, p := range l.phones {
		ids[p.ID] = true
		d := reports.Device{ID: p.ID, User: p.User, Events: []reports.Event{}}
		for _, o := range p.obs {
			st := o.State
			e := reports.Event{AtMs: ms(o.At), Kind: string(o.Kind), Seq: o.Seq, Title: o.Title, Text: o.Text, Detail: o.Detail,
				Conv: o.Conv, Badge: o.Badge, State: &reports.DeviceState{Installed: st.Installed, App: string(st.App),
					ForceStopped: st.ForceStopped, Credentials: st.Credentials, LoggedIn: st.LoggedIn, NetUp: st.NetUp}}
			if !o.Sent.IsZero() && (o.Kind == sim.ObsPush || o.Kind == sim.ObsMsg) {
				lat := o.At.Sub(o.Sent).Milliseconds()
				e.LatencyMs = &lat
			}
			d.Events = append(d.Events, e)
		}
		sc.Devices = append(sc.Devices, d)
	}
	for i, a := range l.actions {
		dev := a.Step.Device
		text := fmt.Sprintf("%s: %s", dev, a.Step.Kind)
		if s := a.Step.Send; s != nil {
			dev, text = s.From, fmt.Sprintf("%s sends %q to %s", s.From, s.Text, s.To)
		}
		sc.Steps = append(sc.Steps, reports.Step{Index: i + 1, Kind: string(a.Step.Kind), AtMs: ms(a.At), Text: text, Device: dev})
	}
	for _, e := range l.trace {
		if !ids[e.DeviceID] || e.Time.Before(l.start) {
			continue
		}
		sc.Trace = append(sc.Trace, reports.TraceEntry{AtMs: ms(e.Time), User: e.UserID, Device: e.DeviceID, Seq: e.Seq,
			Seqs: e.Seqs, Reason: e.Reason, PushID: e.PushID, Attempt: e.Attempt, Detail: e.Detail, MsgID: e.MsgID,
			CertificateID: e.CertificateID, FCMName: e.FCMName})
	}
	return sc
}

// describe says what an observation is, in words, for the page.
func describe(o sim.Observation) string {
	var b strings.Builder
	if o.Title != "" {
		fmt.Fprintf(&b, "%s: ", o.Title)
	}
	b.WriteString(o.Text)
	return b.String()
}
