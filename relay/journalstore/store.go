// Package journalstore is a durable relay.Store that keeps the relay's state in memory, in a
// relay.MemoryStore, and every change in a journal file: each batch is appended to the file as
// one frame before Apply returns, and Open rebuilds the memory from the file. It is the
// durable store for throughput: a batch costs an encoding and one sequential write, where the
// SQL stores write pages all over their tables' indexes (README, "What bounds both stores").
//
// It promises what the SQLite store does with synchronous=NORMAL: a batch whose Apply returned
// survives a crash of the process, SIGKILL included, for its frame is in the operating system's
// hands; a power loss or a crash of the machine may lose the last batches (the journal is not
// synced), and reading drops the torn tail they leave.
//
// The journal grows with every batch; when it has doubled since it was last rewritten, a
// goroutine of the store's rewrites it (compaction: it reads the journal back into a state of
// its own and writes the records that rebuild that state, then the frames appended meanwhile)
// and the store swaps to it. The relay's loop does not copy the state for it (only to mend a
// journal a compaction found damaged on the disk).
//
// What it gives up for its speed: the state and the push trace are all in memory (the relay's
// core holds the state anyway; the trace is bounded by trace.maxEntries), and there is no file
// to query with SQL.
package journalstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/pushlab/pushlab/relay"
)

// DefaultCompactAt is the journal's size at which its first compaction starts. Each later one
// starts when the journal has grown to twice what the last left (at least this).
const DefaultCompactAt = 64 << 20

// Config says where a Store keeps its journal.
type Config struct {
	// Path is the journal file; the store creates it, and a lock file beside it (Path + ".lock")
	// that keeps a second process from opening the same journal.
	Path string
	// Log receives what the store does on its own: a torn tail dropped at Open, compactions.
	// Nil discards it.
	Log *slog.Logger
	// CompactAt overrides DefaultCompactAt (tests compact small journals).
	CompactAt int64

	// waitCompaction makes the Apply that starts a compaction wait for it and swap; compactEvery
	// compacts after every batch, whatever the journal's size (tests).
	waitCompaction, compactEvery bool
}

// Store is a relay.Store that keeps its state in memory and its changes in a journal. Its
// methods may be called from several goroutines.
type Store struct {
	cfg  Config
	log  *slog.Logger
	mem  *relay.MemoryStore
	lock *os.File // Path + ".lock", flocked for the store's life

	mu         sync.Mutex
	f          *os.File // the journal, open for appending
	size       int64    // the journal's bytes
	enc        frameEncoder
	buf        []byte // the last frame encoded, its array reused
	compactAt  int64  // the size at which the next compaction starts
	compacting *compaction
	damaged    bool  // a compaction found the journal damaged on the disk: the next rewrites it from memory
	err        error // a write that failed: mem holds what the journal may not, and every call fails
	closed     bool
}

var _ relay.Store = (*Store)(nil)

// Open opens the journal at cfg.Path, creating it if there is none, and rebuilds the state from
// it. A tail that a stopped machine left short is dropped (and logged); a journal damaged
// before its end, or written by a newer relay, is refused with nothing changed.
func Open(cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("open journal: no path")
	}
	if cfg.CompactAt <= 0 {
		cfg.CompactAt = DefaultCompactAt
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lock, err := lockFile(cfg.Path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", cfg.Path, err)
	}
	s := &Store{cfg: cfg, log: log, mem: relay.NewMemoryStore(), lock: lock}
	if err := s.open(); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open journal %s: %w", cfg.Path, err)
	}
	return s, nil
}

