package reports

import (
	"fmt"
	"math"
	"strings"
)

// Geometry of a scenario's timeline, in SVG user units.
const (
	tlWidth      = 1200.0
	tlLabelWidth = 170.0 // lane names
	tlRight      = 24.0  // room for the last label
	tlAxis       = 40.0  // time labels and step markers above the lanes
	tlServerLane = 30.0  // the relay and fakefcm lanes
	tlDeviceLane = 48.0
	tlNetStrip   = 7.0 // the network strip at the bottom of a device lane
	tlTickGap    = 70.0
)

// timeline is a scenario drawn as swimlanes: one lane for the relay, one for fakefcm, one per
// device, time running left to right.
type timeline struct {
	Width, Height float64
	X0, X1        float64 // the plot's left and right
	Lanes         []lane
	// Drawn in this order: state and network bands, compressed gaps, expectation windows,
	// lines (grid, decisions, arrows), marks, texts.
	Bands, Gaps, Windows []svgBox
	Lines                []svgLine
	Marks                []svgMark
	Texts                []svgText
	Ticks                []svgText
	// Unrecorded are the devices whose events carry no state (a report written before devices
	// recorded their states): their lanes have no state or network bands.
	Unrecorded []string
}

// lane is one row of a timeline; Key goes into the data-lane attribute.
type lane struct {
	Key, Label, Sub string
	Class           string
	Y, H            float64
}

func (l lane) mid() float64 { return l.Y + l.H/2 }

// svgBox is a rectangle with a tooltip.
type svgBox struct {
	X, Y, W, H   float64
	Class, Title string
}

// svgLine is a line (an arrow, if its class says so) with a tooltip.
type svgLine struct {
	X1, Y1, X2, Y2 float64
	Class, Title   string
}

// svgMark is a small glyph (a path) with a tooltip.
type svgMark struct {
	D, Class, Title string
}

// svgText is a label; FailedExpect marks the label of a failed expectation, Violation that of
// a broken invariant.
type svgText struct {
	X, Y         float64
	Anchor       string // start, middle or end
	Class, Text  string
	Title        string
	FailedExpect bool
	Violation    bool
}

// r1 rounds to a tenth, which is all an SVG coordinate needs.
func r1(f float64) float64 { return math.Round(f*10) / 10 }

