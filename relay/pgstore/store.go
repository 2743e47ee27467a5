// Package pgstore is a relay.Store in PostgreSQL, through pgx: the store of a relay whose state
// lives on a database server rather than in a file, and the first step towards the cluster mode
// (DESIGN.md §11). It holds the same tables as sqlitestore, with the same meanings, and behaves
// as relay.MemoryStore does: after the same records Load returns the same State, in the same
// order. A conformance property test holds the three stores to that. Times come back in UTC.
//
// Each Apply is one transaction, sent as one pipelined batch: the records are durable once Apply
// returns (as durable as the server's commits are).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pushlab/pushlab/relay"
)

// ErrSchemaTooNew is returned by Open for a database written by a newer relay, whose schema this
// code does not know.
var ErrSchemaTooNew = errors.New("database schema is newer than this relay")

// Store is a relay.Store in a PostgreSQL database. Its methods may be called from several
// goroutines: each takes a connection of the pool.
type Store struct {
	pool *pgxpool.Pool
	name string // the DSN with its password redacted, for errors
}

var _ relay.Store = (*Store)(nil)

// Open connects to the database dsn names (a postgres:// URL or key=value pairs, as libpq takes
// them; PG* environment variables fill in what it leaves out) and brings its schema up to date.
// It fails with ErrSchemaTooNew for a database a newer relay wrote. Errors never show the DSN's
// password.
func Open(ctx context.Context, dsn string) (*Store, error) {
	name := Redact(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the DSN: say only what is wrong with it.
		return nil, fmt.Errorf("open postgres store %s: the connection string does not parse (%s)", name, redactIn(err.Error(), dsn))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %s", name, redactIn(err.Error(), dsn))
	}
	s := &Store{pool: pool, name: name}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: connect: %w", name, redactErr(err, dsn))
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: migrate schema: %w", name, redactErr(err, dsn))
	}
	return s, nil
}

// Close closes the store's connections. Apply and Load fail after it.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// String names the store's database, without the password.
func (s *Store) String() string { return s.name }

// keywordPassword is a password in a key=value connection string: quoted (with \' and \\
// escapes) or bare.
var keywordPassword = regexp.MustCompile(`(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// Redact returns dsn with its password, if any, replaced by xxxxx: what logs and errors show.
func Redact(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			// Unparsable: keep the scheme, drop everything else rather than risk the password.
			return dsn[:strings.Index(dsn, "://")+3] + "(unparsable URL)"
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return keywordPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// password is the password written in dsn, or "" if it names none.
func password(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if p, ok := u.User.Password(); ok {
			return p
		}
		return u.Query().Get("password")
	}
	if m := keywordPassword.FindStringSubmatch(dsn); m != nil {
		return strings.Trim(m[2], "'")
	}
	return ""
}

// redactIn removes the DSN and its password from a message of pgx's.
func redactIn(msg, dsn string) string {
	msg = strings.ReplaceAll(msg, dsn, Redact(dsn))
	if p := password(dsn); len(p) >= 1 {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
		if e := url.QueryEscape(p); e != p {
			msg = strings.ReplaceAll(msg, e, "xxxxx")
		}
	}
	return msg
}

// redactErr is err, unless its message holds the DSN's password: then the message redacted.
func redactErr(err error, dsn string) error {
	if msg := redactIn(err.Error(), dsn); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}
