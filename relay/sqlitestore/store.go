// Package sqlitestore is the relay's durable relay.Store: a SQLite database in WAL mode, through
// the pure-Go driver modernc.org/sqlite. The relay shell applies each Ready's records to it before
// acting on the rest of the Ready, and rebuilds its core from Load at start.
//
// It behaves as relay.MemoryStore does (the store of the virtual mode): after the same records
// Load returns the same State, in the same order, so that a relay rebuilds the same core on
// either. A conformance property test holds it to that. Times come back in UTC.
//
// Each Apply is one transaction, committed with synchronous=NORMAL: a transaction Apply returned
// for survives a crash of the process (SIGKILL included), though not necessarily a power loss or
// an operating system crash.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pushlab/pushlab/relay"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrSchemaTooNew is returned by Open for a database written by a newer relay, whose schema this
// code does not know.
var ErrSchemaTooNew = errors.New("database schema is newer than this relay")

// busyTimeout is how long a statement waits for a lock another process holds (an operator's
// sqlite3 shell, a backup) before it fails.
const busyTimeout = 5 * time.Second

// Store is a relay.Store in a SQLite database file. Its methods may be called from several
// goroutines: writes (Apply, a batch's Commit, the trace's deletes) and Load take turns on the
// store's one writing connection; the trace's reads have connections of their own (reads).
type Store struct {
	db    *sql.DB
	path  string
	stmts statements
	ckpt  *checkpointer
	// reads are connections of their own for the push trace's reads (admin queries, and the
	// search for entries due for pruning), so that a long read never holds db, whose one
	// connection writes the relay's batches: in WAL mode a reader sees the last committed batch
	// and neither waits for the writer nor holds it up.
	reads   *sql.DB
	reading readStatements
}

// readStatements are the statements prepared on the reading connections.
type readStatements struct {
	countTrace, oldestTrace, agedTrace *sql.Stmt
}

var _ relay.StagedStore = (*Store)(nil)

// Open opens the store in the SQLite database at path, creating the file if there is none and
// bringing its schema up to date. It fails with ErrSchemaTooNew for a database a newer relay
// wrote.
func Open(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	// The store holds certificates' credentials: create it readable by its owner only. SQLite
	// creates its -wal and -shm files with the database file's permissions.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	_ = f.Close()
	// A file: URI, so that any path works: SQLite decodes the escapes.
	dsn := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs)) +
		fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)", busyTimeout.Milliseconds())
	// The store's connection never checkpoints: a checkpointer of its own does (checkpoint.go).
	// Its page cache holds 16 MiB, not SQLite's 2 MiB: under load each batch touches pages all
	// over the messages' and the trace's indexes, which in 2 MiB were read back with a system
	// call each time and spilled to the log mid-transaction when the batch's dirty pages filled it.
	// One connection: SQLite writes one transaction at a time anyway, and with one connection
	// Load never sees a half-applied batch nor waits on a lock of its own process.
	db, err := openPool(dsn+"&_pragma=wal_autocheckpoint(0)&_pragma=cache_size(-16384)", 1)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.init(context.Background()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if s.reads, s.reading, err = openReads(dsn); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	if s.ckpt, err = startCheckpointer(dsn); err != nil {
		_ = s.reads.Close()
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
}

// openPool opens a pool of conns connections to the database at dsn that it keeps open for the
// store's life (the pragmas of a dsn apply to each connection as it opens).
func openPool(dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// traceReaders is how many trace reads may run at once: the admin API's queries and the
// trace keeper's search for entries due for pruning.
const traceReaders = 2

// openReads opens the store's reading connections to the database at dsn, which cannot write
// (query_only), and prepares the trace keeper's reads on them.
func openReads(dsn string) (*sql.DB, readStatements, error) {
	var st readStatements
	db, err := openPool(dsn+"&_pragma=query_only(1)", traceReaders)
	if err != nil {
		return nil, st, fmt.Errorf("open the reading connections: %w", err)
	}
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&st.countTrace, countTraceSQL},
		{&st.oldestTrace, oldestTraceSQL},
		{&st.agedTrace, agedTraceSQL},
	} {
		if *p.stmt, err = db.PrepareContext(context.Background(), p.query); err != nil {
			_ = db.Close()
			return nil, st, fmt.Errorf("open the reading connections: prepare %q: %w", p.query, err)
		}
	}
	return db, st, nil
}

func (s *Store) init(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, not wal: is the file on a file system without shared memory?", mode)
	}
	if err := migrate(ctx, s.db); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	return s.prepare(ctx)
}

// Close closes the database. Apply and Load fail after it.
func (s *Store) Close() error {
	// The checkpointer's and the reading connections close first: SQLite checkpoints the rest of
	// the log when the last connection, the store's, closes. Closing the *sql.DB closes the prepared
	// statements with it.
	ckptErr := s.ckpt.close()
	readsErr := s.reads.Close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close sqlite store %s: %w", s.path, err)
	}
	if err := errors.Join(ckptErr, readsErr); err != nil {
		return fmt.Errorf("close sqlite store %s: %w", s.path, err)
	}
	return nil
}
