package fakefcm

import (
	"time"

	"github.com/pushlab/pushlab/internal/duration"
)

// Fate is what finally happened to a message, or what is happening to it now.
type Fate string

// Fates. The sender hears of none of the drops: it got its 200 long before.
const (
	FatePending          Fate = "pending"            // stored: the device is away, force-stopped or throttled
	FateInFlight         Fate = "in-flight"          // on its way to the device, not yet acknowledged
	FateDelivered        Fate = "delivered"          // the device acknowledged it
	FateTTLExpired       Fate = "ttl-expired"        // its time to live ran out before delivery
	FateCollapsed        Fate = "collapsed"          // replaced by a newer message with the same collapse key
	FateCollapseKeyLimit Fate = "collapse-key-limit" // dropped to keep at most four collapse keys
	FateTooManyPending   Fate = "too-many-pending"   // discarded with the rest of a full offline queue
	FateLoss             Fate = "loss"               // accepted and silently lost (loss setting or fault)
	FateUnregistered     Fate = "unregistered"       // the token was deleted before delivery
	FateRejected         Fate = "rejected"           // refused with an error; see Record.Error
	FateValidateOnly     Fate = "validate-only"      // a validate-only request: nothing is delivered
	FateNoSubscribers    Fate = "no-subscribers"     // a topic or condition send: fakefcm models no subscriptions
)

// Final reports whether the fate can no longer change.
func (f Fate) Final() bool { return f != FatePending && f != FateInFlight }

// Record is the history of one send request to one target, with its true fate.
type Record struct {
	// Seq numbers records from 1 in the order requests arrived.
	Seq int64 `json:"seq"`
	// Name is the v1 message name (projects/P/messages/ID); empty for a refused send.
	Name      string `json:"name,omitempty"`
	MessageID string `json:"messageId,omitempty"`
	Project   string `json:"project"`
	API       API    `json:"api"`
	Token     string `json:"token,omitempty"`
	Topic     string `json:"topic,omitempty"`
	Condition string `json:"condition,omitempty"`
	// ValidateOnly is set for a validate-only request, which delivers nothing.
	ValidateOnly bool `json:"validateOnly,omitempty"`
	// ReceivedAt is when the request reached fakefcm (accepted or not).
	ReceivedAt time.Time `json:"receivedAt"`
	Fate       Fate      `json:"fate"`
	// FateAt is when a final fate was reached; zero while pending or in flight.
	FateAt time.Time `json:"fateAt,omitzero"`
	// Error is the error code a refused send got; Reason says more (a throttle, a fault).
	Error  ErrorCode `json:"error,omitempty"`
	Reason string    `json:"reason,omitempty"`
	// DispatchedAt is the last time the message left for the device; DeliveredAt when the device
	// acknowledged it. Attempts counts dispatches (more than one after a reconnection).
	DispatchedAt time.Time `json:"dispatchedAt,omitzero"`
	DeliveredAt  time.Time `json:"deliveredAt,omitzero"`
	Attempts     int       `json:"attempts,omitempty"`
	// Throttle names the throttle that held the message back (of two holding it at once, the one
	// that let go last) and ThrottledFor for how long in all (delay mode). A relay within FCM's
	// limits never sees one.
	Throttle     string            `json:"throttle,omitempty"`
	ThrottledFor duration.Duration `json:"throttledFor,omitempty"`
	// Payload is the message as the device receives it; nil for a refused send.
	Payload *RemoteMessage `json:"payload,omitempty"`
}

// RecordFilter selects records. Empty fields match everything.
type RecordFilter struct {
	Token   string
	Project string
	// After keeps records with Seq greater than After, for incremental reads.
	After int64
}

// DefaultMaxRecords is how many records a core keeps when Config.MaxRecords is zero.
const DefaultMaxRecords = 1_000_000

// Records returns copies of the records that match f, in arrival order.
func (c *Core) Records(f RecordFilter) []Record {
	var out []Record
	add := func(r *Record) {
		if r.Seq > f.After && (f.Project == "" || r.Project == f.Project) {
			out = append(out, *r)
		}
	}
	if f.Token != "" {
		for _, r := range c.byToken[f.Token] {
			add(r)
		}
		return out
	}
	for _, r := range c.records {
		add(r)
	}
	return out
}

// Record returns the record of a message by its message ID.
func (c *Core) Record(messageID string) (Record, bool) {
	r, ok := c.byMessageID[messageID]
	if !ok {
		return Record{}, false
	}
	return *r, true
}

// addRecord numbers a record, appends it, indexes it, and forgets the oldest finished records
// when there are more than the core keeps; it returns the record's Seq and the record kept. With
// CountsOnly the record is numbered but not kept (nor built on the heap): the kept record is nil.
func (c *Core) addRecord(r Record) (seq int64, kept *Record) {
	c.recordSeq++
	if c.countsOnly {
		return c.recordSeq, nil
	}
	r.Seq = c.recordSeq
	rec := new(Record)
	*rec = r
	c.records = append(c.records, rec)
	if r.Token != "" {
		c.byToken[r.Token] = append(c.byToken[r.Token], rec)
	}
	if r.MessageID != "" {
		c.byMessageID[r.MessageID] = rec
	}
	if c.maxRecords > 0 && len(c.records) > c.maxRecords {
		c.trimRecords(len(c.records) - c.maxRecords*3/4)
	}
	return rec.Seq, rec
}

// trimRecords forgets up to n of the oldest records whose fate is final; it stops at the first
// record still pending or in flight.
func (c *Core) trimRecords(n int) {
	k := 0
	for k < n && k < len(c.records) && c.records[k].Fate.Final() {
		k++
	}
	if k == 0 {
		return
	}
	through := c.records[k-1].Seq
	for _, r := range c.records[:k] {
		if r.MessageID != "" {
			delete(c.byMessageID, r.MessageID)
		}
		if r.Token != "" {
			list := c.byToken[r.Token]
			i := 0
			for i < len(list) && list[i].Seq <= through {
				i++
			}
			if i == len(list) {
				delete(c.byToken, r.Token)
			} else {
				c.byToken[r.Token] = list[i:]
			}
		}
	}
	c.records = append([]*Record(nil), c.records[k:]...)
}
