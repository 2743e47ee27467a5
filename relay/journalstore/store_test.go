package journalstore

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// openStore opens the journal at path, closed when the test ends.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// journalOpts compare what a journal store loads with what a memory store loads: as
// storetest.StateOpts do, and with an empty slice or map equal to nil, the one difference a
// journal read back makes (gob does not tell them apart, and nothing reads them apart).
var journalOpts = cmp.Options{storetest.StateOpts, cmpopts.EquateEmpty()}

// requireSame fails unless want and got load the same state and trace (journalOpts).
func requireSame(t require.TestingT, want, got relay.Store, msgAndArgs ...any) {
	ctx := context.Background()
	w, err := want.Load(ctx)
	require.NoError(t, err)
	g, err := got.Load(ctx)
	require.NoError(t, err)
	if diff := cmp.Diff(storetest.Normalize(w), storetest.Normalize(g), journalOpts); diff != "" {
		require.Fail(t, "states differ (-want +got):\n"+diff, msgAndArgs...)
	}
	if diff := cmp.Diff(allTrace(t, want), allTrace(t, got), journalOpts); diff != "" {
		require.Fail(t, "traces differ (-want +got):\n"+diff, msgAndArgs...)
	}
}

// allTrace is every entry of s's trace, oldest first.
func allTrace(t require.TestingT, s relay.TraceStore) []relay.TraceEntry {
	p, err := s.QueryTrace(context.Background(), relay.TraceQuery{})
	require.NoError(t, err)
	return p.Entries
}

// drawTrace draws an AppendTrace of a few entries.
func drawTrace(t *rapid.T) relay.AppendTrace {
	var es []relay.TraceEntry
	for range rapid.IntRange(1, 4).Draw(t, "entries") {
		at := storetest.DrawTime(t, "traceTime")
		if at.IsZero() {
			at = time.Unix(0, 1)
		}
		dev := storetest.DrawDevice(t)
		es = append(es, relay.TraceEntry{Time: at, SDKAppID: dev.SDKAppID, UserID: dev.UserID, DeviceID: dev.DeviceID,
			Seqs: storetest.DrawSeqs(t, "traceSeqs"), MsgID: storetest.RawString.Draw(t, "msgId"),
			Reason: rapid.SampledFrom([]string{"pushed", "online", "fcm-ok"}).Draw(t, "reason")})
	}
	return relay.AppendTrace{Entries: es}
}

// TestPropertyJournalMatchesMemoryStore: random batches (records of every kind, trace entries,
// some refused) and passes of the trace's pruning go to a memory store and to a journal store,
// which is closed and reopened at random points; in two variants it starts a compaction after
// every batch, waiting for it, or letting it run in the background while the next batches and
// passes are appended (and Close swap to it). After each step the journal store holds the
// memory store's state and trace.
func TestPropertyJournalMatchesMemoryStore(t *testing.T) {
	for _, variant := range []struct {
		name                         string
		compactEvery, waitCompaction bool
	}{
		{name: "appending"},
		{name: "compacting after every batch, in line", compactEvery: true, waitCompaction: true},
		{name: "compacting after every batch, in the background", compactEvery: true},
	} {
		t.Run(variant.name, func(t *testing.T) {
			dir := t.TempDir()
			run := 0
			rapid.Check(t, func(rt *rapid.T) {
				ctx := context.Background()
				run++
				cfg := Config{Path: filepath.Join(dir, "j"+string(rune('a'+run%26))+time.Now().Format("150405.000000000"))}
				cfg.compactEvery, cfg.waitCompaction = variant.compactEvery, variant.waitCompaction
				s, err := Open(cfg)
				require.NoError(rt, err)
				defer func() { require.NoError(rt, s.Close()) }()
				mem := relay.NewMemoryStore()
				u := storetest.NewUniverse()
				for step := range rapid.IntRange(1, 12).Draw(rt, "steps") {
					switch rapid.IntRange(0, 6).Draw(rt, "what") {
					case 0:
						p := relay.TracePrune{Keep: rapid.IntRange(0, 6).Draw(rt, "keep"), Batch: rapid.IntRange(1, 4).Draw(rt, "batch")}
						if rapid.Bool().Draw(rt, "before") {
							p.Before = time.Unix(0, rapid.Int64().Draw(rt, "beforeNs"))
						}
						want, err := mem.PruneTrace(ctx, p)
						require.NoError(rt, err)
						got, err := s.PruneTrace(ctx, p)
						require.NoError(rt, err)
						require.Equal(rt, want, got, "step %d: entries pruned", step)
					case 1:
						require.NoError(rt, s.Close())
						s, err = Open(cfg)
						require.NoError(rt, err)
					case 2:
						// A batch refused after it was encoded: nothing of it is kept.
						bad := relay.AppendTrace{Entries: []relay.TraceEntry{{UserID: "no time"}}}
						require.Error(rt, s.Apply(ctx, []relay.Record{u.DrawRecord(rt), bad}))
					default:
						var records []relay.Record
						for range rapid.IntRange(0, 8).Draw(rt, "batchSize") {
							if rapid.IntRange(0, 3).Draw(rt, "traceOrRecord") == 0 {
								records = append(records, drawTrace(rt))
							} else {
								records = append(records, u.DrawRecord(rt))
							}
						}
						require.NoError(rt, mem.Apply(ctx, records))
						require.NoError(rt, s.Apply(ctx, records), "step %d", step)
					}
					requireSame(rt, mem, s, "journal (+) against memory (-), after step %d", step)
				}
			})
		})
	}
}

