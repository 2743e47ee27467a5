package journalstore

import (
	"testing"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

// crashCompactAt makes the crash test's child compact every few dozen batches, so that a kill
// may land during a compaction's rewrite or just after its swap.
const crashCompactAt = 32 << 10

// TestSurvivesSIGKILL: storetest's crash test (three children killed with SIGKILL mid-stream;
// every batch reported is in the journal, and no part of any other), compacting as it goes.
func TestSurvivesSIGKILL(t *testing.T) {
	storetest.SurvivesSIGKILL(t, "TestSurvivesSIGKILL", "relay.journal",
		func(path string) (relay.Store, error) { return Open(Config{Path: path, CompactAt: crashCompactAt}) })
}
