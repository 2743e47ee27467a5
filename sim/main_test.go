package sim_test

import (
	"flag"
	"os"
	"testing"
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
	os.Exit(m.Run())
}
