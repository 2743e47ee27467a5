package reports

import (
	"encoding/xml"
	"fmt"
)

// JUnit XML elements, as GitLab, Jenkins and the GitHub Actions reporters read them.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	File      string      `xml:"file,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

func seconds(ms int64) string { return fmt.Sprintf("%.3f", float64(ms)/1000) }

// JUnit renders the report as JUnit XML: a testsuite per scenario, a testcase per expectation
// (classname = scenario, name = step number and what it expects), a failure naming what was seen;
// a step that could not run and a scenario that could not start are errors.
func JUnit(r *Report) ([]byte, error) {
	out := junitSuites{Name: "pushsim"}
	var total int64
	for _, s := range r.Scenarios {
		suite := junitSuite{Name: s.Name, File: s.File, Time: seconds(s.DurationMs)}
		total += s.DurationMs
		if s.Error != "" {
			suite.Cases = append(suite.Cases, junitCase{Classname: s.Name, Name: "setup", Time: "0.000", File: s.File,
				Error: &junitProblem{Message: s.Error, Type: "setup", Body: s.Error}})
			suite.Errors++
		}
		for _, st := range s.Steps {
			if st.Error == "" {
				continue
			}
			suite.Cases = append(suite.Cases, junitCase{Classname: s.Name, Name: fmt.Sprintf("step %d: %s", st.Index, st.Kind),
				Time: "0.000", File: s.File, Line: st.Line,
				Error: &junitProblem{Message: st.Error, Type: "step", Body: fmt.Sprintf("%s:%d:%d: %s: %s", s.File, st.Line, st.Column, st.Text, st.Error)}})
			suite.Errors++
		}
		lines := map[int]int{}
		for _, st := range s.Steps {
			lines[st.Index] = st.Line
		}
		for _, e := range s.Expectations {
			c := junitCase{Classname: s.Name, Name: fmt.Sprintf("step %d: expect %s", e.Step, e.Text),
				Time: seconds(e.ToMs - e.FromMs), File: s.File, Line: lines[e.Step]}
			if !e.Held {
				c.Failure = &junitProblem{Message: "seen: " + e.Seen, Type: e.Kind,
					Body: fmt.Sprintf("%s:%d: expected %s\nseen: %s", s.File, lines[e.Step], e.Text, e.Seen)}
				suite.Failures++
			}
			suite.Cases = append(suite.Cases, c)
		}
		suite.Tests = len(suite.Cases)
		out.Tests += suite.Tests
		out.Failures += suite.Failures
		out.Errors += suite.Errors
		out.Suites = append(out.Suites, suite)
	}
	out.Time = seconds(total)
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode junit: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}
