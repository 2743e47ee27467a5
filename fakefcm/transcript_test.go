package fakefcm

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/transcript"
)

// TestTranscript runs fakefcm's core transcripts, testdata/*.txt. Each file starts with one
// project, demo (sender 123456789, package com.example.im), at a virtual time +0s. A command's
// output is what the core answered, then the deliveries it put in its outbox, then every record
// that is new or changed since the previous command. Tokens are printed by the device names the
// file gave them and message IDs as m1, m2, … in the order they were accepted. `go test
// ./fakefcm/ -run Transcript -rewrite` rewrites the expected outputs; read the diff before
// committing it.
//
// Commands (durations are Go's):
//
//	behaviour [latency=D] [jitter=D] [loss=F] [mode=delay|reject] [per-minute=N] [per-hour=N] [burst=N] [refill=D]
//	register dev=NAME
//	connect dev=NAME | disconnect dev=NAME | force-stop dev=NAME | uninstall dev=NAME
//	send dev=NAME [api=v1|legacy] [collapse=K] [ttl=D] [priority=high] [title=S] [body=S] [data] [validate-only]
//	ack dev=NAME msg=mN
//	tick [+D]              advance the clock, running each timer at its own time
//	fault [dev=NAME] [status=N] [code=C] [retry-after=D] [count=N] [latency=D] [loss]
//	faults                 list the rules in force with what they matched
//	records                print every record
//
// send sends a notification (title, body) unless it is given data, which makes it a data
// message; the two can be combined.
func TestTranscript(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			core, err := New(Config{Seed: 1})
			require.NoError(t, err)
			p, err := core.CreateProject(ProjectSpec{ID: "demo", SenderID: "123456789", PackageNames: []string{"com.example.im"}})
			require.NoError(t, err)
			tr := &fcmTranscript{core: core, clock: transcript.Clock{Start: epoch, Now: epoch}, project: p, tokens: map[string]string{}, names: map[string]string{},
				msgs: map[string]string{}, ids: map[string]string{}, printed: map[int64]string{}}
			datadriven.RunTest(t, path, tr.run)
		})
	}
}

// fcmTranscript is one file's core on a virtual clock, with the names the file uses.
type fcmTranscript struct {
	core    *Core
	clock   transcript.Clock
	project Project
	tokens  map[string]string // device name → token
	names   map[string]string // token → device name
	msgs    map[string]string // message ID → mN
	ids     map[string]string // mN → message ID
	printed map[int64]string  // each record as last printed
}

func (tr *fcmTranscript) run(t *testing.T, td *datadriven.TestData) string {
	a := transcript.NewArgs(t, td)
	defer a.Done()
	var b strings.Builder
	out := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	now := tr.clock.Now
	switch td.Cmd {
	case "behaviour":
		err := tr.core.SetBehaviour(Behaviour{
			Latency: duration.Of(a.Dur("latency", 0)), Jitter: duration.Of(a.Dur("jitter", 0)), Loss: a.Float("loss", 0),
			Throttles: Throttles{Mode: ThrottleMode(a.Str("mode", "")), DevicePerMinute: a.Int("per-minute", 0),
				DevicePerHour: a.Int("per-hour", 0), CollapsibleBurst: a.Int("burst", 0),
				CollapsibleRefill: duration.Of(a.Dur("refill", 0))}})
		out("%s", errOr(err, "ok"))
	case "register":
		name := a.Str("dev", "")
		require.NotEmpty(t, name, "%s: register dev=NAME", td.Pos)
		tok, err := tr.core.RegisterDevice(now, DeviceSpec{SenderID: tr.project.SenderID, PackageName: "com.example.im"})
		require.NoError(t, err)
		tr.tokens[name], tr.names[tok] = tok, name
		out("registered %s", name)
	case "connect":
		out("%s", errOr(tr.core.Connect(now, tr.token(t, a)), "connected"))
	case "disconnect":
		tr.core.Disconnect(now, tr.token(t, a))
		out("disconnected")
	case "force-stop":
		out("%s", errOr(tr.core.ForceStop(now, tr.token(t, a)), "force-stopped"))
	case "uninstall":
		out("%s", errOr(tr.core.Uninstall(now, tr.token(t, a)), "uninstalled"))
	case "send":
		out("%s", tr.send(t, a))
	case "ack":
		tok := tr.token(t, a)
		id, ok := tr.ids[a.Str("msg", "")]
		require.True(t, ok, "%s: ack msg=mN names an accepted message", td.Pos)
		out("%s", errOr(tr.core.Ack(now, tok, id), "acked"))
	case "tick":
		return tr.clock.Advance(a.By(), tr.core.NextWake, func(now time.Time) string {
			tr.core.Tick(now)
			var b strings.Builder
			tr.settle(&b)
			return b.String()
		})
	case "fault":
		rule := FaultRule{Status: a.Int("status", 0), ErrorCode: ErrorCode(a.Str("code", "")),
			RetryAfter: duration.Of(a.Dur("retry-after", 0)), Count: a.Int("count", 0),
			Latency: duration.Of(a.Dur("latency", 0)), Loss: a.Flag("loss")}
		if a.Has("dev") {
			rule.Token = tr.token(t, a)
		}
		out("%s", errOr(tr.core.AddFaults([]FaultRule{rule}), "added"))
	case "faults":
		for i, f := range tr.core.Faults() {
			out("rule %d %s", i+1, tr.fault(f))
		}
		if b.Len() == 0 {
			out("(no rules)")
		}
		return b.String()
	case "records":
		for _, r := range tr.core.Records(RecordFilter{}) {
			out("%s", tr.record(r))
		}
		return b.String()
	default:
		t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	}
	tr.settle(&b)
	return b.String()
}

