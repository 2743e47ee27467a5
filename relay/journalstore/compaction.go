package journalstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"time"

	"github.com/pushlab/pushlab/relay"
)

// compaction is a rewrite of the journal under way: a goroutine reads the journal's first from
// bytes back into a memory store of its own, the state they rebuild, and writes the records that
// rebuild that state to a file of its own; the store then appends the frames written since and
// renames the file over the journal (swap). The relay's loop only notes from: the state the
// rewrite starts from is the journal's, not a copy of the store's memory, which the loop would
// be held up taking (except to mend a journal found damaged: fromMemory, which the loop waits
// for whole).
type compaction struct {
	done chan struct{} // closed when run has returned; err, f, size and took are then set
	path string
	from int64
	err  error
	f    *os.File // the new journal, open for appending
	size int64
	took time.Duration // how long the rewrite took, for the log
	// fromMemory: the rewrite starts from a copy of the store's memory, not from the journal
	// read back (which the compaction before it found damaged).
	fromMemory bool
	// damaged: reading the journal back did not give the frames the store wrote (bytes
	// changed, a frame cut short, the file shortened, or a read that failed), or the frames
	// appended since did not copy whole (swap), so the file on the disk cannot be trusted:
	// the store mends it from memory.
	damaged bool
}

// snapshotFrame is how many records a frame of a compacted journal holds at most, and
// snapshotTrace how many trace entries an AppendTrace of it holds: such a record has a frame of
// its own, so that a frame stays well under a megabyte whatever the trace's size.
const (
	snapshotFrame = 4096
	snapshotTrace = 2048
)

// snapshotFrames cuts a snapshot's records into the records of its frames: at most
// snapshotFrame records a frame, and each AppendTrace in a frame of its own. A frame's slice is
// reused for the next: the caller encodes it before it asks for another.
func snapshotFrames(records iter.Seq[relay.Record]) iter.Seq[[]relay.Record] {
	return func(yield func([]relay.Record) bool) {
		var chunk []relay.Record
		// flush yields the chunk, if it holds any records.
		flush := func() bool {
			if len(chunk) == 0 {
				return true
			}
			ok := yield(chunk)
			chunk = chunk[:0]
			return ok
		}
		for r := range records {
			_, trace := r.(relay.AppendTrace)
			if trace && !flush() {
				return
			}
			chunk = append(chunk, r)
			if (trace || len(chunk) == snapshotFrame) && !flush() {
				return
			}
		}
		flush()
	}
}

// run writes the records that snapshot returns, those that rebuild the state the journal held
// when it was c.from bytes long, to c.path as a journal, syncs that, and leaves it open in c.f.
func (c *compaction) run(snapshot func() (iter.Seq[relay.Record], error)) {
	defer close(c.done)
	start := time.Now()
	defer func() { c.took = time.Since(start) }()
	var records iter.Seq[relay.Record]
	if records, c.err = snapshot(); c.err != nil {
		return
	}
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

// readBack replays the first c.from bytes of src, which it closes, into a memory store and
// returns the records that rebuild its state, made as they are read. Those bytes should be the
// whole frames that the store appended or read at Open, which nothing writes again while the
// compaction runs (the store only appends after them); whatever keeps them from reading back
// so — a changed byte, a last frame cut short, a shortened file, a failed read — marks the
// journal damaged (c.damaged).
func (c *compaction) readBack(src *os.File) (iter.Seq[relay.Record], error) {
	defer src.Close()
	mem := relay.NewMemoryStore()
	good, err := readJournal(io.NewSectionReader(src, 0, c.from), c.from, func(fr *frame, _ int64) error {
		return replay(mem, fr)
	})
	if err == nil && good != c.from {
		// A torn tail to a reader of the file as it stands; but these frames were all
		// written whole, and more follow them.
		err = fmt.Errorf("%w: only %d of its first %d bytes check out", errDamaged, good, c.from)
	}
	if err != nil {
		c.damaged = true
		return nil, fmt.Errorf("compact: read the journal back: %w", err)
	}
	return stateRecords(mem.Drain()), nil
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
// and a user's receive options all set back to "receive" stay in the state as keys. It takes
// st's inboxes out of st as it goes, so that those already written can be freed: the bulk of a
// state is its messages.
func stateRecords(st *relay.State, trace []relay.TraceEntry) iter.Seq[relay.Record] {
	return func(yield func(relay.Record) bool) {
		for _, a := range st.Apps {
			if !yield(relay.PutApp{App: a}) {
				return
			}
		}
		for _, c := range st.Certificates {
			if !yield(relay.PutCertificate{Cert: c}) {
				return
			}
		}
		for _, ss := range st.Sessions {
			if !yield(relay.PutSession{Session: ss}) {
				return
			}
		}
		for _, b := range st.Bindings {
			if !yield(relay.PutBinding{Binding: b}) {
				return
			}
		}
		for user, msgs := range st.Messages {
			delete(st.Messages, user)
			if !yield(relay.TrimInbox{User: user}) {
				return
			}
			for _, m := range msgs {
				if !yield(relay.PutMessage{User: user, Msg: m}) {
					return
				}
			}
		}
		for _, g := range st.Groups {
			if !yield(relay.PutGroup{Group: g}) {
				return
			}
		}
		for user, opts := range st.ReceiveOpts {
			if !yield(relay.PutReceiveOpt{User: user, Opt: relay.ReceiveAll}) {
				return
			}
			for conv, opt := range opts {
				if !yield(relay.PutReceiveOpt{User: user, Conv: conv, Opt: opt}) {
					return
				}
			}
		}
		for _, p := range st.Pushes {
			if !yield(relay.PutPush{Push: p}) {
				return
			}
		}
		for name, v := range st.Counters {
			if !yield(relay.PutCounter{Name: name, Value: v}) {
				return
			}
		}
		for user, ps := range st.PushSettings {
			if !yield(relay.PutPushSettings{User: user, Settings: ps}) {
				return
			}
		}
		for _, p := range st.Profiles {
			if !yield(relay.PutProfile{Profile: p}) {
				return
			}
		}
		for chunk := range slices.Chunk(trace, snapshotTrace) {
			if !yield(relay.AppendTrace{Entries: chunk}) {
				return
			}
		}
	}
}
