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
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrSchemaTooNew is returned by Open for a database written by a newer relay, whose schema this
// code does not know.
var ErrSchemaTooNew = errors.New("database schema is newer than this relay")

// busyTimeout is how long a statement waits for a lock another process holds (an operator's
// sqlite3 shell, a backup) before it fails.
const busyTimeout = 5 * time.Second

// Store is a relay.Store in a SQLite database file. Apply and Load may be called from several
// goroutines: they take turns on the store's one connection.
type Store struct {
	db    *sql.DB
	path  string
	stmts statements
}

var _ relay.Store = (*Store)(nil)

// statements are the store's prepared statements, prepared once at Open.
type statements struct {
	putApp, putCert, deleteCert, putSession, deleteSession, putBinding, deleteBinding *sql.Stmt
	addInbox, putMessage, trimLow, trimHigh, putGroup                                 *sql.Stmt
	addOptUser, putOpt, deleteOpt, putPush, deletePush, putCounter                    *sql.Stmt
	deleteApp                                                                         []*sql.Stmt
}

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
		fmt.Sprintf("?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(8192)",
			busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	// One connection: SQLite writes one transaction at a time anyway, and with one connection
	// Load never sees a half-applied batch nor waits on a lock of its own process.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db, path: path}
	if err := s.init(context.Background()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
	}
	return s, nil
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

func (s *Store) prepare(ctx context.Context) error {
	st := &s.stmts
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&st.putApp, `INSERT OR REPLACE INTO apps (sdk_app_id, name, secret_key, login_policy,
			caps_per_minute, caps_per_hour, caps_burst, caps_refill_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.putCert, `INSERT OR REPLACE INTO certificates (id, sdk_app_id, platform, package_name, sender_id,
			service_account, server_key, endpoint, misconfigured, reason, since_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.deleteCert, `DELETE FROM certificates WHERE id = ?`},
		{&st.putSession, `INSERT OR REPLACE INTO sessions (sdk_app_id, user_id, device_id, platform, login_at_ns,
			unread, held, caps, logged_out) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.deleteSession, `DELETE FROM sessions WHERE sdk_app_id = ? AND user_id = ? AND device_id = ?`},
		{&st.putBinding, `INSERT OR REPLACE INTO bindings (sdk_app_id, user_id, device_id, certificate_id, token)
			VALUES (?, ?, ?, ?, ?)`},
		{&st.deleteBinding, `DELETE FROM bindings WHERE sdk_app_id = ? AND user_id = ? AND device_id = ?`},
		{&st.addInbox, `INSERT OR IGNORE INTO inboxes (sdk_app_id, user_id) VALUES (?, ?)`},
		// A plain INSERT: a second message with the same seq is an error, not a replacement.
		{&st.putMessage, `INSERT INTO messages (sdk_app_id, user_id, seq, id, from_user, from_device, conv,
			group_id, text, time_ns, push_title, push_desc, push_ext, push_disable)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		// Seqs are uint64 bit-cast to int64: those at or below a Through under 2^63 are the
		// non-negative ones up to it; at or above 2^63, all the non-negative ones and the
		// negative ones up to it.
		{&st.trimLow, `DELETE FROM messages WHERE sdk_app_id = ? AND user_id = ? AND seq BETWEEN 0 AND ?`},
		{&st.trimHigh, `DELETE FROM messages WHERE sdk_app_id = ? AND user_id = ? AND (seq >= 0 OR seq <= ?)`},
		{&st.putGroup, `INSERT OR REPLACE INTO chat_groups (sdk_app_id, id, members) VALUES (?, ?, ?)`},
		{&st.addOptUser, `INSERT OR IGNORE INTO receive_opt_users (sdk_app_id, user_id) VALUES (?, ?)`},
		{&st.putOpt, `INSERT OR REPLACE INTO receive_opts (sdk_app_id, user_id, conv, opt) VALUES (?, ?, ?, ?)`},
		{&st.deleteOpt, `DELETE FROM receive_opts WHERE sdk_app_id = ? AND user_id = ? AND conv = ?`},
		{&st.putPush, `INSERT OR REPLACE INTO pushes (id, sdk_app_id, user_id, device_id, certificate_id, token,
			title, body, data, collapse_key, ttl_ns, notification_count, seqs, attempt, not_before_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.deletePush, `DELETE FROM pushes WHERE id = ?`},
		{&st.putCounter, `INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)`},
	} {
		stmt, err := s.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.stmt = stmt
	}
	// DeleteApp removes the app and everything of it, as MemoryStore does: certificates by
	// their app, pushes by their device's app, everything else by its key's app.
	for _, table := range []string{"apps", "certificates", "sessions", "bindings", "inboxes", "messages",
		"chat_groups", "receive_opt_users", "receive_opts", "pushes"} {
		query := "DELETE FROM " + table + " WHERE sdk_app_id = ?"
		stmt, err := s.db.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", query, err)
		}
		st.deleteApp = append(st.deleteApp, stmt)
	}
	return nil
}

// Close closes the database. Apply and Load fail after it.
func (s *Store) Close() error {
	// Closing the *sql.DB closes the prepared statements with it.
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close sqlite store %s: %w", s.path, err)
	}
	return nil
}

// Apply persists records in one transaction, in order: all of them or, on an error, none.
func (s *Store) Apply(ctx context.Context, records []relay.Record) (err error) {
	if len(records) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("apply %d records: begin: %w", len(records), err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	a := applier{ctx: ctx, tx: tx, stmts: map[*sql.Stmt]*sql.Stmt{}}
	for i, r := range compact(records) {
		if err := a.apply(&s.stmts, r); err != nil {
			return fmt.Errorf("apply %s (record %d of %d): %w", describe(r), i+1, len(records), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("apply %d records: commit: %w", len(records), err)
	}
	return nil
}

// applier runs statements in one Apply's transaction.
type applier struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts map[*sql.Stmt]*sql.Stmt // the transaction's copy of each prepared statement
}

func (a applier) exec(stmt *sql.Stmt, args ...any) error {
	ts, ok := a.stmts[stmt]
	if !ok {
		ts = a.tx.StmtContext(a.ctx, stmt)
		a.stmts[stmt] = ts
	}
	_, err := ts.ExecContext(a.ctx, args...)
	return err
}

// compact drops the records of a batch that a later record of the same batch overwrites: of
// the puts and deletes of one session, binding, push or counter only the last counts, so only
// the last is written. (Busy relays write a device's session several times a batch: unread
// counts, caps.) Records of other kinds, and batches that delete an app, are kept whole.
func compact(records []relay.Record) []relay.Record {
	type key struct {
		kind string
		dev  relay.DeviceKey
		id   uint64
		name string
	}
	keyOf := func(r relay.Record) (key, bool) {
		switch r := r.(type) {
		case relay.PutSession:
			return key{kind: "session", dev: r.Session.Key}, true
		case relay.DeleteSession:
			return key{kind: "session", dev: r.Key}, true
		case relay.PutBinding:
			return key{kind: "binding", dev: r.Binding.Key}, true
		case relay.DeleteBinding:
			return key{kind: "binding", dev: r.Key}, true
		case relay.PutPush:
			return key{kind: "push", id: r.Push.Push.ID}, true
		case relay.DeletePush:
			return key{kind: "push", id: r.ID}, true
		case relay.PutCounter:
			return key{kind: "counter", name: r.Name}, true
		case relay.DeleteApp:
			return key{kind: "app"}, true
		}
		return key{}, false
	}
	seen := map[key]bool{}
	keep := make([]bool, len(records))
	dropped := 0
	for i := len(records) - 1; i >= 0; i-- {
		k, ok := keyOf(records[i])
		if ok && k.kind == "app" {
			return records
		}
		keep[i] = !ok || !seen[k]
		if ok {
			seen[k] = true
		}
		if !keep[i] {
			dropped++
		}
	}
	if dropped == 0 {
		return records
	}
	out := make([]relay.Record, 0, len(records)-dropped)
	for i, r := range records {
		if keep[i] {
			out = append(out, r)
		}
	}
	return out
}

func (a applier) apply(st *statements, r relay.Record) error {
	switch r := r.(type) {
	case relay.PutApp:
		app := r.App
		return a.exec(st.putApp, u64(app.SDKAppID), app.Name, app.SecretKey.Reveal(), string(app.LoginPolicy),
			app.Caps.PerMinute, app.Caps.PerHour, app.Caps.Burst, int64(app.Caps.Refill))
	case relay.DeleteApp:
		for _, stmt := range st.deleteApp {
			if err := a.exec(stmt, u64(r.SDKAppID)); err != nil {
				return err
			}
		}
		return nil
	case relay.PutCertificate:
		c := r.Cert
		since, err := timeToDB(c.Status.Since)
		if err != nil {
			return fmt.Errorf("status since: %w", err)
		}
		return a.exec(st.putCert, c.ID, u64(c.SDKAppID), c.Platform, c.PackageName, c.SenderID,
			c.ServiceAccount.Reveal(), c.ServerKey.Reveal(), c.Endpoint, c.Status.Misconfigured, c.Status.Reason, since)
	case relay.DeleteCertificate:
		return a.exec(st.deleteCert, r.ID)
	case relay.PutSession:
		ss := r.Session
		loginAt, err := timeToDB(ss.LoginAt)
		if err != nil {
			return fmt.Errorf("login time: %w", err)
		}
		held, err := json.Marshal(ss.Held)
		if err != nil {
			return fmt.Errorf("held: %w", err)
		}
		var caps sql.NullString
		if ss.Caps != nil {
			b, err := json.Marshal(ss.Caps)
			if err != nil {
				return fmt.Errorf("caps: %w", err)
			}
			caps = sql.NullString{String: string(b), Valid: true}
		}
		return a.exec(st.putSession, u64(ss.Key.SDKAppID), ss.Key.UserID, ss.Key.DeviceID, ss.Platform, loginAt,
			ss.Unread, string(held), caps, ss.LoggedOut)
	case relay.DeleteSession:
		return a.exec(st.deleteSession, u64(r.Key.SDKAppID), r.Key.UserID, r.Key.DeviceID)
	case relay.PutBinding:
		b := r.Binding
		return a.exec(st.putBinding, u64(b.Key.SDKAppID), b.Key.UserID, b.Key.DeviceID, b.CertificateID, b.Token)
	case relay.DeleteBinding:
		return a.exec(st.deleteBinding, u64(r.Key.SDKAppID), r.Key.UserID, r.Key.DeviceID)
	case relay.PutMessage:
		m := r.Msg
		at, err := timeToDB(m.Time)
		if err != nil {
			return fmt.Errorf("message time: %w", err)
		}
		if err := a.exec(st.addInbox, u64(r.User.SDKAppID), r.User.UserID); err != nil {
			return err
		}
		return a.exec(st.putMessage, u64(r.User.SDKAppID), r.User.UserID, u64(m.Seq), m.ID, m.From, m.FromDevice,
			m.Conv, m.Group, m.Text, at, m.Push.Title, m.Push.Desc, m.Push.Ext, m.Push.Disable)
	case relay.TrimInbox:
		if err := a.exec(st.addInbox, u64(r.User.SDKAppID), r.User.UserID); err != nil {
			return err
		}
		trim := st.trimLow
		if r.Through > math.MaxInt64 {
			trim = st.trimHigh
		}
		return a.exec(trim, u64(r.User.SDKAppID), r.User.UserID, u64(r.Through))
	case relay.PutGroup:
		g := r.Group
		members, err := marshalStrings(g.Members)
		if err != nil {
			return fmt.Errorf("members: %w", err)
		}
		return a.exec(st.putGroup, u64(g.SDKAppID), g.ID, members)
	case relay.PutReceiveOpt:
		if err := a.exec(st.addOptUser, u64(r.User.SDKAppID), r.User.UserID); err != nil {
			return err
		}
		if r.Opt == relay.ReceiveAll {
			return a.exec(st.deleteOpt, u64(r.User.SDKAppID), r.User.UserID, r.Conv)
		}
		return a.exec(st.putOpt, u64(r.User.SDKAppID), r.User.UserID, r.Conv, r.Opt)
	case relay.PutPush:
		p := r.Push.Push
		notBefore, err := timeToDB(r.Push.NotBefore)
		if err != nil {
			return fmt.Errorf("not-before time: %w", err)
		}
		data, err := marshalData(p.Data)
		if err != nil {
			return fmt.Errorf("data: %w", err)
		}
		seqs, err := json.Marshal(p.Seqs)
		if err != nil {
			return fmt.Errorf("seqs: %w", err)
		}
		return a.exec(st.putPush, u64(p.ID), u64(p.Device.SDKAppID), p.Device.UserID, p.Device.DeviceID,
			p.CertificateID, p.Token, p.Title, p.Body, data, p.CollapseKey, int64(p.TTL), p.NotificationCount,
			string(seqs), p.Attempt, notBefore)
	case relay.DeletePush:
		return a.exec(st.deletePush, u64(r.ID))
	case relay.PutCounter:
		return a.exec(st.putCounter, r.Name, u64(r.Value))
	default:
		return fmt.Errorf("unknown record type %T: the sqlite store does not know how to persist it", r)
	}
}

// describe names a record and its key, for errors.
func describe(r relay.Record) string {
	dev := func(k relay.DeviceKey) string { return fmt.Sprintf("%d/%s/%s", k.SDKAppID, k.UserID, k.DeviceID) }
	switch r := r.(type) {
	case relay.PutApp:
		return fmt.Sprintf("PutApp %d", r.App.SDKAppID)
	case relay.DeleteApp:
		return fmt.Sprintf("DeleteApp %d", r.SDKAppID)
	case relay.PutCertificate:
		return fmt.Sprintf("PutCertificate %d", r.Cert.ID)
	case relay.DeleteCertificate:
		return fmt.Sprintf("DeleteCertificate %d", r.ID)
	case relay.PutSession:
		return "PutSession " + dev(r.Session.Key)
	case relay.DeleteSession:
		return "DeleteSession " + dev(r.Key)
	case relay.PutBinding:
		return "PutBinding " + dev(r.Binding.Key)
	case relay.DeleteBinding:
		return "DeleteBinding " + dev(r.Key)
	case relay.PutMessage:
		return fmt.Sprintf("PutMessage %d/%s/%d", r.User.SDKAppID, r.User.UserID, r.Msg.Seq)
	case relay.TrimInbox:
		return fmt.Sprintf("TrimInbox %d/%s through %d", r.User.SDKAppID, r.User.UserID, r.Through)
	case relay.PutGroup:
		return fmt.Sprintf("PutGroup %d/%s", r.Group.SDKAppID, r.Group.ID)
	case relay.PutReceiveOpt:
		return fmt.Sprintf("PutReceiveOpt %d/%s %s=%s", r.User.SDKAppID, r.User.UserID, r.Conv, r.Opt)
	case relay.PutPush:
		return fmt.Sprintf("PutPush %d", r.Push.Push.ID)
	case relay.DeletePush:
		return fmt.Sprintf("DeletePush %d", r.ID)
	case relay.PutCounter:
		return fmt.Sprintf("PutCounter %s", r.Name)
	default:
		return fmt.Sprintf("%T", r)
	}
}

// Load returns the state the records so far describe, read in one transaction, ordered as
// relay.MemoryStore orders it.
func (s *Store) Load(ctx context.Context) (st *relay.State, err error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("load: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read only: nothing to commit
	st = &relay.State{
		Messages:    map[relay.UserKey][]relay.StoredMsg{},
		ReceiveOpts: map[relay.UserKey]map[string]string{},
		Counters:    map[string]uint64{},
	}
	l := loader{ctx: ctx, tx: tx}
	for _, step := range []struct {
		what string
		load func(*relay.State) error
	}{
		{"apps", l.apps}, {"certificates", l.certificates}, {"sessions", l.sessions}, {"bindings", l.bindings},
		{"messages", l.messages}, {"groups", l.groups}, {"receive options", l.receiveOpts}, {"pushes", l.pushes},
		{"counters", l.counters},
	} {
		if err := step.load(st); err != nil {
			return nil, fmt.Errorf("load %s: %w", step.what, err)
		}
	}
	return st, nil
}

// loader reads tables in one Load's transaction.
type loader struct {
	ctx context.Context
	tx  *sql.Tx
}

// each runs query and calls scan for each row.
func (l loader) each(query string, scan func(*sql.Rows) error) error {
	rows, err := l.tx.QueryContext(l.ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (l loader) apps(st *relay.State) error {
	err := l.each(`SELECT sdk_app_id, name, secret_key, login_policy, caps_per_minute, caps_per_hour,
		caps_burst, caps_refill_ns FROM apps`, func(rows *sql.Rows) error {
		var a relay.AppConfig
		var id, refill int64
		var key, policy string
		if err := rows.Scan(&id, &a.Name, &key, &policy, &a.Caps.PerMinute, &a.Caps.PerHour, &a.Caps.Burst, &refill); err != nil {
			return err
		}
		a.SDKAppID, a.SecretKey, a.LoginPolicy, a.Caps.Refill = uint64(id), secret.New(key), relay.LoginPolicy(policy), duration.Duration(refill)
		st.Apps = append(st.Apps, a)
		return nil
	})
	slices.SortFunc(st.Apps, func(a, b relay.AppConfig) int { return cmp.Compare(a.SDKAppID, b.SDKAppID) })
	return err
}

func (l loader) certificates(st *relay.State) error {
	err := l.each(`SELECT id, sdk_app_id, platform, package_name, sender_id, service_account, server_key,
		endpoint, misconfigured, reason, since_ns FROM certificates`, func(rows *sql.Rows) error {
		var c relay.Certificate
		var app int64
		var account, key string
		var since sql.NullInt64
		if err := rows.Scan(&c.ID, &app, &c.Platform, &c.PackageName, &c.SenderID, &account, &key, &c.Endpoint,
			&c.Status.Misconfigured, &c.Status.Reason, &since); err != nil {
			return err
		}
		c.SDKAppID, c.ServiceAccount, c.ServerKey, c.Status.Since = uint64(app), secret.New(account), secret.New(key), timeFromDB(since)
		st.Certificates = append(st.Certificates, c)
		return nil
	})
	slices.SortFunc(st.Certificates, func(a, b relay.Certificate) int { return cmp.Compare(a.ID, b.ID) })
	return err
}

func (l loader) sessions(st *relay.State) error {
	err := l.each(`SELECT sdk_app_id, user_id, device_id, platform, login_at_ns, unread, held, caps, logged_out FROM sessions`,
		func(rows *sql.Rows) error {
			var ss relay.SessionState
			var app int64
			var loginAt sql.NullInt64
			var held string
			var caps sql.NullString
			if err := rows.Scan(&app, &ss.Key.UserID, &ss.Key.DeviceID, &ss.Platform, &loginAt, &ss.Unread, &held, &caps, &ss.LoggedOut); err != nil {
				return err
			}
			ss.Key.SDKAppID, ss.LoginAt = uint64(app), timeFromDB(loginAt)
			if err := json.Unmarshal([]byte(held), &ss.Held); err != nil {
				return fmt.Errorf("session %v: held: %w", ss.Key, err)
			}
			if caps.Valid {
				ss.Caps = &relay.CapsState{}
				if err := json.Unmarshal([]byte(caps.String), ss.Caps); err != nil {
					return fmt.Errorf("session %v: caps: %w", ss.Key, err)
				}
			}
			st.Sessions = append(st.Sessions, ss)
			return nil
		})
	slices.SortFunc(st.Sessions, func(a, b relay.SessionState) int { return compareDeviceKeys(a.Key, b.Key) })
	return err
}

func (l loader) bindings(st *relay.State) error {
	err := l.each(`SELECT sdk_app_id, user_id, device_id, certificate_id, token FROM bindings`, func(rows *sql.Rows) error {
		var b relay.Binding
		var app int64
		if err := rows.Scan(&app, &b.Key.UserID, &b.Key.DeviceID, &b.CertificateID, &b.Token); err != nil {
			return err
		}
		b.Key.SDKAppID = uint64(app)
		st.Bindings = append(st.Bindings, b)
		return nil
	})
	slices.SortFunc(st.Bindings, func(a, b relay.Binding) int { return compareDeviceKeys(a.Key, b.Key) })
	return err
}

func (l loader) messages(st *relay.State) error {
	err := l.each(`SELECT sdk_app_id, user_id FROM inboxes`, func(rows *sql.Rows) error {
		var k relay.UserKey
		var app int64
		if err := rows.Scan(&app, &k.UserID); err != nil {
			return err
		}
		k.SDKAppID = uint64(app)
		st.Messages[k] = nil
		return nil
	})
	if err != nil {
		return err
	}
	err = l.each(`SELECT sdk_app_id, user_id, seq, id, from_user, from_device, conv, group_id, text, time_ns,
		push_title, push_desc, push_ext, push_disable FROM messages`, func(rows *sql.Rows) error {
		var k relay.UserKey
		var m relay.StoredMsg
		var app, seq int64
		var at sql.NullInt64
		if err := rows.Scan(&app, &k.UserID, &seq, &m.ID, &m.From, &m.FromDevice, &m.Conv, &m.Group, &m.Text, &at,
			&m.Push.Title, &m.Push.Desc, &m.Push.Ext, &m.Push.Disable); err != nil {
			return err
		}
		k.SDKAppID, m.Seq, m.Time = uint64(app), uint64(seq), timeFromDB(at)
		st.Messages[k] = append(st.Messages[k], m)
		return nil
	})
	for _, msgs := range st.Messages {
		slices.SortFunc(msgs, func(a, b relay.StoredMsg) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	return err
}

func (l loader) groups(st *relay.State) error {
	err := l.each(`SELECT sdk_app_id, id, members FROM chat_groups`, func(rows *sql.Rows) error {
		var g relay.Group
		var app int64
		var members string
		if err := rows.Scan(&app, &g.ID, &members); err != nil {
			return err
		}
		g.SDKAppID = uint64(app)
		if err := json.Unmarshal([]byte(members), &g.Members); err != nil {
			return fmt.Errorf("group %d/%s: members: %w", g.SDKAppID, g.ID, err)
		}
		st.Groups = append(st.Groups, g)
		return nil
	})
	slices.SortFunc(st.Groups, func(a, b relay.Group) int {
		return cmp.Or(cmp.Compare(a.SDKAppID, b.SDKAppID), cmp.Compare(a.ID, b.ID))
	})
	return err
}

func (l loader) receiveOpts(st *relay.State) error {
	err := l.each(`SELECT sdk_app_id, user_id FROM receive_opt_users`, func(rows *sql.Rows) error {
		var k relay.UserKey
		var app int64
		if err := rows.Scan(&app, &k.UserID); err != nil {
			return err
		}
		k.SDKAppID = uint64(app)
		st.ReceiveOpts[k] = map[string]string{}
		return nil
	})
	if err != nil {
		return err
	}
	return l.each(`SELECT sdk_app_id, user_id, conv, opt FROM receive_opts`, func(rows *sql.Rows) error {
		var k relay.UserKey
		var app int64
		var conv, opt string
		if err := rows.Scan(&app, &k.UserID, &conv, &opt); err != nil {
			return err
		}
		k.SDKAppID = uint64(app)
		if st.ReceiveOpts[k] == nil {
			st.ReceiveOpts[k] = map[string]string{}
		}
		st.ReceiveOpts[k][conv] = opt
		return nil
	})
}

func (l loader) pushes(st *relay.State) error {
	err := l.each(`SELECT id, sdk_app_id, user_id, device_id, certificate_id, token, title, body, data,
		collapse_key, ttl_ns, notification_count, seqs, attempt, not_before_ns FROM pushes`, func(rows *sql.Rows) error {
		var ps relay.PushState
		p := &ps.Push
		var id, app, ttl int64
		var data, seqs string
		var notBefore sql.NullInt64
		if err := rows.Scan(&id, &app, &p.Device.UserID, &p.Device.DeviceID, &p.CertificateID, &p.Token, &p.Title,
			&p.Body, &data, &p.CollapseKey, &ttl, &p.NotificationCount, &seqs, &p.Attempt, &notBefore); err != nil {
			return err
		}
		p.ID, p.Device.SDKAppID, p.TTL, ps.NotBefore = uint64(id), uint64(app), duration.Duration(ttl), timeFromDB(notBefore)
		if err := json.Unmarshal([]byte(data), &p.Data); err != nil {
			return fmt.Errorf("push %d: data: %w", p.ID, err)
		}
		if err := json.Unmarshal([]byte(seqs), &p.Seqs); err != nil {
			return fmt.Errorf("push %d: seqs: %w", p.ID, err)
		}
		st.Pushes = append(st.Pushes, ps)
		return nil
	})
	slices.SortFunc(st.Pushes, func(a, b relay.PushState) int { return cmp.Compare(a.Push.ID, b.Push.ID) })
	return err
}

func (l loader) counters(st *relay.State) error {
	return l.each(`SELECT name, value FROM counters`, func(rows *sql.Rows) error {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			return err
		}
		st.Counters[name] = uint64(v)
		return nil
	})
}

func compareDeviceKeys(a, b relay.DeviceKey) int {
	return cmp.Or(cmp.Compare(a.SDKAppID, b.SDKAppID), cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.DeviceID, b.DeviceID))
}

// u64 bit-casts a uint64 to the int64 an INTEGER column holds (database/sql refuses uint64 values
// of 2^63 and above); reading it back as int64 and converting restores it.
func u64(v uint64) int64 { return int64(v) }

// The times a UnixNano integer can hold.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// timeToDB converts a time to its column value: UnixNano, or NULL for the zero time.
func timeToDB(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, fmt.Errorf("time %v is out of the range the store keeps (%v to %v)", t, minTime.UTC(), maxTime.UTC())
	}
	return t.UnixNano(), nil
}

// timeFromDB converts a column value back to a time, in UTC.
func timeFromDB(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64).UTC()
}

// marshalStrings encodes a list of strings as JSON, refusing strings JSON would alter (invalid
// UTF-8 comes back replaced by U+FFFD).
func marshalStrings(ss []string) (string, error) {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return "", fmt.Errorf("%q is not valid UTF-8", s)
		}
	}
	b, err := json.Marshal(ss)
	return string(b), err
}

// marshalData encodes a push's data as JSON, refusing strings JSON would alter.
func marshalData(m map[string]string) (string, error) {
	for k, v := range m {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return "", fmt.Errorf("%q: %q is not valid UTF-8", k, v)
		}
	}
	b, err := json.Marshal(m)
	return string(b), err
}
