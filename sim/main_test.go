package sim_test

import (
	"flag"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// propertyChecks is how many checks each property runs in the normal suite unless -rapid.checks
// or RAPID_CHECKS says otherwise (make prop runs them deep).
const propertyChecks = "200"

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if _, env := os.LookupEnv("RAPID_CHECKS"); !set && !env {
		if err := flag.Set("rapid.checks", propertyChecks); err != nil {
			panic(err)
		}
	}
	// The live property test runs the real relay and fakefcm shells and live phones: none of
	// their goroutines may outlive the tests.
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
