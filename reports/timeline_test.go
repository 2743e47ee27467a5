package reports

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestTimeScaleKeepsOrderAndEnds(t *testing.T) {
	sc := newTimeScale([]int64{300, 40, 7_200_000, 40, 5_000, 7_205_000}, 100, 1100)
	require.Equal(t, 100.0, sc.x(0))
	require.Equal(t, 1100.0, sc.x(7_205_000))
	require.Equal(t, 100.0, sc.x(-5), "before the start: at the start")
	require.Equal(t, 1100.0, sc.x(9_000_000), "after the end: at the end")
	prev := sc.x(0)
	for ms := int64(1); ms <= 7_205_000; ms += 997 {
		x := sc.x(ms)
		require.GreaterOrEqual(t, x, prev, "x(%d)", ms)
		prev = x
	}
}

func TestTimeScaleCompressesIdleGapsNotActivity(t *testing.T) {
	// Frames 40 ms apart, then a two-hour wait, then a push 90 ms after a send.
	sc := newTimeScale([]int64{40, 80, 120, 160, 7_200_160, 7_200_250}, 0, 1000)
	frame := sc.x(80) - sc.x(40)
	wait := sc.x(7_200_160) - sc.x(160)
	push := sc.x(7_200_250) - sc.x(7_200_160)
	require.InDelta(t, frame, sc.x(120)-sc.x(80), 1e-9, "equal gaps, equal room")
	require.InDelta(t, push/frame, 90.0/40, 1e-9, "short gaps are to scale")
	require.Less(t, wait, 50*frame, "two hours take the room of less than 50 frame exchanges")
	require.Greater(t, frame, 10.0, "a frame exchange stays readable next to hours of waiting")
	require.Equal(t, []compressedGap{{From: 160, To: 7_200_160, X1: sc.x(160), X2: sc.x(7_200_160)}}, sc.gaps())
}

func TestTimeScaleTicksKeepLabelsApart(t *testing.T) {
	sc := newTimeScale([]int64{1, 2, 3, 50, 100, 2000, 2001, 60_000}, 0, 1000)
	ticks := sc.ticks(70)
	require.Equal(t, int64(0), ticks[0])
	for i := 1; i < len(ticks); i++ {
		require.GreaterOrEqual(t, sc.x(ticks[i])-sc.x(ticks[i-1]), 70.0)
	}
}

func TestTimeScaleOfAnEmptyScenario(t *testing.T) {
	sc := newTimeScale(nil, 10, 20)
	require.Equal(t, 10.0, sc.x(0))
	require.Equal(t, 10.0, sc.x(100))
	require.Empty(t, sc.gaps())
}

func TestBandsComeFromRecordedStates(t *testing.T) {
	stopped := DeviceState{Installed: true, App: "not-running", ForceStopped: true, Credentials: true, NetUp: true}
	connecting := stLoggingIn
	loggedOut := stRefused
	d := Device{ID: "alice-phone", Events: []Event{
		withState(stInstalled, Event{AtMs: 0, Kind: "lifecycle", Detail: "install"}),
		withState(stLoggedIn, Event{AtMs: 40, Kind: "connected"}),
		{AtMs: 100, Kind: "lifecycle", Detail: "kill"}, // no state recorded: no change of band
		// No lifecycle step says so: the band shows what the state says.
		withState(stopped, Event{AtMs: 300, Kind: "token"}),
		withState(connecting, Event{AtMs: 500, Kind: "closed"}),
		withState(stOffline, Event{AtMs: 600, Kind: "msg"}),
		withState(stOffline, Event{AtMs: 650, Kind: "msg"}),
		withState(loggedOut, Event{AtMs: 700, Kind: "kicked"}),
	}}
	states, offline, recorded := stateBands(d, 1000)
	require.True(t, recorded)
	want := []band{
		{0, 40, "not running", "st-idle"},
		{40, 300, "foreground", "st-fg"},
		{300, 500, "force-stopped, logged in", "st-stopped"},
		{500, 600, "foreground, connecting", "st-connecting"},
		{600, 700, "foreground", "st-fg"},
		{700, 1000, "foreground, logged out", "st-loggedout"},
	}
	if diff := cmp.Diff(want, states, cmp.AllowUnexported(band{})); diff != "" {
		t.Errorf("bands (-want +got):\n%s", diff)
	}
	require.Equal(t, []band{{from: 600, to: 700}}, offline)
}

