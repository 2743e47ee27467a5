package sim

import "github.com/pushlab/pushlab/relay"

// connTable is the relay's side of the virtual network: the app connections it holds, by ID. The
// world numbers connections from 1 as they are dialled, so a slice indexed by ID holds them
// (nil where a connection is closed or was never opened): every frame the relay sends, and every
// heartbeat deadline it checks, finds its connection with one index rather than a map's probe.
// It takes 8 bytes per connection ever dialled, a few per phone a day.
type connTable struct {
	byID []*vconn
}

// get is the open connection id, or nil.
func (t *connTable) get(id relay.ConnID) *vconn {
	if id < relay.ConnID(len(t.byID)) {
		return t.byID[id]
	}
	return nil
}

// put holds c under its ID.
func (t *connTable) put(c *vconn) {
	if n := int(c.id) + 1; n > len(t.byID) {
		t.byID = append(t.byID, make([]*vconn, n-len(t.byID))...)
	}
	t.byID[c.id] = c
}

// remove forgets the connection id.
func (t *connTable) remove(id relay.ConnID) {
	if id < relay.ConnID(len(t.byID)) {
		t.byID[id] = nil
	}
}

// all lists the connections held, in ID order.
func (t *connTable) all() []*vconn {
	var out []*vconn
	for _, c := range t.byID {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}
