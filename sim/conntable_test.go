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

// TestARepliedRequestLeavesTheOthersPending: a reply takes its own request out, in whatever order
// replies come, and a reply to no pending request finds none.
func TestARepliedRequestLeavesTheOthersPending(t *testing.T) {
	d := &Device{}
	for i, op := range []string{relay.OpLogin, relay.OpSync, relay.OpSend, relay.OpSend} {
		d.pending = append(d.pending, pendingRequest{id: int64(i + 1), op: op})
	}
	require.Equal(t, relay.OpSync, d.replied(2))
	require.Empty(t, d.replied(2), "already replied")
	require.Empty(t, d.replied(9), "never asked")
	require.True(t, d.awaiting(relay.OpLogin))
	require.False(t, d.awaiting(relay.OpSync))
	require.Equal(t, relay.OpSend, d.replied(4))
	require.Equal(t, relay.OpLogin, d.replied(1))
	require.Equal(t, 1, d.PendingRequests())
	require.Equal(t, relay.OpSend, d.replied(3))
	require.Zero(t, d.PendingRequests())
}