// buildTimeline lays out a scenario's timeline.
func buildTimeline(s *Scenario, pushes []Push) timeline {
	tl := timeline{Width: tlWidth, X0: tlLabelWidth, X1: tlWidth - tlRight}
	sc := newTimeScale(moments(s), tl.X0, tl.X1)
	x := func(ms int64) float64 { return r1(sc.x(ms)) }

	// Lanes.
	y := tlAxis
	relay := lane{Key: "relay", Label: "relay", Class: "lane-server", Y: y, H: tlServerLane}
	y += tlServerLane
	fcm := lane{Key: "fakefcm", Label: "fakefcm", Class: "lane-server", Y: y, H: tlServerLane}
	y += tlServerLane
	tl.Lanes = append(tl.Lanes, relay, fcm)
	devLane := map[string]lane{}
	for _, d := range s.Devices {
		l := lane{Key: "device:" + d.ID, Label: d.ID, Sub: d.User, Class: "lane-device", Y: y, H: tlDeviceLane}
		y += tlDeviceLane
		tl.Lanes = append(tl.Lanes, l)
		devLane[d.ID] = l
	}
	tl.Height = y + 6
	lanesTop, lanesBottom := tlAxis, y

	// Time labels.
	for i, t := range sc.ticks(tlTickGap) {
		anchor := "middle"
		switch {
		case i == 0:
			anchor = "start"
		case x(t) > tl.X1-tlTickGap/2:
			anchor = "end"
		}
		tl.Ticks = append(tl.Ticks, svgText{X: x(t), Y: 12, Anchor: anchor, Class: "tick", Text: clock(t)})
		tl.Lines = append(tl.Lines, svgLine{X1: x(t), Y1: 15, X2: x(t), Y2: lanesBottom, Class: "grid"})
	}

	// Device lanes: recorded states, network losses, what the device saw.
	for _, d := range s.Devices {
		l := devLane[d.ID]
		states, offline, recorded := stateBands(d, sc.end())
		if !recorded && len(d.Events) > 0 {
			tl.Unrecorded = append(tl.Unrecorded, d.ID)
		}
		for _, b := range states {
			tl.Bands = append(tl.Bands, svgBox{X: x(b.from), Y: l.Y + 3, W: max(r1(x(b.to)-x(b.from)), 0.5), H: l.H - tlNetStrip - 5,
				Class: "st " + b.class, Title: fmt.Sprintf("%s: %s, %s to %s", d.ID, b.label, clock(b.from), clock(b.to))})
		}
		for _, b := range offline {
			tl.Bands = append(tl.Bands, svgBox{X: x(b.from), Y: l.Y + l.H - tlNetStrip - 1, W: max(r1(x(b.to)-x(b.from)), 1), H: tlNetStrip,
				Class: "net-lost", Title: fmt.Sprintf("%s: no network, %s to %s", d.ID, clock(b.from), clock(b.to))})
		}
		tl.deviceEvents(d, l, relay, fcm, x)
	}

	// Compressed gaps, shaded across every lane, with their length on the axis.
	for _, g := range sc.gaps() {
		w := r1(g.X2 - g.X1)
		title := fmt.Sprintf("%s to %s: nothing happens for %s (drawn compressed)", clock(g.From), clock(g.To), clock(g.To-g.From))
		tl.Gaps = append(tl.Gaps, svgBox{X: r1(g.X1), Y: lanesTop, W: w, H: lanesBottom - lanesTop, Class: "gap", Title: title})
		if w >= 36 {
			tl.Texts = append(tl.Texts, svgText{X: r1((g.X1 + g.X2) / 2), Y: 27, Anchor: "middle", Class: "gap-label",
				Text: "≈ " + clock(g.To-g.From), Title: title})
		}
	}

	// Messages sent: from the sender's lane up to the relay.
	for _, st := range s.Steps {
		if st.Kind != "send" && st.Kind != "sendGroup" {
			continue
		}
		from, ok := devLane[sender(st, s.Devices)]
		if !ok {
			continue
		}
		tl.Lines = append(tl.Lines, svgLine{X1: x(st.AtMs), Y1: from.Y + 4, X2: x(st.AtMs), Y2: relay.Y + relay.H - 2, Class: "arrow msg",
			Title: fmt.Sprintf("%s: step %d: %s", clock(st.AtMs), st.Index, st.Text)})
	}

	// The relay's decisions.
	for _, e := range s.Trace {
		tl.Lines = append(tl.Lines, svgLine{X1: x(e.AtMs), Y1: relay.Y + 6, X2: x(e.AtMs), Y2: relay.Y + relay.H - 6,
			Class: "decision " + reasonClass(e.Reason), Title: traceText(e)})
	}

	// Pushes: relay → fakefcm; what fakefcm did with those that never arrived.
	for _, p := range pushes {
		title := pushText(p)
		tl.Lines = append(tl.Lines, svgLine{X1: x(p.SentAtMs), Y1: relay.mid(), X2: x(p.SentAtMs), Y2: fcm.Y + fcm.H - 4, Class: "arrow push", Title: title})
		if p.ArrivedAtMs == nil {
			at := p.SentAtMs
			if p.FateAtMs != nil {
				at = *p.FateAtMs
			}
			tl.Marks = append(tl.Marks, svgMark{D: cross(x(at), fcm.mid(), 4), Class: "fate " + fateClass(p.Fate), Title: title})
		}
	}

	// Steps, as markers above the lanes.
	for _, st := range s.Steps {
		cls := "step"
		title := fmt.Sprintf("%s: step %d (line %d): %s", clock(st.AtMs), st.Index, st.Line, st.Text)
		if st.Error != "" {
			cls += " step-error"
			title += " — " + st.Error
		}
		px := x(st.AtMs)
		tl.Marks = append(tl.Marks, svgMark{D: fmt.Sprintf("M%g %gl-4 -7h8z", px, tlAxis-1), Class: cls, Title: title})
	}

	// Expectations: a band over the device's lane for their window, red with the text if
	// they failed.
	labels := labelRows{}
	for _, e := range s.Expectations {
		l, ok := devLane[e.Device]
		if !ok {
			l = relay
		}
		x1, x2 := x(e.FromMs), x(e.ToMs)
		if x2-x1 < 4 {
			x1, x2 = x1-2, x1+2
		}
		title := fmt.Sprintf("step %d, %s to %s: expect %s — seen: %s", e.Step, clock(e.FromMs), clock(e.ToMs), e.Text, e.Seen)
		if e.Held {
			tl.Windows = append(tl.Windows, svgBox{X: x1, Y: l.Y + 1, W: r1(x2 - x1), H: 3, Class: "exp-held", Title: "held: " + title})
			continue
		}
		tl.Windows = append(tl.Windows, svgBox{X: x1, Y: l.Y + 1, W: r1(x2 - x1), H: l.H - 2, Class: "exp-failed", Title: "FAILED: " + title})
		label := "✘ step " + fmt.Sprint(e.Step) + ": " + e.Text
		tx, y, anchor, text := labels.place(l, label, x1, x2, tl.X0, tl.X1)
		tl.Texts = append(tl.Texts, svgText{X: r1(tx), Y: y, Anchor: anchor, Class: "fail-label", FailedExpect: true,
			Text: text, Title: "FAILED: " + title})
	}

	// Broken invariants: a red triangle on the device's lane (the relay's if none) when the
	// oracle found it, with the invariant's name.
	if s.Oracle != nil {
		for _, v := range s.Oracle.Violations {
			l, ok := devLane[v.Device]
			if !ok {
				l = relay
			}
			px := x(v.AtMs)
			title := fmt.Sprintf("INVARIANT BROKEN at %s, %s%s: %s — %s", clock(v.AtMs), v.When(), onDevice(v.Device), v.Invariant, v.Evidence)
			tl.Marks = append(tl.Marks, svgMark{D: triangle(px, l.Y+l.H-tlNetStrip-9, 6), Class: "violation", Title: title})
			tx, y, anchor, text := labels.place(l, "⚠ "+v.Invariant, px, px+1, tl.X0, tl.X1)
			tl.Texts = append(tl.Texts, svgText{X: r1(tx), Y: y, Anchor: anchor, Class: "fail-label", Violation: true, Text: text, Title: title})
		}
	}
	return tl
}

