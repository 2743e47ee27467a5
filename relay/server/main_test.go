package server

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/pushlab/pushlab/internal/pgtest"
)

// pg is the throwaway PostgreSQL server of the cluster tests; TestMain stops it.
var pg pgtest.Shared

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(pg.Wrap(m),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
