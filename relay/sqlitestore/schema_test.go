package sqlitestore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// released is the migrations main has shipped, in order. A database's schema version is the
// number of them it ran, so they are never reordered, renamed or removed: a new one goes at the
// end, and its name at the end of this list.
var released = []string{
	"initial schema",
	"sessions keep their frequency caps",
	"logged-out devices keep their caps",
	"certificates keep their check",
	"durable push trace",
	"one binding per token",
	"user push settings",
	"profiles, group names, locales and push templates",
	"android notification options",
}

func TestMigrationsAreOnlyAppended(t *testing.T) {
	var names []string
	for _, m := range migrations {
		names = append(names, m.name)
	}
	require.GreaterOrEqual(t, len(names), len(released), "a released migration was removed")
	require.Equal(t, released, names[:len(released)], "released migrations keep their place: append new ones")
}
