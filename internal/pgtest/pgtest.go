// Package pgtest starts a throwaway PostgreSQL server for tests (internal/pgserver): one server
// per test binary, started at first use, with a database of its own for each test.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pushlab/pushlab/internal/pgserver"
)

// SkipEnv, set to 1, skips the tests that need PostgreSQL instead of failing them when it is not
// installed.
const SkipEnv = "PUSHLAB_NO_POSTGRES"

// Server is a running throwaway PostgreSQL server.
type Server = pgserver.Server

// Start starts a throwaway server (pgserver.Start); without PostgreSQL installed, its error says
// how to skip the tests that need it instead.
func Start() (*Server, error) {
	s, err := pgserver.Start()
	return s, explain(err)
}

// explain adds to a missing PostgreSQL's error how to skip the tests instead.
func explain(err error) error {
	if errors.Is(err, pgserver.ErrNotInstalled) {
		return fmt.Errorf("%w, or set %s=1 to skip the PostgreSQL tests", err, SkipEnv)
	}
	return err
}

// Skipped reports whether PUSHLAB_NO_POSTGRES=1 asks to skip the PostgreSQL tests.
func Skipped() bool { return os.Getenv(SkipEnv) == "1" }

// Shared is a server that a test binary's tests share: the first Database starts it, and the
// Run of Wrap stops it once the tests are done. TestMain holds it.
type Shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Database starts the shared server if it is not running yet, creates a database for the test
// (dropped when the test ends), and returns its connection URL. Without PostgreSQL it fails the
// test saying what to install, or skips it under PUSHLAB_NO_POSTGRES=1.
func (s *Shared) Database(t testing.TB) string {
	t.Helper()
	if Skipped() {
		t.Skip(SkipEnv + "=1: this test needs PostgreSQL")
	}
	s.once.Do(func() { s.srv, s.err = Start() })
	if s.err != nil {
		t.Fatal(s.err)
	}
	dsn, err := s.srv.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.srv.DropDatabase(context.Background(), dsn); err != nil {
			t.Errorf("drop the test's database: %v", err)
		}
	})
	return dsn
}

// Wrap returns m with a Run that stops the shared server after the tests: TestMain calls
// os.Exit(shared.Wrap(m).Run()), or hands the wrapped m to goleak.VerifyTestMain.
func (s *Shared) Wrap(m interface{ Run() int }) interface{ Run() int } { return runner{m, s} }

type runner struct {
	m interface{ Run() int }
	s *Shared
}

func (r runner) Run() int {
	code := r.m.Run()
	if r.s.srv != nil {
		if err := r.s.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Empty deletes the rows of every table of conn's database except those in keep, and restarts
// its sequences: a store's schema stays, its data goes, as a fresh database's would be
// after its migrations (a property test's checks reuse one database so). DELETE rather than
// TRUNCATE: on the small tables of a test it is several times faster.
func Empty(ctx context.Context, conn *pgx.Conn, keep ...string) error {
	rows, err := conn.Query(ctx, `SELECT format('DELETE FROM %I', tablename) FROM pg_tables
			WHERE schemaname = current_schema() AND NOT tablename = ANY($1)
		UNION ALL SELECT format('ALTER SEQUENCE %I RESTART', sequencename) FROM pg_sequences
			WHERE schemaname = current_schema()`, keep)
	if err != nil {
		return fmt.Errorf("empty the database: list tables: %w", err)
	}
	stmts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("empty the database: list tables: %w", err)
	}
	if len(stmts) == 0 {
		return nil
	}
	// One round trip: statements without parameters go as one simple query, in one transaction.
	if _, err := conn.PgConn().Exec(ctx, strings.Join(stmts, "; ")).ReadAll(); err != nil {
		return fmt.Errorf("empty the database: %w", err)
	}
	return nil
}
