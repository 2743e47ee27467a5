package pgstore

import (
	"testing"

	"github.com/pushlab/pushlab/relay/storetest"
)

// released is the migrations main has shipped, in order; a new one's name goes at the end
// (storetest.RequireMigrationsAppended).
var released = []string{
	"initial schema",
	"cluster leases",
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
	storetest.RequireMigrationsAppended(t, released, names)
}
