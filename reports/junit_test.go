package reports

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestJUnitHasATestcasePerExpectationAndAnErrorPerBrokenStep(t *testing.T) {
	out, err := JUnit(SampleReport())
	require.NoError(t, err)
	got, err := CheckJUnit(out)
	require.NoError(t, err, "%s", out)

	want := []string{
		samplePassing + ` / step 3: "yo" delivered live to alice-phone within 5s`,
		samplePassing + " / invariant oracle: no invariant broken",
		sampleFailing + ` / step 5: a push titled "bob" saying "hi" on alice-phone within 5s`,
		sampleFailing + " / step 7: " + sampleFailedText,
		sampleFailing + " / invariant oracle #1: " + sampleInvariant + " (step 4)",
		sampleSetup + " / setup",
		sampleStepError + " / step 1: carol-phone logs in as carol",
	}
	if d := cmp.Diff(want, got.Cases); d != "" {
		t.Errorf("testcases (-want +got):\n%s", d)
	}
	require.Equal(t, 4, got.Suites)
	require.Equal(t, 7, got.Tests)
	require.Equal(t, 2, got.Failures)
	require.Equal(t, 2, got.Errors)
	require.Equal(t, "seen: "+sampleSeen, got.Messages[sampleFailing+" / step 7: "+sampleFailedText])
	require.Equal(t, "setup: certificate 6768: <refused>", got.Messages[sampleSetup+" / setup"])
}

func TestJUnitFailureSaysWhereWhatAndHowToReplay(t *testing.T) {
	out, err := JUnit(SampleReport())
	require.NoError(t, err)
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(out, &doc))
	require.Equal(t, "2026-11-27T10:30:00", doc.Timestamp)
	suite := doc.Suites[1]
	require.Equal(t, sampleFailing, suite.Name)
	require.Equal(t, "3605.545", suite.Time, "the scenario's own time, in seconds")
	require.Contains(t, suite.Properties, junitProperty{"replay", sampleReplay})
	require.Contains(t, suite.SystemOut.Text, "step 7 (line 17): expect "+sampleFailedText)

	failed := suite.Cases[1]
	require.Equal(t, "5.000", failed.Time, "the expectation's window, in seconds")
	require.Equal(t, sampleFailingFile, failed.File)
	require.Equal(t, 17, failed.Line)
	require.NotNil(t, failed.Failure)
	require.Equal(t, "push", failed.Failure.Type)
	require.Contains(t, failed.Failure.Body, sampleFailingFile+":17: step 7")
	require.Contains(t, failed.Failure.Body, "expected "+sampleFailedText)
	require.Contains(t, failed.Failure.Body, "seen: "+sampleSeen)
	require.Contains(t, failed.Failure.Body, "replay: "+sampleReplay)
	require.Nil(t, suite.Cases[0].Failure, "a held expectation is no failure")
}

// A broken invariant is a failure at the line of the step during which it broke, saying what
// broke, where and how to replay; a world the oracle could not watch says so in a property.
func TestJUnitHasAFailurePerBrokenInvariant(t *testing.T) {
	out, err := JUnit(SampleReport())
	require.NoError(t, err)
	var doc junitSuites
	require.NoError(t, xml.Unmarshal(out, &doc))
	broken := doc.Suites[1].Cases[2]
	require.Equal(t, sampleFailingFile, broken.File)
	require.Equal(t, 14, broken.Line, "the line of step 4")
	require.NotNil(t, broken.Failure)
	require.Equal(t, "invariant", broken.Failure.Type)
	require.Equal(t, sampleEvidence, broken.Failure.Message)
	require.Contains(t, broken.Failure.Body, sampleFailingFile+":14: during step 4, at 320ms, on alice-phone: invariant broken: "+sampleInvariant)
	require.Contains(t, broken.Failure.Body, "replay: "+sampleReplay)
	require.Equal(t, 2, doc.Suites[1].Failures, "the failed expectation and the broken invariant")
	require.Nil(t, doc.Suites[0].Cases[1].Failure, "no invariant broken: a passed testcase")
	require.Contains(t, doc.Suites[3].Properties, junitProperty{"oracle", "not run: " + sampleNoTap})
}