// deviceEvents draws what a device saw: pushes from fakefcm, messages and syncs from the relay,
// and the rest as marks.
func (tl *timeline) deviceEvents(d Device, l, relay, fcm lane, x func(int64) float64) {
	pushSeen := map[string]bool{}
	lastLabel := math.Inf(-1) // x of the lane's last latency label, to keep them apart
	names := bandNames(d.Events)
	var drawn bandName // the band the lane shows at the event
	for i, e := range d.Events {
		px := x(e.AtMs)
		before := drawn
		if e.State != nil {
			drawn = names[i]
		}
		switch e.Kind {
		case "push":
			sent := e.AtMs
			if e.LatencyMs != nil {
				sent -= *e.LatencyMs
			}
			cls, what := "arrow push", "push"
			if pushSeen[e.Detail] {
				cls, what = "arrow push dup", "duplicate push"
			}
			pushSeen[e.Detail] = true
			title := fmt.Sprintf("%s: %s %s to %s: sent %s, arrived %s", clock(e.AtMs), what, quoted(e.Title, e.Text), d.ID, clock(sent), clock(e.AtMs))
			if e.LatencyMs != nil {
				title += ", latency " + clock(*e.LatencyMs)
			}
			if e.Badge > 0 {
				title += fmt.Sprintf(", badge %d", e.Badge)
			}
			tl.Lines = append(tl.Lines, svgLine{X1: x(sent), Y1: fcm.mid(), X2: px, Y2: l.Y + 6, Class: cls, Title: title})
			if e.LatencyMs != nil && px-lastLabel >= 44 {
				tl.Texts = append(tl.Texts, svgText{X: px + 3, Y: l.Y + 14, Anchor: "start", Class: "latency", Text: clock(*e.LatencyMs), Title: title})
				lastLabel = px
			}
		case "msg":
			sent := e.AtMs
			if e.LatencyMs != nil {
				sent -= *e.LatencyMs
			}
			title := fmt.Sprintf("%s: message %d from %s %q arrived live", clock(e.AtMs), e.Seq, e.Title, e.Text)
			if e.LatencyMs != nil {
				title += ", latency " + clock(*e.LatencyMs)
			}
			tl.Lines = append(tl.Lines, svgLine{X1: x(sent), Y1: relay.mid(), X2: px, Y2: l.Y + 6, Class: "arrow msg", Title: title})
		case "synced":
			tl.Lines = append(tl.Lines, svgLine{X1: px, Y1: relay.mid(), X2: px, Y2: l.Y + 6, Class: "arrow sync",
				Title: fmt.Sprintf("%s: message %d from %s %q arrived by sync", clock(e.AtMs), e.Seq, e.Title, e.Text)})
		case "lifecycle":
			// A step whose state was not recorded, or that left the band as it was, is a
			// mark; the others show as a change of band.
			if e.State == nil || before == drawn {
				tl.Marks = append(tl.Marks, svgMark{D: diamond(px, l.Y+l.H-tlNetStrip-6, 3), Class: "ev ev-lifecycle",
					Title: fmt.Sprintf("%s: %s: %s", clock(e.AtMs), d.ID, e.Detail)})
			}
		default:
			title := fmt.Sprintf("%s: %s: %s", clock(e.AtMs), d.ID, e.Kind)
			if e.Seq != 0 {
				title += fmt.Sprintf(" message %d", e.Seq)
			}
			if e.Detail != "" {
				title += " — " + e.Detail
			}
			tl.Marks = append(tl.Marks, svgMark{D: circle(px, l.mid()+4, 3), Class: "ev ev-" + e.Kind, Title: title})
		}
	}
}

