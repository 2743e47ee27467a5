package lab_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The lab starts a stack, phones' connections, a trace reader and event streams: none may
// outlive the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