// The sample, with its secrets and bytes no SQL column takes, comes back after a reopen.
func TestSampleSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal")}
	s := openStore(t, cfg)
	require.NoError(t, s.Apply(ctx, append(storetest.Sample(), relay.AppendTrace{Entries: storetest.TraceFixture()})))
	mem := relay.NewMemoryStore()
	require.NoError(t, mem.Apply(ctx, append(storetest.Sample(), relay.AppendTrace{Entries: storetest.TraceFixture()})))
	require.NoError(t, s.Close())

	s = openStore(t, cfg)
	requireSame(t, mem, s)
	got := storetest.Load(t, s)
	require.Equal(t, "0123456789abcdef-secret", got.Apps[0].SecretKey.Reveal())
	require.Equal(t, "AAAA-key", got.Certificates[0].ServerKey.Reveal())
	require.Equal(t, `{"type":"service_account","private_key":"-----BEGIN"}`, got.Certificates[0].ServiceAccount.Reveal())
	require.Equal(t, storetest.TraceFixture(), allTrace(t, s))
}

// The store keeps nothing of the records it applies: the relay's loop goes on changing them,
// and the store keeps them as they were, before and after a reopen.
func TestKeepsNothingOfItsRecords(t *testing.T) {
	ctx := context.Background()
	records := func() []relay.Record {
		return append(storetest.Sample(), relay.AppendTrace{Entries: storetest.TraceFixture()})
	}
	want := relay.NewMemoryStore()
	require.NoError(t, want.Apply(ctx, records()))

	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal")}
	got := openStore(t, cfg)
	rs := records()
	require.NoError(t, got.Apply(ctx, rs))
	storetest.Scribble(reflect.ValueOf(rs))
	requireSame(t, want, got)
	require.NoError(t, got.Close())
	requireSame(t, want, openStore(t, cfg), "after a reopen")
}