// Failure labels: at most failRows rows per lane, characters about failCharWidth wide.
const (
	failRows      = 3
	failRowHeight = 12.0
	failCharWidth = 6.4
	failMinChars  = 24
)

// labelRows places failure labels in a lane's rows so that they do not overlap.
type labelRows map[string][failRows][][2]float64

// place finds a row for a failure label over the window x1…x2 of lane l, written from the
// window's start (or, when there is more room to the left, ending at the window's end),
// shortened to the room it has, in the first row where it overlaps no other label. It returns
// where to write it and the text to write.
func (lr labelRows) place(l lane, label string, x1, x2, x0Min, x1Max float64) (x, y float64, anchor, text string) {
	rows := lr[l.Key]
	need := float64(len([]rune(label))) * failCharWidth
	x, anchor = x1+3, "start"
	room := x1Max - x
	if room < need && x2-3-x0Min > room {
		x, anchor, room = x2-3, "end", x2-3-x0Min
	}
	n := min(len([]rune(label)), max(int(room/failCharWidth), failMinChars))
	w := float64(n) * failCharWidth
	from, to := x, x+w
	if anchor == "end" {
		from, to = x-w, x
	}
	row := 0
	for ; row < failRows; row++ {
		free := true
		for _, sp := range rows[row] {
			if from < sp[1]+6 && sp[0] < to+6 {
				free = false
				break
			}
		}
		if free {
			break
		}
	}
	if row == failRows {
		// Every row is taken here: the last one, with the shortest label.
		row, n = failRows-1, min(n, failMinChars)
	}
	rows[row] = append(rows[row], [2]float64{from, to})
	lr[l.Key] = rows
	return x, l.Y + 13 + float64(row)*failRowHeight, anchor, shorten(label, n)
}

