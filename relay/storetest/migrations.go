package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// RequireMigrationsAppended checks a store's migration names against the ones main has
// released, in order. A database's schema version is the number of migrations it ran, so
// released ones are never reordered, renamed or removed: a new one goes at the end.
func RequireMigrationsAppended(t testing.TB, released, names []string) {
	t.Helper()
	require.GreaterOrEqual(t, len(names), len(released), "a released migration was removed")
	require.Equal(t, released, names[:len(released)], "released migrations keep their place: append new ones")
}
