package live_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// The live and remote twins start servers, phones' connections and their goroutines: none may
// outlive the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(removing{m},
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// removing runs the tests, then removes the relay binary they built.
type removing struct{ m *testing.M }

func (r removing) Run() int {
	code := r.m.Run()
	_ = os.RemoveAll(relayBinDir())
	return code
}