// moments are the times at which something happens in a scenario.
func moments(s *Scenario) []int64 {
	out := []int64{s.DurationMs}
	for _, st := range s.Steps {
		out = append(out, st.AtMs)
	}
	for _, e := range s.Expectations {
		out = append(out, e.FromMs, e.ToMs)
	}
	for _, d := range s.Devices {
		for _, e := range d.Events {
			out = append(out, e.AtMs)
			if e.LatencyMs != nil {
				out = append(out, e.AtMs-*e.LatencyMs)
			}
		}
	}
	for _, e := range s.Trace {
		out = append(out, e.AtMs)
	}
	if s.Oracle != nil {
		for _, v := range s.Oracle.Violations {
			out = append(out, v.AtMs)
		}
	}
	for _, m := range s.FCM {
		out = append(out, m.ReceivedAtMs)
		if m.FateAtMs != nil {
			out = append(out, *m.FateAtMs)
		}
	}
	return out
}

// band is a stretch of a device's time in one state.
type band struct {
	from, to     int64
	label, class string
}

// stateBands draws a device's recorded states: the bands of its app's state and the stretches
// it had no network. A state holds from the event that recorded it until the next event's; before
// the first recorded state nothing is drawn. recorded is false if no event carries a state (a
// report written before devices recorded theirs).
func stateBands(d Device, end int64) (states, offline []band, recorded bool) {
	names := bandNames(d.Events)
	var cur *DeviceState
	var from, lost int64
	var name bandName
	for i, e := range d.Events {
		if e.State == nil {
			continue
		}
		if cur == nil || names[i] != name {
			if cur != nil {
				states = appendBand(states, band{from, e.AtMs, name.label, name.class})
			}
			from, name = e.AtMs, names[i]
		}
		switch {
		case !e.State.NetUp && (cur == nil || cur.NetUp):
			lost = e.AtMs
		case e.State.NetUp && cur != nil && !cur.NetUp:
			offline = append(offline, band{from: lost, to: e.AtMs})
		}
		cur = e.State
	}
	if cur == nil {
		return nil, nil, false
	}
	states = appendBand(states, band{from, max(end, from), name.label, name.class})
	if !cur.NetUp {
		offline = append(offline, band{from: lost, to: max(end, lost)})
	}
	return states, offline, true
}

// appendBand appends b, leaving out an empty band and joining it to the last one if they show
// the same.
func appendBand(bands []band, b band) []band {
	switch n := len(bands); {
	case b.to <= b.from:
		return bands
	case n > 0 && bands[n-1].to == b.from && bands[n-1].label == b.label && bands[n-1].class == b.class:
		bands[n-1].to = b.to
		return bands
	}
	return append(bands, b)
}

// bandName is what a band says and the class that colours it.
type bandName struct{ label, class string }

// bandNames names the band of each event's recorded state (zero for an event without one). A
// phone without a user logged in is "logged out" once one was, before that "not logged in".
func bandNames(events []Event) []bandName {
	out := make([]bandName, len(events))
	hadUser := false
	for i, e := range events {
		if e.State == nil {
			continue
		}
		hadUser = hadUser || e.State.Credentials
		out[i] = stateName(*e.State, hadUser)
	}
	return out
}

// stateName names a recorded state; hadUser says a user is or was logged in on the phone.
func stateName(s DeviceState, hadUser bool) bandName {
	running := s.App == "foreground" || s.App == "background"
	noUser := ", not logged in"
	if hadUser {
		noUser = ", logged out"
	}
	switch {
	case !s.Installed:
		return bandName{"not installed", "st-none"}
	case running && s.LoggedIn:
		return bandName{s.App, map[string]string{"foreground": "st-fg", "background": "st-bg"}[s.App]}
	case running && s.Credentials:
		return bandName{s.App + ", connecting", "st-connecting"}
	case running:
		return bandName{s.App + noUser, "st-loggedout"}
	case s.ForceStopped && s.Credentials:
		return bandName{"force-stopped, logged in", "st-stopped"}
	case s.ForceStopped && hadUser:
		return bandName{"force-stopped, logged out", "st-loggedout"}
	case s.ForceStopped:
		return bandName{"force-stopped", "st-stopped"}
	case s.Credentials:
		return bandName{"not running, logged in", "st-killed"}
	case hadUser:
		return bandName{"not running, logged out", "st-loggedout"}
	}
	return bandName{"not running", "st-idle"}
}