// lockFile opens path and takes an exclusive lock on it, or fails at once if another process
// holds it. The lock file is never replaced (a compaction renames the journal itself), so it
// is what two processes meet at.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another process has the journal open (%s is locked): stop it, or give this relay a journal of its own", path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// open reads the journal into mem and leaves it open for appending.
func (s *Store) open() error {
	// A compaction that a stop interrupted left its file; the journal itself is whole.
	if err := os.Remove(s.compactPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(s.cfg.Path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		_ = f.Close()
		return err
	}
	info, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	frames, snapshot := 0, int64(0)
	good, err := readJournal(f, info.Size(), func(fr *frame, length int64) error {
		frames++
		if fr.Snapshot {
			snapshot += length
		}
		return replay(s.mem, fr)
	})
	if errors.Is(err, errDamaged) {
		return fail(fmt.Errorf("%w. Nothing was changed. To start from the %d bytes before the damage (and lose the batches after it), copy %s aside, then truncate it: truncate -s %d %s",
			err, good, s.cfg.Path, good, s.cfg.Path))
	}
	if err != nil {
		return fail(err)
	}
	if good < info.Size() {
		kept, err := keepTail(f, good, info.Size())
		if err != nil {
			return fail(fmt.Errorf("keep a copy of the torn tail before dropping it: %w", err))
		}
		s.log.Warn("journal: dropped a torn tail (a write cut short: the machine stopped, or the disk filled)",
			"journal", s.cfg.Path, "frames", frames, "keptBytes", good, "droppedBytes", info.Size()-good, "copy", kept)
		if err := f.Truncate(good); err != nil {
			return fail(fmt.Errorf("drop the torn tail: %w", err))
		}
	}
	if good == 0 {
		if _, err := f.Write(header()); err != nil {
			return fail(fmt.Errorf("write header: %w", err))
		}
		good = int64(headerSize)
	}
	s.f, s.size = f, good
	s.setCompactAt(snapshot)
	return nil
}

// keepTail copies the bytes of f from good to size to a file beside the journal, before Open
// drops them, and returns its path: they are the only trace of what the torn write held.
func keepTail(f *os.File, good, size int64) (string, error) {
	path := fmt.Sprintf("%s.torn-%d", f.Name(), good)
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, io.NewSectionReader(f, good, size-good))
	return path, errors.Join(err, out.Close())
}

// setCompactAt sets the size at which the next compaction starts: twice what the journal was
// when it was last rewritten (snapshot bytes, its compacted part), and at least Config.CompactAt.
// A journal never compacted counts as rewritten at 0: it compacts once it reaches CompactAt,
// whatever restarts come between.
func (s *Store) setCompactAt(snapshot int64) {
	s.compactAt = max(s.cfg.CompactAt, 2*snapshot)
	if s.cfg.compactEvery {
		s.compactAt = 1
	}
}

// replay applies a frame read back from the journal to mem.
func replay(mem *relay.MemoryStore, fr *frame) error {
	if fr.Prune != nil {
		_, err := mem.PruneTrace(context.Background(), *fr.Prune)
		return err
	}
	records, err := fromWire(fr.Records)
	if err != nil {
		return err
	}
	return mem.Apply(context.Background(), records)
}

// Apply encodes records into a frame, applies them to the store's memory and appends the frame
// to the journal, with one write, before it returns. A record the store cannot keep fails the
// batch with nothing changed. A write that fails leaves the store failed: every later call
// returns the error. The store keeps nothing of the records' slices or maps (the memory store
// copies what it keeps).
//
// The store is not a relay.StagedStore: its write is one append of a few kilobytes, which the
// relay's loop makes in line faster than it could hand the batch to a goroutine of its own.
func (s *Store) Apply(ctx context.Context, records []relay.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("apply %d records: %w", len(records), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	records = relay.CompactRecords(records)
	ws, err := toWire(records)
	if err != nil {
		return fmt.Errorf("apply %d records: %w", len(records), err)
	}
	s.buf, err = s.enc.encode(s.buf[:0], &frame{Records: ws})
	if err != nil {
		return fmt.Errorf("apply %d records: encode: %w", len(records), err)
	}
	if err := s.mem.Apply(ctx, records); err != nil {
		s.enc.restart() // the frame is dropped: the next must not rely on what it defined
		return err
	}
	if err := s.write(s.buf); err != nil {
		return err
	}
	return s.maybeCompact()
}

// write appends buf to the journal with one write(2), or fails the store.
func (s *Store) write(buf []byte) error {
	n, err := s.f.Write(buf)
	s.size += int64(n)
	if err != nil {
		s.err = fmt.Errorf("journal %s: write: %w. The store has stopped: its memory holds a batch the journal may not, which was not acknowledged. Free space or mend the disk, then restart the relay", s.cfg.Path, err)
		return s.err
	}
	return nil
}

// usable is the reason the store cannot be used, if there is one.
func (s *Store) usable() error {
	if s.closed {
		return fmt.Errorf("journal %s: the store is closed", s.cfg.Path)
	}
	return s.err
}

// Load returns the state, as relay.MemoryStore.Load does.
func (s *Store) Load(ctx context.Context) (*relay.State, error) {
	s.mu.Lock()
	err := s.usable()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.mem.Load(ctx)
}

// QueryTrace (relay.TraceStore) answers from the trace in memory.
func (s *Store) QueryTrace(ctx context.Context, q relay.TraceQuery) (relay.TracePage, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return relay.TracePage{}, fmt.Errorf("journal %s: the store is closed", s.cfg.Path)
	}
	return s.mem.QueryTrace(ctx, q)
}