// A record the store cannot keep fails the batch, with nothing kept or written.
func TestRefusedBatchLeavesNothing(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal")}
	s := openStore(t, cfg)
	require.NoError(t, s.Apply(ctx, storetest.Sample()))
	before := storetest.Load(t, s)
	type unknownRecord struct{ relay.PutCounter }
	err := s.Apply(ctx, []relay.Record{relay.PutCounter{Name: "messages", Value: 9}, unknownRecord{}})
	require.ErrorContains(t, err, "unknown record type journalstore.unknownRecord")
	err = s.Apply(ctx, []relay.Record{relay.PutCounter{Name: "messages", Value: 9}, relay.AppendTrace{Entries: []relay.TraceEntry{{}}}})
	require.ErrorContains(t, err, "trace entry 1 of 1: time")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, s.Apply(cancelled, []relay.Record{relay.PutCounter{Name: "messages", Value: 9}}), context.Canceled)
	storetest.RequireEqualStates(t, before, storetest.Load(t, s))
	require.NoError(t, s.Close())
	storetest.RequireEqualStates(t, before, storetest.Load(t, openStore(t, cfg)))
}

// A batch refused after it was encoded, as the first frame of a stream, took gob's type
// definitions with it: the next frame begins a stream of its own, or the journal would not read
// back.
func TestAFrameAfterARefusedOneReadsBack(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal")}
	s := openStore(t, cfg)
	err := s.Apply(ctx, []relay.Record{relay.PutCounter{Name: "messages", Value: 9}, relay.AppendTrace{Entries: []relay.TraceEntry{{}}}})
	require.ErrorContains(t, err, "trace entry 1 of 1: time")
	require.NoError(t, s.Apply(ctx, []relay.Record{relay.PutCounter{Name: "messages", Value: 1}, relay.AppendTrace{Entries: storetest.TraceFixture()}}))
	require.NoError(t, s.Close())
	s = openStore(t, cfg)
	require.Equal(t, uint64(1), storetest.Load(t, s).Counters["messages"])
	require.Equal(t, storetest.TraceFixture(), allTrace(t, s))
}

// A failed write stops the store: its memory holds a batch the journal may not, so every call
// after it fails rather than acknowledge what would not survive a restart.
func TestAFailedWriteStopsTheStore(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Config{Path: filepath.Join(t.TempDir(), "relay.journal")})
	require.NoError(t, s.f.Close()) // the journal's file gone from under the store
	err := s.Apply(ctx, []relay.Record{relay.PutCounter{Name: "messages", Value: 1}})
	require.ErrorContains(t, err, "The store has stopped")
	require.ErrorContains(t, s.Apply(ctx, []relay.Record{relay.PutCounter{Name: "messages", Value: 2}}), "The store has stopped")
	_, err = s.Load(ctx)
	require.ErrorContains(t, err, "The store has stopped")
}

// A second process on the same journal is refused, naming the lock; the first one's close
// releases it.
func TestASecondOpenIsRefused(t *testing.T) {
	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal")}
	s := openStore(t, cfg)
	_, err := Open(cfg)
	require.ErrorContains(t, err, "another process has the journal open")
	require.NoError(t, s.Close())
	openStore(t, cfg)
}

// appendBatches writes n batches of one message each to a new journal and returns its config,
// the state they make, and the journal's size after each batch.
func appendBatches(t *testing.T, n int) (Config, *relay.State, []int64) {
	t.Helper()
	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal")}
	s := openStore(t, cfg)
	var sizes []int64
	for i := 1; i <= n; i++ {
		require.NoError(t, s.Apply(context.Background(), []relay.Record{
			relay.PutMessage{User: relay.UserKey{SDKAppID: 1400000001, UserID: "alice"}, Msg: relay.StoredMsg{Seq: uint64(i), ID: "m", Text: "hello"}},
			relay.PutCounter{Name: "messages", Value: uint64(i)},
		}))
		sizes = append(sizes, s.size)
	}
	st := storetest.Load(t, s)
	require.NoError(t, s.Close())
	return cfg, st, sizes
}

