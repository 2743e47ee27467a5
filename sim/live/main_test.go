package live_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The live and remote twins start servers, phones' connections and their goroutines: none may
// outlive the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