// sender is the device a send step sends from: the step's device, or, for runners that do not
// name it, the device its text starts with.
func sender(st Step, devices []Device) string {
	if st.Device != "" {
		return st.Device
	}
	for _, d := range devices {
		if strings.HasPrefix(st.Text, d.ID+" sends ") {
			return d.ID
		}
	}
	return ""
}

// reasonClass groups push-trace reasons for colouring.
func reasonClass(reason string) string {
	switch {
	case reason == "pushed":
		return "r-pushed"
	case reason == "fcm-ok":
		return "r-fcm-ok"
	case strings.HasPrefix(reason, "fcm-"):
		return "r-fcm-error"
	case reason == "online":
		return "r-online"
	case reason == "capped-coalesced":
		return "r-held"
	}
	return "r-none"
}

// fateClass groups FCM fates for colouring.
func fateClass(fate string) string {
	switch fate {
	case "delivered":
		return "f-delivered"
	case "pending", "in-flight":
		return "f-pending"
	case "collapsed", "collapse-key-limit", "too-many-pending", "ttl-expired":
		return "f-dropped"
	}
	return "f-failed"
}

func traceText(e TraceEntry) string {
	s := fmt.Sprintf("%s: relay: %s for %s", clock(e.AtMs), e.Reason, e.Device)
	switch {
	case len(e.Seqs) > 0:
		s += fmt.Sprintf(", messages %v", e.Seqs)
	case e.Seq != 0:
		s += fmt.Sprintf(", message %d", e.Seq)
	}
	if e.PushID != 0 {
		s += fmt.Sprintf(" (push %d, attempt %d)", e.PushID, e.Attempt)
	}
	if e.Detail != "" {
		s += " — " + e.Detail
	}
	return s
}

func pushText(p Push) string {
	s := fmt.Sprintf("%s: push %s to %s, FCM message %d: %s", clock(p.SentAtMs), quoted(p.Title, p.Body), orNone(p.Device), p.FCMSeq, p.Fate)
	if p.Error != "" {
		s += " " + p.Error
	}
	if p.FateAtMs != nil {
		s += " at " + clock(*p.FateAtMs)
	}
	if p.ArrivedAtMs != nil {
		s += fmt.Sprintf("; arrived %s (latency %s)", clock(*p.ArrivedAtMs), clock(*p.LatencyMs))
	}
	if p.Arrivals > 1 {
		s += fmt.Sprintf(", %d times", p.Arrivals)
	}
	return s
}

func quoted(title, body string) string { return fmt.Sprintf("%q: %q", title, body) }

func orNone(device string) string {
	if device == "" {
		return "an unknown token"
	}
	return device
}

// shorten cuts s to at most n runes.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func circle(x, y, r float64) string {
	return fmt.Sprintf("M%g %ga%g %g 0 1 0 %g 0a%g %g 0 1 0 %g 0z", r1(x-r), r1(y), r, r, 2*r, r, r, -2*r)
}

func diamond(x, y, r float64) string {
	return fmt.Sprintf("M%g %gl%g %gl%g %gl%g %gz", r1(x), r1(y-r), r, r, -r, r, -r, -r)
}

// triangle is an upward triangle of half-width r with its base at y.
func triangle(x, y, r float64) string {
	return fmt.Sprintf("M%g %gl%g %gh%gz", r1(x), r1(y-1.6*r), r, r1(1.6*r), -2*r)
}

func cross(x, y, r float64) string {
	return fmt.Sprintf("M%g %gl%g %gm0 %gl%g %g", r1(x-r), r1(y-r), 2*r, 2*r, -2*r, -2*r, 2*r)
}
