package journalstore

import (
	"bufio"
	"errors"
	"fmt"
	"iter"
	"os"
	"slices"

	"github.com/pushlab/pushlab/relay"
)

// compaction is a rewrite of the journal under way: a goroutine writes the records that rebuild
// a copy of the state, taken when the journal was from bytes long, to a file of its own; the
// store then appends the frames written since and renames the file over the journal (swap).
type compaction struct {
	done chan struct{} // closed when run has returned; err, f and size are then set
	path string
	from int64
	err  error
	f    *os.File // the new journal, open for appending
	size int64
}

// snapshotFrame is how many records a frame of a compacted journal holds at most, and
// snapshotTrace how many trace entries an AppendTrace of it holds: such a record has a frame of
// its own, so that a frame stays well under a megabyte whatever the trace's size.
const (
	snapshotFrame = 4096
	snapshotTrace = 2048
)

// snapshotFrames cuts a snapshot's records into the records of its frames: at most
// snapshotFrame records a frame, and each AppendTrace in a frame of its own.
func snapshotFrames(records []relay.Record) iter.Seq[[]relay.Record] {
	return func(yield func([]relay.Record) bool) {
		start := 0
		// flush yields the records from start to end, if there are any.
		flush := func(end int) bool {
			if start == end {
				return true
			}
			ok := yield(records[start:end])
			start = end
			return ok
		}
		for i, r := range records {
			if _, trace := r.(relay.AppendTrace); trace {
				if !flush(i) || !flush(i+1) {
					return
				}
			} else if i+1-start == snapshotFrame && !flush(i+1) {
				return
			}
		}
		flush(len(records))
	}
}

// run writes the records snapshot makes to c.path as a journal, syncs it, and leaves it open
// in c.f. (snapshot runs here, off the relay's loop: it walks the whole state.)
func (c *compaction) run(snapshot func() []relay.Record) {
	defer close(c.done)
	records := snapshot()
	c.f, c.err = os.OpenFile(c.path, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if c.err != nil {
		return
	}
	w := bufio.NewWriterSize(c.f, 1<<20)
	put := func(b []byte) bool {
		if _, err := w.Write(b); err != nil {
			c.err = fmt.Errorf("compact: write %s: %w", c.path, err)
			return false
		}
		c.size += int64(len(b))
		return true
	}
	if !put(header()) {
		return
	}
	var enc frameEncoder
	var buf []byte
	for chunk := range snapshotFrames(records) {
		ws, err := toWire(chunk)
		if err == nil {
			buf, err = enc.encode(buf[:0], &frame{Records: ws, Snapshot: true})
		}
		if err != nil {
			c.err = fmt.Errorf("compact: encode: %w", err)
			return
		}
		if !put(buf) {
			return
		}
	}
	if err := w.Flush(); err != nil {
		c.err = fmt.Errorf("compact: write %s: %w", c.path, err)
		return
	}
	// Synced before it replaces the journal: a machine that stops after the rename finds the
	// compacted state whole (at worst without the frames appended since).
	if err := c.f.Sync(); err != nil {
		c.err = fmt.Errorf("compact: sync %s: %w", c.path, err)
	}
}

// discard closes and removes the compaction's file.
func (c *compaction) discard() error {
	var errs []error
	if c.f != nil {
		errs = append(errs, c.f.Close())
	}
	if err := os.Remove(c.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stateRecords are records that rebuild st and trace (in the order the store took its entries
// in) in an empty relay.MemoryStore, keys without values included: an inbox emptied by its trim
// and a user's receive options all set back to "receive" stay in the state as keys.
func stateRecords(st *relay.State, trace []relay.TraceEntry) []relay.Record {
	var out []relay.Record
	for _, a := range st.Apps {
		out = append(out, relay.PutApp{App: a})
	}
	for _, c := range st.Certificates {
		out = append(out, relay.PutCertificate{Cert: c})
	}
	for _, ss := range st.Sessions {
		out = append(out, relay.PutSession{Session: ss})
	}
	for _, b := range st.Bindings {
		out = append(out, relay.PutBinding{Binding: b})
	}
	for user, msgs := range st.Messages {
		out = append(out, relay.TrimInbox{User: user})
		for _, m := range msgs {
			out = append(out, relay.PutMessage{User: user, Msg: m})
		}
	}
	for _, g := range st.Groups {
		out = append(out, relay.PutGroup{Group: g})
	}
	for user, opts := range st.ReceiveOpts {
		out = append(out, relay.PutReceiveOpt{User: user, Opt: relay.ReceiveAll})
		for conv, opt := range opts {
			out = append(out, relay.PutReceiveOpt{User: user, Conv: conv, Opt: opt})
		}
	}
	for _, p := range st.Pushes {
		out = append(out, relay.PutPush{Push: p})
	}
	for name, v := range st.Counters {
		out = append(out, relay.PutCounter{Name: name, Value: v})
	}
	for user, ps := range st.PushSettings {
		out = append(out, relay.PutPushSettings{User: user, Settings: ps})
	}
	for _, p := range st.Profiles {
		out = append(out, relay.PutProfile{Profile: p})
	}
	for chunk := range slices.Chunk(trace, snapshotTrace) {
		out = append(out, relay.AppendTrace{Entries: chunk})
	}
	return out
}
