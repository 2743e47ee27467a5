package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// TestTheConnTableFindsWhatItHolds: connections are found by ID while held, not once removed or
// never put, and listed in ID order whatever the order they came in.
func TestTheConnTableFindsWhatItHolds(t *testing.T) {
	var tab connTable
	c := map[relay.ConnID]*vconn{}
	for _, id := range []relay.ConnID{3, 1, 7, 2} {
		c[id] = &vconn{id: id}
		tab.put(c[id])
	}
	tab.remove(2)
	tab.remove(40) // never put
	for id := range relay.ConnID(10) {
		want := c[id]
		if id == 2 {
			want = nil
		}
		require.Same(t, want, tab.get(id), "conn %d", id)
	}
	require.Nil(t, tab.get(1000))
	require.Equal(t, []*vconn{c[1], c[3], c[7]}, tab.all())
}