// A machine that stops mid-write leaves the last frame short: Open drops it, keeps the batches
// before it, logs what it dropped, and appends after them.
func TestATornTailIsDropped(t *testing.T) {
	for _, cut := range []struct {
		name string
		keep func(last, prev int64) int64 // bytes of the journal left
	}{
		{"in a frame's header", func(last, prev int64) int64 { return prev + 5 }},
		{"in a frame's payload", func(last, prev int64) int64 { return last - 3 }},
	} {
		t.Run(cut.name, func(t *testing.T) {
			cfg, _, sizes := appendBatches(t, 3)
			require.NoError(t, os.Truncate(cfg.Path, cut.keep(sizes[2], sizes[1])))
			var logged bytes.Buffer
			cfg.Log = slog.New(slog.NewTextHandler(&logged, nil))
			s := openStore(t, cfg)
			st := storetest.Load(t, s)
			require.Equal(t, uint64(2), st.Counters["messages"], "the two whole batches")
			require.Len(t, st.Messages[relay.UserKey{SDKAppID: 1400000001, UserID: "alice"}], 2)
			require.Contains(t, logged.String(), "dropped a torn tail")
			fi, err := os.Stat(cfg.Path)
			require.NoError(t, err)
			require.Equal(t, sizes[1], fi.Size(), "the tail is cut off the file")
			kept, err := os.ReadFile(fmt.Sprintf("%s.torn-%d", cfg.Path, sizes[1]))
			require.NoError(t, err, "a copy of the tail is kept")
			require.Len(t, kept, int(cut.keep(sizes[2], sizes[1])-sizes[1]))

			require.NoError(t, s.Apply(context.Background(), []relay.Record{relay.PutCounter{Name: "messages", Value: 7}}))
			require.NoError(t, s.Close())
			require.Equal(t, uint64(7), storetest.Load(t, openStore(t, cfg)).Counters["messages"], "appended after the whole frames")
		})
	}
	t.Run("a header cut off", func(t *testing.T) {
		cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal")}
		require.NoError(t, os.WriteFile(cfg.Path, header()[:5], 0o600))
		s := openStore(t, cfg)
		require.NoError(t, s.Apply(context.Background(), []relay.Record{relay.PutCounter{Name: "messages", Value: 4}}))
		require.NoError(t, s.Close())
		require.Equal(t, uint64(4), storetest.Load(t, openStore(t, cfg)).Counters["messages"])
	})
	t.Run("zeros the file system left after the last frame", func(t *testing.T) {
		cfg, _, sizes := appendBatches(t, 3)
		f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.Write(make([]byte, 4096))
		require.NoError(t, err)
		require.NoError(t, f.Close())
		require.Equal(t, uint64(3), storetest.Load(t, openStore(t, cfg)).Counters["messages"])
		fi, err := os.Stat(cfg.Path)
		require.NoError(t, err)
		require.Equal(t, sizes[2], fi.Size())
	})
	t.Run("a last frame whose bytes do not match its checksum", func(t *testing.T) {
		cfg, _, sizes := appendBatches(t, 3)
		flipByte(t, cfg.Path, sizes[2]-1)
		require.Equal(t, uint64(2), storetest.Load(t, openStore(t, cfg)).Counters["messages"])
	})
}