// send sends one message to a device and prints the answer.
func (tr *fcmTranscript) send(t *testing.T, a *transcript.Args) string {
	m := Message{Token: tr.token(t, a)}
	android := &AndroidConfig{CollapseKey: a.Str("collapse", ""), Priority: a.Str("priority", "")}
	if a.Has("ttl") {
		ttl := a.Dur("ttl", 0)
		android.TTL = &ttl
	}
	m.Android = android
	data := a.Flag("data")
	if data {
		m.Data = map[string]string{"k": "v"}
	}
	if title, body := a.Str("title", ""), a.Str("body", ""); title != "" || body != "" || !data {
		m.Notification = &Notification{Title: title, Body: body}
	}
	res := tr.core.Send(tr.clock.Now, SendRequest{API: API(a.Str("api", string(APIV1))), Project: tr.project.ID, Message: m,
		ValidateOnly: a.Flag("validate-only")})
	if res.Err != nil {
		s := fmt.Sprintf("refused %s record=%d", res.Err.Code, res.Record)
		if res.Err.RetryAfter > 0 {
			s += fmt.Sprintf(" retry-after=%v", res.Err.RetryAfter)
		}
		return s
	}
	name := fmt.Sprintf("m%d", len(tr.msgs)+1)
	tr.msgs[res.MessageID], tr.ids[name] = name, res.MessageID
	s := fmt.Sprintf("accepted %s record=%d", name, res.Record)
	if res.Delay > 0 {
		s += fmt.Sprintf(" answer-delay=%v", res.Delay)
	}
	return s
}

// settle prints the outbox and the records that changed since they were last printed.
func (tr *fcmTranscript) settle(b *strings.Builder) {
	for _, d := range tr.core.TakeOutbox() {
		s := fmt.Sprintf("deliver %s %s", tr.names[d.Token], d.Kind)
		if m := d.Message; m != nil {
			s += " " + tr.remote(m)
		}
		fmt.Fprintln(b, s)
	}
	for _, r := range tr.core.Records(RecordFilter{}) {
		s := tr.record(r)
		if tr.printed[r.Seq] != s {
			tr.printed[r.Seq] = s
			fmt.Fprintln(b, s)
		}
	}
}

func (tr *fcmTranscript) at(t time.Time) string { return tr.clock.Since(t) }

// remote prints a message as the device receives it.
func (tr *fcmTranscript) remote(m *RemoteMessage) string {
	f := []string{tr.msgs[m.MessageID], "priority=" + m.Priority, fmt.Sprintf("ttl=%ds", m.TTLSeconds), "sent=" + tr.at(time.UnixMilli(m.SentTime))}
	if m.CollapseKey != "" {
		f = append(f, "collapse="+m.CollapseKey)
	}
	if n := m.Notification; n != nil {
		f = append(f, fmt.Sprintf("title=%q body=%q", n.Title, n.Body))
	}
	if len(m.Data) > 0 {
		keys := make([]string, 0, len(m.Data))
		for k := range m.Data {
			keys = append(keys, k+"="+m.Data[k])
		}
		slices.Sort(keys)
		f = append(f, "data=("+strings.Join(keys, " ")+")")
	}
	return strings.Join(f, " ")
}

// record prints one record: its seq, message, target and fate, then whatever else it holds.
func (tr *fcmTranscript) record(r Record) string {
	f := []string{fmt.Sprintf("record %d", r.Seq)}
	if name, ok := tr.msgs[r.MessageID]; ok {
		f = append(f, name)
	}
	f = append(f, "to="+tr.names[r.Token], "api="+string(r.API), "fate="+string(r.Fate), "received="+tr.at(r.ReceivedAt))
	add := func(k, v string) {
		if v != "" {
			f = append(f, k+"="+v)
		}
	}
	when := func(k string, t time.Time) {
		if !t.IsZero() {
			add(k, tr.at(t))
		}
	}
	add("error", string(r.Error))
	add("reason", r.Reason)
	when("dispatched", r.DispatchedAt)
	when("delivered", r.DeliveredAt)
	when("fate-at", r.FateAt)
	if r.Attempts > 0 {
		add("attempts", fmt.Sprint(r.Attempts))
	}
	add("throttle", r.Throttle)
	if r.ThrottledFor > 0 {
		add("throttled-for", r.ThrottledFor.D().String())
	}
	if r.ValidateOnly {
		f = append(f, "validate-only")
	}
	return strings.Join(f, " ")
}

func (tr *fcmTranscript) fault(f FaultRule) string {
	s := []string{}
	if f.Token != "" {
		s = append(s, "dev="+tr.names[f.Token])
	}
	if f.Status != 0 {
		s = append(s, fmt.Sprintf("status=%d", f.Status))
	}
	if f.ErrorCode != "" {
		s = append(s, "code="+string(f.ErrorCode))
	}
	if f.RetryAfter > 0 {
		s = append(s, "retry-after="+f.RetryAfter.D().String())
	}
	if f.Count > 0 {
		s = append(s, fmt.Sprintf("count=%d", f.Count))
	}
	if f.Latency > 0 {
		s = append(s, "latency="+f.Latency.D().String())
	}
	if f.Loss {
		s = append(s, "loss")
	}
	return strings.Join(append(s, fmt.Sprintf("matched=%d", f.Matched)), " ")
}

func (tr *fcmTranscript) token(t *testing.T, a *transcript.Args) string {
	name := a.Str("dev", "")
	tok, ok := tr.tokens[name]
	require.True(t, ok, "dev=%q was not registered", name)
	return tok
}

func errOr(err error, ok string) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return ok
}
