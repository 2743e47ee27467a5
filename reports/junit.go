package reports

import (
	"encoding/xml"
	"fmt"
	"strings"
	"time"
)

// JUnit XML elements, as GitLab, Jenkins and the GitHub Actions reporters read them: the
// attributes and the order of children of the common JUnit schema (Jenkins' junit-10.xsd), plus
// the file and line attributes that GitHub's reporters use to point at the scenario file.
type junitSuites struct {
	XMLName   xml.Name     `xml:"testsuites"`
	Name      string       `xml:"name,attr"`
	Tests     int          `xml:"tests,attr"`
	Failures  int          `xml:"failures,attr"`
	Errors    int          `xml:"errors,attr"`
	Skipped   int          `xml:"skipped,attr"`
	Time      string       `xml:"time,attr"`
	Timestamp string       `xml:"timestamp,attr"`
	Suites    []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	File       string          `xml:"file,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  *junitText      `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
}

// junitSkipped marks a test case that was not run, saying why.
type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// junitProblem is a failure or an error; the body keeps its lines (CDATA).
type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",cdata"`
}

// junitText is text kept as written, lines and all (CDATA).
type junitText struct {
	Text string `xml:",cdata"`
}

// seconds formats milliseconds as JUnit's seconds.
func seconds(ms int64) string { return fmt.Sprintf("%.3f", float64(max(ms, 0))/1000) }

// junitTimestamp is JUnit's timestamp: ISO 8601 without a zone (the schema's pattern), in UTC.
func junitTimestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

// JUnit renders the report as JUnit XML: a testsuite per scenario and a testcase per
// expectation (classname = scenario name, name = "step N: " and what it expects, time = the
// expectation's window in the scenario's time), with a failure naming what was seen instead. A
// step that could not run and a scenario that could not start are errors. The invariant oracle
// adds a failed testcase per broken invariant, pointing at the step during which it broke, or
// one passed testcase when it found none; where it did not run, the suite's "oracle" property
// says why. Times are the scenarios' own (virtual time in the virtual mode).
func JUnit(r *Report) ([]byte, error) {
	stamp := junitTimestamp(r.Run.Started)
	out := junitSuites{Name: "pushsim", Timestamp: stamp}
	var total int64
	for _, s := range r.Scenarios {
		suite := junitSuite{Name: s.Name, File: s.File, Time: seconds(s.DurationMs), Timestamp: stamp, Hostname: r.Run.Host,
			Properties: []junitProperty{{"seed", fmt.Sprint(r.Run.Seed)}, {"mode", r.Run.Mode}, {"replay", r.Run.Replay}}}
		total += s.DurationMs
		if s.NotRun {
			suite.Cases = append(suite.Cases, junitCase{Classname: s.Name, Name: "setup", Time: "0.000", File: s.File,
				Skipped: &junitSkipped{Message: s.Error}})
			suite.Skipped++
		} else if s.Error != "" {
			suite.Cases = append(suite.Cases, junitCase{Classname: s.Name, Name: "setup", Time: "0.000", File: s.File,
				Error: &junitProblem{Message: s.Error, Type: "setup", Body: s.Error}})
			suite.Errors++
		}
		lines := map[int]int{}
		for _, st := range s.Steps {
			lines[st.Index] = st.Line
			if st.Error == "" {
				continue
			}
			suite.Cases = append(suite.Cases, junitCase{Classname: s.Name, Name: fmt.Sprintf("step %d: %s", st.Index, st.Text),
				Time: "0.000", File: s.File, Line: st.Line,
				Error: &junitProblem{Message: st.Error, Type: "step " + st.Kind,
					Body: fmt.Sprintf("%s:%d:%d: step %d (%s) at %s: %s", s.File, st.Line, st.Column, st.Index, st.Text, clock(st.AtMs), st.Error)}})
			suite.Errors++
		}
		for _, e := range s.Expectations {
			c := junitCase{Classname: s.Name, Name: fmt.Sprintf("step %d: %s", e.Step, e.Text),
				Time: seconds(e.ToMs - e.FromMs), File: s.File, Line: lines[e.Step]}
			if !e.Held {
				c.Failure = &junitProblem{Message: "seen: " + e.Seen, Type: e.Kind,
					Body: fmt.Sprintf("%s:%d: step %d, from %s to %s: expected %s\nseen: %s\nreplay: %s",
						s.File, lines[e.Step], e.Step, clock(e.FromMs), clock(e.ToMs), e.Text, e.Seen, r.Run.Replay)}
				suite.Failures++
			}
			suite.Cases = append(suite.Cases, c)
		}
		for _, c := range oracleCases(&s, lines, r.Run.Replay) {
			if c.Failure != nil {
				suite.Failures++
			}
			suite.Cases = append(suite.Cases, c)
		}
		if o := s.Oracle; o != nil && !o.Ran {
			suite.Properties = append(suite.Properties, junitProperty{"oracle", "not run: " + o.NotRunWhy})
		}
		suite.SystemOut = &junitText{transcript(&s)}
		suite.Tests = len(suite.Cases)
		out.Tests += suite.Tests
		out.Failures += suite.Failures
		out.Errors += suite.Errors
		out.Skipped += suite.Skipped
		out.Suites = append(out.Suites, suite)
	}
	out.Time = seconds(total)
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode junit: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// transcript lists a scenario's steps as they ran, one a line.
func transcript(s *Scenario) string {
	var b strings.Builder
	if s.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(s.Description))
	}
	for _, st := range s.Steps {
		fmt.Fprintf(&b, "%9s  step %d (line %d): %s", clock(st.AtMs), st.Index, st.Line, st.Text)
		if st.Error != "" {
			fmt.Fprintf(&b, " — ERROR: %s", st.Error)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// oracleCases are the invariant oracle's testcases for a scenario (see JUnit); lines maps step
// indexes to their lines.
func oracleCases(s *Scenario, lines map[int]int, replay string) []junitCase {
	o := s.Oracle
	if o == nil || !o.Ran {
		return nil
	}
	if len(o.Violations) == 0 {
		return []junitCase{{Classname: s.Name, Name: "invariant oracle: no invariant broken", Time: seconds(s.DurationMs), File: s.File}}
	}
	var out []junitCase
	for i, v := range o.Violations {
		c := junitCase{Classname: s.Name, Name: fmt.Sprintf("invariant oracle #%d: %s (step %d)", i+1, v.Invariant, v.Step),
			Time: "0.000", File: s.File, Line: lines[v.Step]}
		c.Failure = &junitProblem{Message: v.Evidence, Type: "invariant",
			Body: fmt.Sprintf("%s:%d: %s, at %s%s: invariant broken: %s\n%s\nreplay: %s",
				s.File, lines[v.Step], v.When(), clock(v.AtMs), onDevice(v.Device), v.Invariant, v.Evidence, replay)}
		out = append(out, c)
	}
	return out
}

// When says during which step a violation was found: "during step N", "during setup", or
// "after step N (the end-of-run checks)".
func (v Violation) When() string {
	switch {
	case v.AtEnd:
		return fmt.Sprintf("after step %d (the end-of-run checks)", v.Step)
	case v.Step == 0:
		return "during setup"
	}
	return fmt.Sprintf("during step %d", v.Step)
}

func onDevice(d string) string {
	if d == "" {
		return ""
	}
	return ", on " + d
}