// A frame that does not check out with whole frames after it is damage, not a torn tail: Open
// refuses the journal, saying where, and leaves the file as it is.
func TestADamagedJournalIsRefused(t *testing.T) {
	cfg, _, sizes := appendBatches(t, 3)
	flipByte(t, cfg.Path, sizes[0]-1)
	_, err := Open(cfg)
	require.ErrorContains(t, err, "journal damaged: frame 1 at byte 17 does not match its checksum")
	require.ErrorContains(t, err, fmt.Sprintf("truncate -s 17 %s", cfg.Path), "the error says what to do")
	fi, err := os.Stat(cfg.Path)
	require.NoError(t, err)
	require.Equal(t, sizes[2], fi.Size(), "nothing dropped")

	// A length that does not match its checksum is damage, though it points past the end of the
	// file as a frame cut off would.
	cfg, _, sizes = appendBatches(t, 3)
	flipByte(t, cfg.Path, sizes[0]+2)
	_, err = Open(cfg)
	require.ErrorContains(t, err, fmt.Sprintf("frame 2 at byte %d: its length does not match its checksum", sizes[0]))
	fi, err = os.Stat(cfg.Path)
	require.NoError(t, err)
	require.Equal(t, sizes[2], fi.Size(), "nothing dropped")

	require.NoError(t, os.WriteFile(cfg.Path, []byte("SQLite format 3\x00"), 0o600))
	_, err = Open(cfg)
	require.ErrorContains(t, err, "not a pushlab journal")
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[at] ^= 0xff
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// Compaction rewrites the journal from the state once it has doubled, and leaves a journal that
// rebuilds the same state and trace.
func TestCompactionShrinksTheJournalToTheState(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal"), CompactAt: 4 << 10, waitCompaction: true}
	s := openStore(t, cfg)
	mem := relay.NewMemoryStore()
	written := int64(0)
	for i := 1; i <= 400; i++ {
		// The same session again and again: the compacted journal keeps it once.
		batch := []relay.Record{
			relay.PutSession{Session: relay.SessionState{Key: relay.DeviceKey{SDKAppID: 1400000001, UserID: "alice", DeviceID: "phone"}, Unread: i}},
			relay.PutCounter{Name: "messages", Value: uint64(i)},
		}
		if i%100 == 0 {
			batch = append(batch, relay.PutMessage{User: relay.UserKey{SDKAppID: 1400000001, UserID: "alice"}, Msg: relay.StoredMsg{Seq: uint64(i), Text: "kept"}},
				relay.AppendTrace{Entries: storetest.TraceFixture()})
		}
		before := s.size
		require.NoError(t, mem.Apply(ctx, batch))
		require.NoError(t, s.Apply(ctx, batch))
		written += max(s.size-before, 0)
	}
	fi, err := os.Stat(cfg.Path)
	require.NoError(t, err)
	require.Less(t, fi.Size()*4, written, "the journal was rewritten: %d bytes appended, %d kept", written, fi.Size())
	require.NoError(t, s.Close())
	requireSame(t, mem, openStore(t, cfg))
	_, err = os.Stat(cfg.Path + ".compact")
	require.ErrorIs(t, err, os.ErrNotExist, "no compaction file left behind")
}

// A compaction runs in the background while batches go on being committed: the commit after
// its rewrite is done swaps to the new journal, with the frames appended meanwhile, and a
// reopen rebuilds the state and trace of every batch.
func TestACompactionKeepsTheBatchesCommittedWhileItRan(t *testing.T) {
	ctx := context.Background()
	var logged bytes.Buffer
	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal"), CompactAt: 2 << 10, Log: slog.New(slog.NewTextHandler(&logged, nil))}
	s := openStore(t, cfg)
	mem := relay.NewMemoryStore()
	alice := relay.UserKey{SDKAppID: 1400000001, UserID: "alice"}
	apply := func(batch []relay.Record) {
		require.NoError(t, mem.Apply(ctx, batch))
		require.NoError(t, s.Apply(ctx, batch))
	}
	i := 0
	for ; s.compacting == nil; i++ {
		apply([]relay.Record{relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: uint64(i), Text: "before"}}, relay.AppendTrace{Entries: storetest.TraceFixture()}})
	}
	c := s.compacting
	// Batches committed while the rewrite runs, then once it is done: the commit that swaps.
	for range 3 {
		apply([]relay.Record{relay.PutMessage{User: alice, Msg: relay.StoredMsg{Seq: uint64(i), Text: "during"}}})
		i++
	}
	<-c.done
	apply([]relay.Record{relay.PutCounter{Name: "messages", Value: uint64(i)}})
	require.Nil(t, s.compacting, "swapped")
	require.Contains(t, logged.String(), "journal: compacting")
	require.Contains(t, logged.String(), "rewriteMs=")
	require.Contains(t, logged.String(), "journal: compacted")
	require.NoError(t, s.Close())
	requireSame(t, mem, openStore(t, cfg))
}

// The journal holds credentials: only its owner may read it, whatever the umask.
func TestTheJournalIsPrivate(t *testing.T) {
	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal"), CompactAt: 1, waitCompaction: true}
	s := openStore(t, cfg)
	require.NoError(t, s.Apply(context.Background(), storetest.Sample()))
	require.NoError(t, s.Apply(context.Background(), storetest.Sample()[:1])) // compacted by now
	for _, p := range []string{cfg.Path, cfg.Path + ".lock"} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), p)
	}
}

