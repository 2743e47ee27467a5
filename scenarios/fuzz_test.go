package scenarios

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pushlab/pushlab/internal/yamlfile"
)

// parseDeadline bounds one Parse: anything slower on an input under the size limit is a hang.
const parseDeadline = 10 * time.Second

// FuzzParse feeds arbitrary bytes to the scenario parser. It must return within parseDeadline,
// never panic, and either refuse the input with an error that names the file (and, for what has
// a place, line and column) or hand back a scenario the runner can play without tripping over a
// missing part. The seeds are the library, the parser's refusals and YAML's alias tricks; they
// run in every `go test`.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("library/*.yaml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no library scenarios to seed from: %v", err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"\x00",
		"name: x\n",
		header,
		header + "  - kil: alice-phone\n",
		header + "  - kill\n",
		header + "  - {kill: alice-phone, logout: alice-phone}\n",
		header + "  - send:\n",
		header + "  - expect:\n",
		header + "  - network:\n",
		header + "  - fault:\n",
		header + "  - createGroup:\n",
		header + "  - setReceiveOpt:\n",
		header + "  - wait: -1s\n",
		header + "  - ? [a, b]\n    : c\n",
		header + "  - !!binary aGk=: alice-phone\n",
		header + "  - kill: &d alice-phone\n  - logout: *d\n",
		header + "  - kill: *undefined\n",
		"name: x\ndevices: &d [{id: a, user: u}]\nsteps: *d\n",
		"a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nname: *c\n",
		"name: x\ndevices:\n  - &dev {id: a, user: u}\n  - <<: *dev\n    id: b\nsteps: [{kill: a}]\n",
		"name: x\n---\nname: y\n",
		"[1, 2, 3]\n",
		"name: {a: b}\n",
		"name: x\ndevices: [{id: a, user: u, installed: maybe}]\nsteps: [{kill: a}]\n",
		"name: x\ndevices: [{id: a, user: u}]\nsteps: [{expect: {device: a, push: {within: 1s, count: -1}}}]\n",
		"name: \"\\uD800\"\ndevices: [{id: a, user: u}]\nsteps: [{kill: a}]\n",
		"\t- kill: a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var sc *Scenario
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc, err = Parse("fuzz.yaml", data)
		}()
		select {
		case <-done:
		case <-time.After(parseDeadline):
			t.Fatalf("Parse did not return within %v on %q", parseDeadline, data)
		}
		if err != nil {
			checkParseError(t, data, err)
			return
		}
		checkPlayable(t, sc)
	})
}

// checkParseError holds a refusal to what the README promises: it names the file, a positioned
// error has a line and column inside the file, and the message says something.
func checkParseError(t *testing.T, data []byte, err error) {
	t.Helper()
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "fuzz.yaml:")
	if !ok || strings.TrimSpace(rest) == "" {
		t.Fatalf("error does not name the file or says nothing: %q (input %q)", msg, data)
	}
	var ye *yamlfile.Error
	if errors.As(err, &ye) {
		lines := strings.Count(string(data), "\n") + 1
		if ye.Line < 1 || ye.Line > lines+1 || ye.Column < 1 || strings.TrimSpace(ye.Msg) == "" {
			t.Fatalf("positioned error without a usable place or message: line %d col %d (file has %d lines) %q (input %q)",
				ye.Line, ye.Column, lines, ye.Msg, data)
		}
	}
}

// checkPlayable holds an accepted scenario to what the runner relies on without checking again.
func checkPlayable(t *testing.T, sc *Scenario) {
	t.Helper()
	if sc == nil || sc.Name == "" || len(sc.Devices) == 0 || len(sc.Steps) == 0 || len(sc.Apps) == 0 || len(sc.Certificates) == 0 {
		t.Fatalf("accepted a scenario without name, devices, steps, apps or certificates: %+v", sc)
	}
	devices := map[string]bool{}
	for _, d := range sc.Devices {
		devices[d.ID] = true
	}
	for i, st := range sc.Steps {
		if !slices.Contains(AllSteps, st.Kind) {
			t.Fatalf("step %d: accepted unknown kind %q", i+1, st.Kind)
		}
		if st.Pos.Line < 1 || st.Pos.Column < 1 {
			t.Fatalf("step %d (%s) has no position: %+v", i+1, st.Kind, st.Pos)
		}
		missing := false
		switch st.Kind {
		case StepSwitchUser:
			missing = !devices[st.Device] || st.User == ""
		case StepSend, StepSendGroup:
			missing = st.Send == nil || !devices[st.Send.From]
		case StepCreateGroup:
			missing = st.CreateGroup == nil
		case StepSetReceiveOpt:
			missing = st.ReceiveOpt == nil || !devices[st.ReceiveOpt.Device]
		case StepFault:
			missing = st.Fault == nil
		case StepNetwork:
			missing = st.Network == nil || (st.Network.Link == "fcm" && st.Network.Partition == nil)
		case StepExpect:
			missing = st.Expect == nil || !devices[st.Expect.Device]
		default:
			if slices.Contains(DeviceSteps, st.Kind) {
				missing = !devices[st.Device]
			}
		}
		if missing {
			t.Fatalf("step %d (%s) accepted without what the runner needs: %+v", i+1, st.Kind, st)
		}
	}
	if _, err := json.Marshal(sc); err != nil {
		t.Fatalf("an accepted scenario does not encode for the report: %v", err)
	}
}
