package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/reports"
)

const tinyScenario = `
name: a killed phone gets a push
devices:
  - {id: alice-phone, user: alice}
  - {id: bob-phone, user: bob}
steps:
  - login: alice-phone
  - login: bob-phone
  - kill: alice-phone
  - send: {from: bob-phone, to: alice, text: hi}
  - expect: {device: alice-phone, push: {within: 5s, body: hi}}
`

// pushsim runs the command line and returns its exit code and what it printed.
func pushsim(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = dispatch(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunEndsWithASummaryTable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tiny.yaml")
	require.NoError(t, os.WriteFile(file, []byte(tinyScenario), 0o644))
	code, out, errOut := pushsim("run", "--out", filepath.Join(dir, "out"), file)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "PASS  a killed phone gets a push")
	table := out[strings.Index(out, "┌"):]
	for _, want := range []string{"pushsim run: seed 1, virtual mode", "1 passed, 0 failed", "1 of 1", "1, 1 delivered (100.0%)",
		"push latency p50 / p90 / p99", "push decisions by reason", "pushed", "fcm-ok"} {
		require.Contains(t, table, want)
	}
	require.Contains(t, out, "1 passed, 0 failed (1 of 1 expectations held)")
}

func TestReportRendersAgainFromSavedJSON(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tiny.yaml")
	require.NoError(t, os.WriteFile(file, []byte(tinyScenario), 0o644))
	runDir := filepath.Join(dir, "run")
	code, _, errOut := pushsim("run", "--out", runDir, file)
	require.Equal(t, 0, code, errOut)
	saved := filepath.Join(runDir, reports.JSONFile)

	// Into another folder, the flag after the file.
	site := filepath.Join(dir, "site")
	code, out, errOut := pushsim("report", saved, "--out", site)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, site)
	for _, f := range []string{reports.HTMLFile, reports.JUnitFile} {
		want, err := os.ReadFile(filepath.Join(runDir, f))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(site, f))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "%s rendered again is the one the run wrote", f)
	}
	_, err := os.Stat(filepath.Join(site, reports.JSONFile))
	require.ErrorIs(t, err, os.ErrNotExist, "the JSON is read, not written")

	// By default, beside the JSON.
	require.NoError(t, os.Remove(filepath.Join(runDir, reports.HTMLFile)))
	code, _, errOut = pushsim("report", saved)
	require.Equal(t, 0, code, errOut)
	_, err = os.Stat(filepath.Join(runDir, reports.HTMLFile))
	require.NoError(t, err)
}

func TestReportRendersAReportWrittenBeforeDeviceStates(t *testing.T) {
	// Written by pushsim run before devices recorded their states with their events.
	saved := filepath.Join("testdata", "report-without-states.json")
	site := t.TempDir()
	code, _, errOut := pushsim("report", saved, "--out", site)
	require.Equal(t, 0, code, errOut)
	page, err := os.ReadFile(filepath.Join(site, reports.HTMLFile))
	require.NoError(t, err)
	html := string(page)
	for what, want := range map[string]string{
		"a note":                 "No device states in this report",
		"naming the devices":     "the lanes of alice-phone, bob-phone show what the devices saw",
		"the saved pushes":       "<td>bob: hi</td>",
		"lifecycle steps, marks": "<title>280ms: alice-phone: kill</title>",
	} {
		require.True(t, strings.Contains(html, want), "the page shows %s: %q", what, want)
	}
	require.False(t, strings.Contains(html, `<rect class="st `), "no state bands")
}

func TestReportSaysWhatIsWrongWithItsInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	for name, c := range map[string]struct {
		args []string
		want []string
	}{
		"no file":        {nil, []string{"name one report.json"}},
		"two files":      {[]string{"a.json", "b.json"}, []string{"name one report.json"}},
		"missing file":   {[]string{filepath.Join(dir, "gone.json")}, []string{"gone.json", "no such file"}},
		"bad JSON":       {[]string{write("bad.json", `{"schema": `)}, []string{"bad.json", "not JSON"}},
		"another schema": {[]string{write("v9.json", `{"schema": "pushlab.report/v9"}`)}, []string{`"pushlab.report/v9"`, fmt.Sprintf("reads %q", reports.SchemaVersion)}},
		"unknown flag":   {[]string{"--nope", "x.json"}, []string{"-nope"}},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := pushsim(append([]string{"report"}, c.args...)...)
			require.Equal(t, 2, code)
			for _, w := range c.want {
				require.Contains(t, errOut, w)
			}
		})
	}
}

// screen replays what a terminal shows for the bytes written to it: \r returns to the start of
// the line and the next characters overwrite it, \n starts a new line.
func screen(written string) []string {
	lines := [][]rune{nil}
	col := 0
	for _, r := range written {
		cur := &lines[len(lines)-1]
		switch r {
		case '\r':
			col = 0
		case '\n':
			lines = append(lines, nil)
			col = 0
		default:
			if col < len(*cur) {
				(*cur)[col] = r
			} else {
				*cur = append(*cur, r)
			}
			col++
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimRight(string(l), " ")
	}
	return out
}

func TestProgressBarIsClearedBeforeScenarioLines(t *testing.T) {
	// The bar and the lines share one terminal, as stderr and stdout do.
	var term bytes.Buffer
	p := newProgress(&term, 3, true)
	for i := range 3 {
		p.done(reports.Scenario{}, func() { fmt.Fprintf(&term, "PASS  scenario %d\n", i) })
	}
	p.finish()
	lines := screen(term.String())
	var printed []string
	for _, l := range lines {
		if strings.Contains(l, "PASS") {
			printed = append(printed, l)
		}
	}
	require.Equal(t, []string{"PASS  scenario 0", "PASS  scenario 1", "PASS  scenario 2"}, printed,
		"each line on its own, no remains of the bar:\n%q", term.String())
	require.Contains(t, term.String(), "scenarios", "the bar was drawn")
	require.Empty(t, lines[len(lines)-1], "the bar is gone at the end")
}

// The listing names each broken invariant at the file:line:column of the step during which it
// broke (the file alone for one found during setup), with when, where and the evidence.
func TestListingNamesBrokenInvariants(t *testing.T) {
	s := reports.Scenario{Name: "caps", File: "caps.yaml",
		Steps: []reports.Step{{Index: 1, Kind: "login", Line: 6, Column: 5}, {Index: 2, Kind: "send", Line: 7, Column: 5}},
		Oracle: &reports.Oracle{Ran: true, Violations: []reports.Violation{
			{Invariant: "pushes stay within the caps", Step: 2, AtMs: 320, Device: "alice-phone", Evidence: "3 pushes within 80ms"},
			{Invariant: "kicks follow the login policy", Step: 0, AtMs: 5, Evidence: "a kicked frame"},
		}}}
	s.Totals = reports.SummarizeScenario(&s)
	var b bytes.Buffer
	printScenario(&b, s, 0)
	out := b.String()
	require.Contains(t, out, "FAIL  caps  (caps.yaml; 0/0 expectations; 2 invariant(s) broken;")
	require.Contains(t, out, "      caps.yaml:7:5: during step 2, at 320ms on alice-phone: invariant broken: pushes stay within the caps\n        3 pushes within 80ms\n")
	require.Contains(t, out, "      caps.yaml: during setup, at 5ms: invariant broken: kicks follow the login policy\n        a kicked frame\n")
}