// TestWireFormsMirrorTheirRecords: an app's and a certificate's wire forms list every field of
// the relay's types, so that a field added there is not silently left out of the journal.
func TestWireFormsMirrorTheirRecords(t *testing.T) {
	fields := func(v any) []string {
		var out []string
		for f := range reflect.TypeOf(v).Fields() {
			out = append(out, f.Name+" "+f.Type.String())
		}
		return out
	}
	secretAsString := func(fs []string) []string {
		for i, f := range fs {
			fs[i] = replaceSuffix(f, " secret.Secret", " string")
		}
		return fs
	}
	require.Equal(t, secretAsString(fields(relay.AppConfig{})), fields(wireApp{}))
	require.Equal(t, secretAsString(fields(relay.Certificate{})), fields(wireCertificate{}))
}

func replaceSuffix(s, old, new string) string {
	if len(s) >= len(old) && s[len(s)-len(old):] == old {
		return s[:len(s)-len(old)] + new
	}
	return s
}

// A journal that never reached its compaction threshold between restarts compacts once it has:
// the threshold is twice the size of the journal's last rewrite, not of the file at Open.
func TestAJournalCompactsAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal"), CompactAt: 16 << 10, waitCompaction: true}
	counter := func(i int) []relay.Record {
		return []relay.Record{relay.PutCounter{Name: "messages", Value: uint64(i)}}
	}
	i := 0
	for range 6 { // six restarts, each appending a third of the threshold
		s := openStore(t, cfg)
		for written := int64(0); written < cfg.CompactAt/3; i++ {
			before := s.size
			require.NoError(t, s.Apply(ctx, counter(i)))
			written += max(s.size-before, 0) // a compaction shrinks the file
		}
		require.NoError(t, s.Close())
	}
	fi, err := os.Stat(cfg.Path)
	require.NoError(t, err)
	require.Less(t, fi.Size(), cfg.CompactAt, "compacted along the way")
	require.Equal(t, uint64(i-1), storetest.Load(t, openStore(t, cfg)).Counters["messages"])
}

// A compaction that fails (its file cannot be made) leaves the journal as it was, says so in the
// log, and the store goes on.
func TestAFailedCompactionLeavesTheJournal(t *testing.T) {
	ctx := context.Background()
	var logged bytes.Buffer
	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal"), compactEvery: true, waitCompaction: true,
		Log: slog.New(slog.NewTextHandler(&logged, nil))}
	s := openStore(t, cfg)
	require.NoError(t, os.Mkdir(cfg.Path+".compact", 0o700))
	for i := 1; i <= 3; i++ {
		require.NoError(t, s.Apply(ctx, []relay.Record{relay.PutCounter{Name: "messages", Value: uint64(i)}}))
	}
	require.Contains(t, logged.String(), "journal: compaction failed; the journal is left as it was")
	require.NoError(t, s.Close())
	require.Equal(t, uint64(3), storetest.Load(t, openStore(t, cfg)).Counters["messages"])
}

// damageBench is a journal store that compacts only when a test says, its log kept, beside a
// memory store that takes the same batches: what a reopened journal must hold.
type damageBench struct {
	cfg    Config
	s      *Store
	mem    *relay.MemoryStore
	logged *bytes.Buffer
	ends   []int64 // the journal's size after each batch
}

func newDamageBench(t *testing.T) *damageBench {
	b := &damageBench{logged: &bytes.Buffer{}, mem: relay.NewMemoryStore()}
	b.cfg = Config{Path: filepath.Join(t.TempDir(), "relay.journal"), CompactAt: 1 << 40,
		Log: slog.New(slog.NewTextHandler(b.logged, nil))}
	b.s = openStore(t, b.cfg)
	return b
}

