package sqlitestore

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

// twin is the SQLite store as a conformance-property twin: a new database file for each check.
func twin(t *testing.T) storetest.Twin {
	dir := t.TempDir()
	run := 0
	return storetest.Twin{Name: "sqlite", Fresh: func(rt *rapid.T) (relay.Store, func()) {
		run++
		db, err := Open(filepath.Join(dir, fmt.Sprintf("run%d.db", run)))
		require.NoError(rt, err)
		return db, func() { require.NoError(rt, db.Close()) }
	}}
}

func TestTraceSuite(t *testing.T) {
	storetest.TraceSuite(t, func(t *testing.T) relay.Store { return openStore(t, filepath.Join(t.TempDir(), "relay.db")) })
}

func TestTracePropertyMatchesMemoryStore(t *testing.T) { storetest.CheckTraceTwin(t, twin(t)) }