func TestStateNames(t *testing.T) {
	for _, c := range []struct {
		state   DeviceState
		hadUser bool
		want    bandName
	}{
		{DeviceState{App: "not-running", NetUp: true}, true, bandName{"not installed", "st-none"}},
		{stInstalled, false, bandName{"not running", "st-idle"}},
		{stInstalled, true, bandName{"not running, logged out", "st-loggedout"}},
		{stLoggedIn, true, bandName{"foreground", "st-fg"}},
		{DeviceState{Installed: true, App: "background", Credentials: true, LoggedIn: true}, true, bandName{"background", "st-bg"}},
		{DeviceState{Installed: true, App: "background", Credentials: true}, true, bandName{"background, connecting", "st-connecting"}},
		{stRefused, false, bandName{"foreground, not logged in", "st-loggedout"}},
		{stRefused, true, bandName{"foreground, logged out", "st-loggedout"}},
		{stKilled, true, bandName{"not running, logged in", "st-killed"}},
		{DeviceState{Installed: true, App: "not-running", ForceStopped: true, Credentials: true}, true, bandName{"force-stopped, logged in", "st-stopped"}},
		{DeviceState{Installed: true, App: "not-running", ForceStopped: true}, true, bandName{"force-stopped, logged out", "st-loggedout"}},
		{DeviceState{Installed: true, App: "not-running", ForceStopped: true}, false, bandName{"force-stopped", "st-stopped"}},
	} {
		require.Equal(t, c.want, stateName(c.state, c.hadUser), "%+v, hadUser %v", c.state, c.hadUser)
	}
}

func TestNetworkLossRunsToTheEndIfNotRestored(t *testing.T) {
	d := Device{Events: []Event{
		withState(stOffline, Event{AtMs: 10, Kind: "lifecycle", Detail: "netLoss"}),
		withState(stLoggedIn, Event{AtMs: 30, Kind: "lifecycle", Detail: "netRestore"}),
		withState(stOffline, Event{AtMs: 50, Kind: "lifecycle", Detail: "netLoss"}),
	}}
	_, offline, _ := stateBands(d, 70)
	require.Equal(t, []band{{from: 10, to: 30}, {from: 50, to: 70}}, offline)
}

func TestAReportWithoutStatesDrawsNoBands(t *testing.T) {
	r := SampleReport()
	s := &r.Scenarios[1]
	for _, d := range s.Devices {
		for i := range d.Events {
			d.Events[i].State = nil
		}
	}
	tl := buildTimeline(s, s.Pushes)
	require.Empty(t, tl.Bands, "neither state nor network bands")
	require.Equal(t, []string{"alice-phone", "bob-phone"}, tl.Unrecorded)
	var steps []string
	for _, m := range tl.Marks {
		if m.Class == "ev ev-lifecycle" {
			steps = append(steps, m.Title[strings.LastIndex(m.Title, ": ")+2:])
		}
	}
	require.Equal(t, []string{"install", "login", "kill", "install", "login", "netLoss", "netRestore"}, steps,
		"every lifecycle step is a mark")
}

func TestSenderOfASendStep(t *testing.T) {
	devices := []Device{{ID: "bob"}, {ID: "bob-phone"}}
	require.Equal(t, "bob-phone", sender(Step{Text: `bob-phone sends "hi" to alice`}, devices))
	require.Equal(t, "bob", sender(Step{Text: `bob sends "hi" to alice`}, devices))
	require.Equal(t, "x", sender(Step{Device: "x", Text: `bob sends "hi"`}, devices))
	require.Empty(t, sender(Step{Text: "the administrator kicks bob"}, devices))
}

