package relay

import (
	"unsafe"

	"github.com/pushlab/pushlab/internal/prefetch"
)

// A SendHint names a message on its way to the core, from one of an app's users to another.
type SendHint struct {
	SDKAppID uint64
	From, To string
}

// warmBatch is how many hints Warm works through together: each of its stages starts the
// fetches of the batch's records at once, and the batch's records fit in a core's cache.
const warmBatch = 8

// Warm is a hint that changes nothing: the messages hints name are on their way to the core,
// which will soon read both users' records for each. Warm starts fetching those records into
// the processor's caches, many at a time.
//
// At 100,000 users the records a message reads are scattered over gigabytes, and a first read
// of one costs several hundred nanoseconds, one after another as the send's logic reaches each.
// A processor fetches many lines at once, though, when the addresses are known. Warm walks the
// records a level at a time for every hint together: the users' records; then their inboxes'
// next slots and their devices; then each device's binding, caps, connection and pending
// pushes; then the binding's token, which the push carries, and the connection's place in the
// core's map. A level's fetches overlap, so a batch waits about once a level, where the send
// would wait once a record. The simulator's day in the life gives it its next sends, eight
// at a time, shortly before their frames reach the core (a dozen events: a frame takes 20 ms
// of virtual time to cross).
func (c *Core) Warm(hints []SendHint) {
	for len(hints) > 0 {
		n := min(len(hints), warmBatch)
		c.warm(hints[:n])
		hints = hints[n:]
	}
}

// warm warms at most warmBatch hints.
func (c *Core) warm(hints []SendHint) {
	var us [2 * warmBatch]*user
	nu := 0
	for _, h := range hints {
		for _, id := range [2]string{h.From, h.To} {
			if u := c.users[UserKey{h.SDKAppID, id}]; u != nil {
				prefetch.Of(u)
				us[nu] = u
				nu++
			}
		}
	}
	// The places the pushes these messages may start will take in the map of unfinished pushes:
	// looking up a key not there yet reads the group it goes to.
	for i := range hints {
		_ = c.pushes[c.pushCounter+uint64(i)+1]
	}
	for _, u := range us[:nu] {
		prefetch.Append(u.inbox)
		prefetch.Of(unsafe.SliceData(u.devices))
	}
	var ds [4 * warmBatch]*device
	nd := 0
	for _, u := range us[:nu] {
		for _, d := range u.devices[:min(len(u.devices), len(ds)-nd)] {
			prefetch.Of(d)
			ds[nd] = d
			nd++
		}
	}
	for _, d := range ds[:nd] {
		prefetch.Of(d.binding)
		prefetch.Of(d.conn)
		prefetch.Append(d.pushes)
		if dc := d.caps; dc != nil {
			prefetch.Of(&dc.perMinute)
			prefetch.Of(&dc.perHour)
			prefetch.Of(&dc.burst)
		}
	}
	for _, d := range ds[:nd] {
		if b := d.binding; b != nil {
			prefetch.String(b.Token)
		}
		if cn := d.conn; cn != nil {
			_ = c.conns[cn.id]
		}
	}
}