// apply gives both stores batch i.
func (b *damageBench) apply(t *testing.T, i int) {
	ctx := context.Background()
	batch := []relay.Record{relay.PutCounter{Name: "messages", Value: uint64(i)}, relay.AppendTrace{Entries: storetest.TraceFixture()}}
	require.NoError(t, b.mem.Apply(ctx, batch))
	require.NoError(t, b.s.Apply(ctx, batch), "the store goes on")
	b.ends = append(b.ends, b.s.size)
}

// compact starts a compaction, as a batch would, and waits for its rewrite to end (the store
// finishes it at its next batch or Close).
func (b *damageBench) compact(t *testing.T) *compaction {
	b.s.mu.Lock()
	b.s.compactAt = 0
	require.NoError(t, b.s.maybeCompact())
	c := b.s.compacting
	b.s.mu.Unlock()
	require.NotNil(t, c)
	<-c.done
	return c
}

// requireMended requires the log to tell the mend from memory, and the journal, closed and
// opened again, to hold what the memory store holds.
func (b *damageBench) requireMended(t *testing.T) {
	require.NoError(t, b.s.Close())
	require.Contains(t, b.logged.String(), "journal: rewriting the damaged journal from memory")
	requireSame(t, b.mem, openStore(t, b.cfg))
}

// A compaction reads the journal back, and finds damage done to it on the disk while the relay
// ran: a byte changed in a frame in the middle, or in the last frame before the compaction
// began (which alone reads as a torn tail), or the file shortened at a frame's end. The store
// goes on, and mends the file from its memory as soon as it sees the compaction failed — at the
// next batch, or at Close if that comes first: the next start opens it with everything the
// relay acknowledged.
func TestACompactionReadsTheJournalBackAndMendsDamage(t *testing.T) {
	damages := map[string]func(t *testing.T, path string, ends []int64){
		"a frame in the middle":           func(t *testing.T, path string, ends []int64) { flipByte(t, path, ends[1]-20) },
		"the last frame":                  func(t *testing.T, path string, ends []int64) { flipByte(t, path, ends[2]-20) },
		"the file shortened by one frame": func(t *testing.T, path string, ends []int64) { require.NoError(t, os.Truncate(path, ends[1])) },
	}
	for name, damage := range damages {
		for _, mendAt := range []string{"the next batch", "close"} {
			t.Run(name+", mended at "+mendAt, func(t *testing.T) {
				b := newDamageBench(t)
				for i := range 3 {
					b.apply(t, i)
				}
				damage(t, b.cfg.Path, b.ends)
				require.True(t, b.compact(t).damaged)
				if mendAt == "the next batch" {
					b.apply(t, 3)
					require.Contains(t, b.logged.String(), "journal: compacted")
					require.False(t, b.s.damaged)
				}
				b.requireMended(t)
				require.Contains(t, b.logged.String(), "compaction failed")
				require.Contains(t, b.logged.String(), "the journal is damaged on the disk")
			})
		}
	}
}

// The rewrite that mends a damaged journal from memory runs while the loop waits, so that
// nothing is appended meanwhile to a file that is no longer what the store wrote: here the
// journal is shortened by a frame, and the next batch lands where the file now ends, not where
// the store's count of its bytes says.
func TestTheMendFromMemoryHoldsTheLoop(t *testing.T) {
	b := newDamageBench(t)
	for i := range 3 {
		b.apply(t, i)
	}
	require.NoError(t, os.Truncate(b.cfg.Path, b.ends[1]))
	b.compact(t)
	b.apply(t, 3) // finishes the failed compaction, which found the journal damaged, and mends it
	require.Contains(t, b.logged.String(), "the journal is damaged on the disk")
	require.Nil(t, b.s.compacting, "the mend from memory ran while the loop waited")
	require.False(t, b.s.damaged)
	b.apply(t, 4)
	b.requireMended(t)
}