func TestTimelineDrawsPushesMessagesAndFailures(t *testing.T) {
	r := SampleReport()
	s := &r.Scenarios[1]
	tl := buildTimeline(s, s.Pushes)
	count := func(class string) int {
		n := 0
		for _, l := range tl.Lines {
			if l.Class == class {
				n++
			}
		}
		return n
	}
	require.Equal(t, 2+1, count("arrow push"), "relay → fakefcm for each of the two FCM messages, fakefcm → device for the first arrival")
	require.Equal(t, 1, count("arrow push dup"), "the second arrival of the same message")
	require.Equal(t, 1, count("arrow msg"), "bob's send, up to the relay")
	require.Len(t, tl.Marks, 1+len(s.Steps)+3+1+1, "one collapsed push; steps; a token and two connections; the net loss (the restore changes the band); the broken invariant")
	broken := tl.Marks[len(tl.Marks)-1]
	require.Equal(t, "violation", broken.Class)
	require.Contains(t, broken.Title, "during step 4, on alice-phone: "+sampleInvariant+" — "+sampleEvidence)
	var lane lane
	for _, l := range tl.Lanes {
		if l.Key == "device:alice-phone" {
			lane = l
		}
	}
	var x, y float64
	_, err := fmt.Sscanf(broken.D, "M%g %g", &x, &y)
	require.NoError(t, err)
	require.Equal(t, r1(newTimeScale(moments(s), tl.X0, tl.X1).x(320)), x, "at the time it broke")
	require.True(t, lane.Y < y && y < lane.Y+lane.H, "on alice-phone's lane")
	var failed int
	for _, w := range tl.Windows {
		if w.Class == "exp-failed" {
			failed++
			require.Contains(t, w.Title, sampleFailedText)
			require.Contains(t, w.Title, sampleSeen)
		}
	}
	require.Equal(t, 1, failed)
}

func TestFailureLabelsDoNotOverlap(t *testing.T) {
	l := lane{Key: "device:a", Y: 100, H: tlDeviceLane}
	lr := labelRows{}
	long := "a push saying \"something rather long\" on a within 5s"
	_, y1, _, _ := lr.place(l, long, 200, 300, 170, 1176)
	_, y2, _, _ := lr.place(l, long, 260, 300, 170, 1176) // starts under the first label
	_, y3, _, _ := lr.place(l, long, 280, 300, 170, 1176)
	_, y4, _, text := lr.place(l, "short", 900, 950, 170, 1176) // clear of the others
	require.Equal(t, []float64{113, 125, 137, 113}, []float64{y1, y2, y3, y4})
	require.Equal(t, "short", text)

	x, _, anchor, text := lr.place(lane{Key: "device:b", Y: 0}, long, 1150, 1170, 170, 1176)
	require.Equal(t, "end", anchor, "near the right end, written leftwards")
	require.Equal(t, 1167.0, x)
	require.Equal(t, long, text, "with room enough for all of it")
}

// Swimlane draws a session alone, as the report does: one lane per device plus the relay and
// fakefcm, with the arrow markers its arrows use, and what the devices saw escaped.
func TestSwimlaneAloneHasTheReportsLanesAndEscapes(t *testing.T) {
	hostile := `<script>alert(1)</script>"><img src=x onerror=alert(1)>`
	s := &Scenario{Devices: []Device{
		{ID: "alice-phone", User: "alice", Events: []Event{{AtMs: 10, Kind: "push", Title: hostile, Text: hostile, State: &DeviceState{Installed: true, App: "not-running", NetUp: true}}}},
		{ID: "bob-phone", User: hostile},
	}, Trace: []TraceEntry{{AtMs: 5, User: "alice", Device: "alice-phone", Reason: "pushed", Detail: hostile}}}
	got, err := Swimlane(s)
	require.NoError(t, err)
	html := string(got)
	for _, lane := range []string{`data-lane="relay"`, `data-lane="fakefcm"`, `data-lane="device:alice-phone"`, `data-lane="device:bob-phone"`} {
		require.Contains(t, html, lane)
	}
	require.Contains(t, html, `<marker id="pl-arrow-push"`)
	require.NotContains(t, html, "<script>")
	require.NotContains(t, html, "<img")
	require.Contains(t, string(SwimlaneCSS()), ".timeline{")
}