// PruneTrace (relay.TraceStore) deletes what the bound no longer keeps, and journals the pass so
// that the journal rebuilds the same trace.
func (s *Store) PruneTrace(ctx context.Context, p relay.TracePrune) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return 0, err
	}
	n, err := s.mem.PruneTrace(ctx, p)
	if err != nil || n == 0 {
		return n, err
	}
	buf, err := s.enc.encode(nil, &frame{Prune: &p})
	if err != nil {
		s.err = fmt.Errorf("journal %s: encode a pass of the trace's pruning: %w (the store has stopped: its memory holds changes the journal does not)", s.cfg.Path, err)
		return n, s.err
	}
	return n, s.write(buf)
}

// Close waits for a compaction under way and swaps to what it wrote, rewrites from memory a
// journal a compaction found damaged (mendBeforeClose), closes the journal and releases its
// lock. Calls after it fail.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if c := s.compacting; c != nil {
		<-c.done
		if s.err == nil {
			s.finish(c)
		} else {
			s.compacting = nil
			errs = append(errs, c.discard())
		}
	}
	switch {
	case s.damaged && s.err == nil:
		errs = append(errs, s.mendBeforeClose())
	case s.damaged:
		errs = append(errs, s.damagedError(fmt.Errorf("not rewritten from memory after a failed write: %w", s.err)))
	}
	if err := s.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close journal %s: %w", s.cfg.Path, err))
	}
	errs = append(errs, s.lock.Close()) // closing the file releases the flock
	return errors.Join(errs...)
}

// mendBeforeClose rewrites from memory a journal that a compaction found damaged, waiting for
// the rewrite: once the store is closed, the memory that could mend it is gone, and the next
// start would refuse the file.
func (s *Store) mendBeforeClose() error {
	err := s.compactNow() // from memory: s.damaged
	if err == nil && !s.damaged {
		return nil
	}
	if err == nil {
		err = errors.New("see the log")
	}
	return s.damagedError(fmt.Errorf("rewriting it from memory failed: %w", err))
}

// damagedError says that the journal is damaged on the disk, and why it stays so.
func (s *Store) damagedError(why error) error {
	return fmt.Errorf("journal %s: damaged on the disk, and %w: keep a copy of it before the next start, which will refuse it or read it short", s.cfg.Path, why)
}

// compactPath is the file a compaction writes before it replaces the journal.
func (s *Store) compactPath() string { return s.cfg.Path + ".compact" }

// maybeCompact starts a compaction once the journal has grown to compactAt, and finishes one
// whose rewrite is done. It runs with s.mu held, after a batch's frame is written: the memory
// and the journal hold the same.
func (s *Store) maybeCompact() error {
	if c := s.compacting; c != nil {
		select {
		case <-c.done:
			return s.finishAndMend(c)
		default:
			return nil
		}
	}
	if s.size < s.compactAt {
		return nil
	}
	c, snapshot, err := s.startCompaction()
	if err != nil || c == nil {
		return err
	}
	if s.cfg.waitCompaction || c.fromMemory {
		c.run(snapshot)
		return s.finishAndMend(c)
	}
	go c.run(snapshot)
	return nil
}