// The frames appended while a compaction runs are checked as the swap copies them: a journal
// shortened after the point the compaction read it back from, or a byte changed in one of
// those frames, marks it damaged, and it is mended from memory at once — not carried into the
// new journal, where the next start would refuse it or drop its last frame as a torn tail.
func TestASwapChecksTheFramesItCopies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, ends []int64)
		logged string
		atStop bool // the swap comes at Close, not at a batch
	}{
		{name: "shortened by a frame", logged: "the journal is shorter than the store wrote",
			damage: func(t *testing.T, path string, ends []int64) { require.NoError(t, os.Truncate(path, ends[3])) }},
		{name: "a byte changed in a frame followed by another", logged: "does not match its checksum",
			damage: func(t *testing.T, path string, ends []int64) { flipByte(t, path, ends[3]-20) }},
		{name: "a byte changed in the last frame, swapped at Close", logged: "does not match its checksum", atStop: true,
			damage: func(t *testing.T, path string, ends []int64) { flipByte(t, path, ends[4]-20) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newDamageBench(t)
			for i := range 3 {
				b.apply(t, i)
			}
			// A compaction begins, and is held back until the test runs it.
			s := b.s
			s.mu.Lock()
			c, snapshot, err := s.startCompaction()
			s.mu.Unlock()
			require.NoError(t, err)
			require.NotNil(t, c)
			b.apply(t, 3)
			b.apply(t, 4)
			tc.damage(t, b.cfg.Path, b.ends) // after what the compaction reads back
			c.run(snapshot)
			require.NoError(t, c.err, "the read-back, before the damage, checks out")
			if !tc.atStop {
				b.apply(t, 5) // the swap, and the mend in the same batch
				require.False(t, s.damaged, "mended in the same batch")
			}
			b.requireMended(t)
			require.Contains(t, b.logged.String(), tc.logged)
		})
	}
}

// Close lets a compaction under way finish and swaps to it: an idle relay stopped after a
// compaction began keeps the compacted journal.
func TestCloseFinishesACompaction(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Path: filepath.Join(t.TempDir(), "relay.journal"), CompactAt: 64 << 10}
	s := openStore(t, cfg)
	mem := relay.NewMemoryStore()
	for i := 0; s.compacting == nil; i++ {
		batch := []relay.Record{relay.PutCounter{Name: "messages", Value: uint64(i)}}
		require.NoError(t, mem.Apply(ctx, batch))
		require.NoError(t, s.Apply(ctx, batch))
	}
	before := s.size
	require.NoError(t, s.Close())
	fi, err := os.Stat(cfg.Path)
	require.NoError(t, err)
	require.Less(t, fi.Size()*4, before, "the compacted journal")
	requireSame(t, mem, openStore(t, cfg))
}

// A snapshot's frames hold at most snapshotFrame records, and each trace chunk a frame of its own.
func TestSnapshotFramesStaySmall(t *testing.T) {
	var records []relay.Record
	for i := range snapshotFrame + 10 {
		records = append(records, relay.PutCounter{Name: fmt.Sprint(i)})
	}
	records = append(records, relay.AppendTrace{}, relay.PutCounter{}, relay.AppendTrace{}, relay.AppendTrace{})
	var sizes []int
	for chunk := range snapshotFrames(slices.Values(records)) {
		sizes = append(sizes, len(chunk))
	}
	require.Equal(t, []int{snapshotFrame, 10, 1, 1, 1, 1}, sizes)
	st := &relay.State{}
	trace := make([]relay.TraceEntry, 2*snapshotTrace+1)
	var entries []int
	for r := range stateRecords(st, trace) {
		entries = append(entries, len(r.(relay.AppendTrace).Entries))
	}
	require.Equal(t, []int{snapshotTrace, snapshotTrace, 1}, entries)
}

// storetest's suite of what every durable store does (not the SQL stores' own: the journal keeps
// what the memory store keeps, times in their zones and bytes that are not UTF-8 included).
func TestDurableSuite(t *testing.T) {
	storetest.DurableSuite(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "relay.journal")
		return func(t *testing.T) relay.Store { return openStore(t, Config{Path: path}) }
	})
}
