package scenarios

import (
	"testing"

	"go.uber.org/goleak"
)

// The live mode starts a relay, a fakefcm and simulated phones over real sockets for each
// scenario; none of their goroutines may outlive the run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