// startCompaction begins a compaction of the journal as it stands (nil if it could not, which
// it logs) and returns the snapshot its rewrite starts from: the journal read back, or — when
// the last compaction found the journal damaged on the disk — a copy of the memory, which
// holds every batch. A rewrite from memory must run while the loop waits, so that no frame is
// appended meanwhile and the swap copies no tail from a file whose bytes, or length, are no
// longer the store's.
func (s *Store) startCompaction() (*compaction, func() (iter.Seq[relay.Record], error), error) {
	c := &compaction{done: make(chan struct{}), path: s.compactPath(), from: s.size, fromMemory: s.damaged}
	var snapshot func() (iter.Seq[relay.Record], error)
	if c.fromMemory {
		st, err := s.mem.Load(context.Background())
		if err != nil {
			return nil, nil, err
		}
		trace := s.mem.TraceEntries()
		s.log.Warn("journal: rewriting the damaged journal from memory", "journal", s.cfg.Path, "bytes", s.size)
		snapshot = func() (iter.Seq[relay.Record], error) { return stateRecords(st, trace), nil }
	} else {
		// The rewrite reads the journal back through a descriptor of its own, so that nothing
		// it does waits on the store's lock, or holds it.
		src, err := os.Open(s.cfg.Path)
		if err != nil {
			s.log.Error("journal: compaction not started; the journal is left as it was", "journal", s.cfg.Path, "err", err)
			s.compactAt = 2 * s.size
			return nil, nil, nil
		}
		s.log.Info("journal: compacting", "journal", s.cfg.Path, "bytes", s.size)
		snapshot = func() (iter.Seq[relay.Record], error) { return c.readBack(src) }
	}
	s.compacting = c
	s.enc.restart() // the frames from here on read alone: the swap copies them as bytes
	return c, snapshot, nil
}

// finishAndMend finishes compaction c and, if it found the journal damaged on the disk,
// rewrites the journal from memory at once, the loop waiting (a rewrite from memory that fails
// is not retried here: see finish).
func (s *Store) finishAndMend(c *compaction) error {
	s.finish(c)
	if !c.damaged || c.fromMemory {
		return nil
	}
	return s.compactNow()
}

// compactNow runs a compaction whole while the caller waits, and finishes it: how a journal
// found damaged is rewritten from memory, at once or before the store closes.
func (s *Store) compactNow() error {
	c, snapshot, err := s.startCompaction()
	if err != nil || c == nil {
		return err
	}
	c.run(snapshot)
	s.finish(c)
	return nil
}

// finish ends compaction c, whose rewrite is done: it swaps to the new journal, or drops it if
// the rewrite failed. A failed compaction leaves the journal as it was, and is logged; the next
// is tried when the journal has doubled again — or, if this one found the journal damaged on
// the disk, from memory at once (finishAndMend, Close), so that a file the next start would
// refuse or read short does not stay one. A rewrite from memory that fails is tried again when
// the journal has doubled, and at Close.
func (s *Store) finish(c *compaction) {
	s.compacting = nil
	err := c.err
	if err == nil {
		err = s.swap(c)
	}
	if err == nil {
		s.damaged = false
		return
	}
	s.log.Error("journal: compaction failed; the journal is left as it was", "journal", s.cfg.Path, "err", err,
		"rewriteMs", c.took.Milliseconds())
	s.compactAt = 2 * s.size
	switch {
	case c.damaged && !c.fromMemory:
		s.log.Error("journal: the journal is damaged on the disk; rewriting it from memory", "journal", s.cfg.Path)
		s.damaged, s.compactAt = true, s.size
	case c.fromMemory:
		s.log.Error("journal: the journal is still damaged on the disk; the rewrite from memory is tried again when it has doubled, and at the stop", "journal", s.cfg.Path)
	}
	if err := c.discard(); err != nil {
		s.log.Error("journal: remove the failed compaction's file", "file", c.path, "err", err)
	}
}

// swap finishes compaction c: it copies the frames appended since its snapshot to its file,
// checking them (copyFrames), renames that over the journal, and appends to it from then on.
func (s *Store) swap(c *compaction) error {
	tail := s.size - c.from
	if err := copyFrames(c.f, io.NewSectionReader(s.f, c.from, tail), tail); err != nil {
		// The journal no longer holds the frames the store appended, or cannot be read:
		// damaged, as far as anyone can tell, and mended from memory.
		c.damaged = errors.Is(err, errDamaged)
		return fmt.Errorf("copy the frames appended since the snapshot: %w", err)
	}
	// Synced before it replaces the journal, whose copy of these frames may be on the disk
	// already: a machine that stops after the rename must not find them only in the cache.
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", c.path, err)
	}
	if err := os.Rename(c.path, s.cfg.Path); err != nil {
		return err
	}
	syncDir(filepath.Dir(s.cfg.Path))
	old := s.size
	_ = s.f.Close()
	s.f, s.size = c.f, c.size+tail
	s.setCompactAt(c.size)
	s.log.Info("journal: compacted", "journal", s.cfg.Path, "bytesBefore", old, "bytesAfter", s.size,
		"rewriteMs", c.took.Milliseconds())
	return nil
}

// syncDir syncs a directory, so that a rename in it lasts; best effort (the promise is the
// process's crash, which a rename survives without it).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