// TestCheckJUnitRefusesWhatReportersWouldMisread keeps the checker honest: each change below
// makes a document that GitLab, Jenkins or a GitHub reporter would read wrong, and the check
// must say so.
func TestCheckJUnitRefusesWhatReportersWouldMisread(t *testing.T) {
	good, err := JUnit(SampleReport())
	require.NoError(t, err)
	_, err = CheckJUnit(good)
	require.NoError(t, err)

	type change struct{ re, repl string }
	for name, c := range map[string]change{
		"root failures count wrong":   {`<testsuites name="pushsim" tests="7" failures="2"`, `<testsuites name="pushsim" tests="7" failures="1"`},
		"suite tests count wrong":     {`tests="2" failures="0" errors="0" skipped="0"`, `tests="3" failures="0" errors="0" skipped="0"`},
		"suite failures count wrong":  {`tests="3" failures="2"`, `tests="3" failures="1"`},
		"root errors count wrong":     {`errors="2"`, `errors="1"`},
		"classname missing":           {` classname="[^"]*"`, ``},
		"testcase name empty":         {` name="step 3: [^"]*"`, ` name=""`},
		"time missing":                {`<testcase (classname="[^"]*" name="[^"]*") time="[^"]*"`, `<testcase $1`},
		"time not seconds":            {` time="0.100"`, ` time="0,1"`},
		"timestamp missing":           {` timestamp="[^"]*" hostname`, ` hostname`},
		"root timestamp missing":      {` timestamp="[^"]*">`, `>`},
		"root skipped missing":        {` skipped="0" time="3620.925"`, ` time="3620.925"`},
		"timestamp with a zone":       {`timestamp="2026-11-27T10:30:00" hostname`, `timestamp="2026-11-27T10:30:00Z" hostname`},
		"failure without message":     {`<failure message="[^"]*"`, `<failure`},
		"failure without type":        {` type="push"`, ``},
		"failure with an empty body":  {`(<failure [^>]*>)<!\[CDATA\[[^\]]*\]\]></failure>`, `$1</failure>`},
		"failure and error together":  {`<failure `, `<error message="x" type="y">z</error><failure `},
		"unknown element":             {`<testcase `, `<test-case/><testcase `},
		"unknown attribute":           {`<testcase `, `<testcase result="ok" `},
		"system-out before testcases": {`<properties>`, `<system-out>x</system-out><properties>`},
		"a testcase twice":            {`(<testcase [^>]*></testcase>)`, `$1$1`},
		"not a testsuites root":       {`<testsuites `, `<testsuite `},
	} {
		t.Run(name, func(t *testing.T) {
			re := regexp.MustCompile(c.re)
			loc := re.FindStringSubmatchIndex(string(good))
			require.NotNil(t, loc, "pattern %s", c.re)
			bad := string(good[:loc[0]]) + string(re.Expand(nil, []byte(c.repl), good, loc)) + string(good[loc[1]:])
			bad = strings.Replace(bad, "</testsuites>", closing(bad), 1)
			_, err := CheckJUnit([]byte(bad))
			require.Error(t, err, "%s", bad)
		})
	}
}

// closing keeps a document whose root was renamed well formed.
func closing(doc string) string {
	if strings.Contains(doc, "<testsuites ") {
		return "</testsuites>"
	}
	return "</testsuite>"
}

func TestJUnitOfAnEmptyRunIsValid(t *testing.T) {
	out, err := JUnit(&Report{Schema: SchemaVersion})
	require.NoError(t, err)
	got, err := CheckJUnit(out)
	require.NoError(t, err)
	require.Zero(t, got.Tests)
}

// A scenario the world could not honour is neither passed nor failed: JUnit marks its case
// skipped with the reason, and the totals count it as not run.
func TestANotRunScenarioIsSkippedNotFailed(t *testing.T) {
	r := &Report{Schema: SchemaVersion, Run: Run{Mode: "remote"}, Scenarios: []Scenario{{
		Name: "needs a restart", File: "s.yaml", NotRun: true,
		Error: "not run: the remote world cannot honour it: s.yaml:8:5: restartRelay: …"}}}
	Complete(r)
	require.Equal(t, 1, r.Totals.NotRun)
	require.Zero(t, r.Totals.Failed)
	require.Zero(t, r.Totals.Passed)
	out, err := JUnit(r)
	require.NoError(t, err)
	_, err = CheckJUnit(out)
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), `skipped="1"`)
	require.Contains(t, string(out), `<skipped message="not run: the remote world cannot honour it: s.yaml:8:5: restartRelay: …"></skipped>`)
	require.NotContains(t, string(out), "<error")
	html, err := HTML(r)
	require.NoError(t, err)
	require.Contains(t, string(html), "1 scenario(s) not run")
}
