package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pushlab/pushlab/relay/internal/storecol"
)

// migration is one step of the schema's history. Steps are applied in order, each once, and are
// never edited after release: a change to the schema is a new step at the end of migrations.
type migration struct {
	name  string
	stmts []string
}

// migrations is the schema's history; a database's schema_version is how many of them it has had.
//
// Conventions: uint64 values (app IDs, seqs, push IDs, counter values) are stored in INTEGER
// columns bit-cast to int64, so the store never orders by them in SQL; times are UnixNano integers
// (UTC), NULL for the zero time; secrets are plain TEXT columns (written with Reveal: the database
// file is as sensitive as the relay's configuration). There are no foreign keys: the relay
// core's records do not promise referential integrity (MemoryStore keeps a session of an unknown
// app, say), and DeleteApp cascades by explicit DELETEs instead.
var migrations = []migration{
	{name: "initial schema", stmts: []string{
		`CREATE TABLE apps (
			sdk_app_id      INTEGER PRIMARY KEY,
			name            TEXT    NOT NULL,
			secret_key      TEXT    NOT NULL,
			login_policy    TEXT    NOT NULL,
			caps_per_minute INTEGER NOT NULL,
			caps_per_hour   INTEGER NOT NULL,
			caps_burst      INTEGER NOT NULL,
			caps_refill_ns  INTEGER NOT NULL
		) STRICT`,
		`CREATE TABLE certificates (
			id              INTEGER PRIMARY KEY,
			sdk_app_id      INTEGER NOT NULL,
			platform        TEXT    NOT NULL,
			package_name    TEXT    NOT NULL,
			sender_id       TEXT    NOT NULL,
			service_account TEXT    NOT NULL,
			server_key      TEXT    NOT NULL,
			endpoint        TEXT    NOT NULL,
			misconfigured   INTEGER NOT NULL,
			reason          TEXT    NOT NULL,
			since_ns        INTEGER
		) STRICT`,
		`CREATE INDEX certificates_by_app ON certificates (sdk_app_id)`,
		`CREATE TABLE sessions (
			sdk_app_id  INTEGER NOT NULL,
			user_id     TEXT    NOT NULL,
			device_id   TEXT    NOT NULL,
			platform    TEXT    NOT NULL,
			login_at_ns INTEGER,
			unread      INTEGER NOT NULL,
			held        TEXT    NOT NULL, -- JSON array of seqs, or null
			PRIMARY KEY (sdk_app_id, user_id, device_id)
		) STRICT`,
		`CREATE TABLE bindings (
			sdk_app_id     INTEGER NOT NULL,
			user_id        TEXT    NOT NULL,
			device_id      TEXT    NOT NULL,
			certificate_id INTEGER NOT NULL,
			token          TEXT    NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id, device_id)
		) STRICT`,
		// inboxes lists the users that have an inbox, even an empty one (a TrimInbox makes one):
		// State.Messages has a key for each of them, as MemoryStore's has. Since "leaner push
		// writes" a message no longer adds its user's row (the user's messages give it its key),
		// so the rows are those of trimmed inboxes, and those written before that migration.
		`CREATE TABLE inboxes (
			sdk_app_id INTEGER NOT NULL,
			user_id    TEXT    NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id)
		) STRICT`,
		`CREATE TABLE messages (
			sdk_app_id   INTEGER NOT NULL,
			user_id      TEXT    NOT NULL,
			seq          INTEGER NOT NULL,
			id           TEXT    NOT NULL,
			from_user    TEXT    NOT NULL,
			from_device  TEXT    NOT NULL,
			conv         TEXT    NOT NULL,
			group_id     TEXT    NOT NULL,
			text         TEXT    NOT NULL,
			time_ns      INTEGER,
			push_title   TEXT    NOT NULL,
			push_desc    TEXT    NOT NULL,
			push_ext     TEXT    NOT NULL,
			push_disable INTEGER NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id, seq)
		) STRICT`,
		`CREATE TABLE chat_groups (
			sdk_app_id INTEGER NOT NULL,
			id         TEXT    NOT NULL,
			members    TEXT    NOT NULL, -- JSON array of user IDs, or null
			PRIMARY KEY (sdk_app_id, id)
		) STRICT`,
		// receive_opt_users lists the users that have a receive-option map, even an empty one
		// (setting "receive" makes one): State.ReceiveOpts has a key for each of them.
		`CREATE TABLE receive_opt_users (
			sdk_app_id INTEGER NOT NULL,
			user_id    TEXT    NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id)
		) STRICT`,
		`CREATE TABLE receive_opts (
			sdk_app_id INTEGER NOT NULL,
			user_id    TEXT    NOT NULL,
			conv       TEXT    NOT NULL,
			opt        TEXT    NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id, conv)
		) STRICT`,
		`CREATE TABLE pushes (
			id                 INTEGER PRIMARY KEY,
			sdk_app_id         INTEGER NOT NULL,
			user_id            TEXT    NOT NULL,
			device_id          TEXT    NOT NULL,
			certificate_id     INTEGER NOT NULL,
			token              TEXT    NOT NULL,
			title              TEXT    NOT NULL,
			body               TEXT    NOT NULL,
			data               TEXT    NOT NULL, -- JSON object, or null
			collapse_key       TEXT    NOT NULL,
			ttl_ns             INTEGER NOT NULL,
			notification_count INTEGER NOT NULL,
			seqs               TEXT    NOT NULL, -- JSON array, or null
			attempt            INTEGER NOT NULL,
			not_before_ns      INTEGER
		) STRICT`,
		`CREATE INDEX pushes_by_app ON pushes (sdk_app_id)`,
		`CREATE TABLE counters (
			name  TEXT    PRIMARY KEY,
			value INTEGER NOT NULL
		) STRICT`,
	}},
	{name: "sessions keep their frequency caps", stmts: []string{
		`ALTER TABLE sessions ADD COLUMN caps TEXT`, // JSON relay.CapsState, or NULL before the first push
	}},
	{name: "logged-out devices keep their caps", stmts: []string{
		`ALTER TABLE sessions ADD COLUMN logged_out INTEGER NOT NULL DEFAULT 0`, // 1: the row holds only caps
	}},
	{name: "certificates keep their check", stmts: []string{
		`ALTER TABLE certificates ADD COLUMN check_status TEXT NOT NULL DEFAULT ''`, // '' (stored before checks: unchecked), unchecked, ok, failed
		`ALTER TABLE certificates ADD COLUMN check_error TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE certificates ADD COLUMN checked_at_ns INTEGER`,
	}},
	// The push trace: seq numbers the entries as they were stored (AUTOINCREMENT: never reused,
	// so a paging cursor stays valid while older entries are pruned); answers are ordered by
	// (time_ns, seq). Every index ends with seq implicitly (it is the rowid), so each serves its
	// keys in that order: by app, by user, by certificate, by message; time_ns alone was for
	// pruning by age, which never read it ("leaner push writes" drops it: pruning walks seq order).
	{name: "durable push trace", stmts: []string{
		`CREATE TABLE trace (
			seq            INTEGER PRIMARY KEY AUTOINCREMENT,
			time_ns        INTEGER NOT NULL,
			sdk_app_id     INTEGER NOT NULL,
			user_id        TEXT    NOT NULL,
			device_id      TEXT    NOT NULL,
			certificate_id INTEGER NOT NULL,
			msg_seq        INTEGER NOT NULL,
			msg_seqs       TEXT    NOT NULL, -- JSON array, or '' for none
			msg_id         TEXT    NOT NULL,
			reason         TEXT    NOT NULL,
			push_id        INTEGER NOT NULL,
			attempt        INTEGER NOT NULL,
			fcm_name       TEXT    NOT NULL,
			detail         TEXT    NOT NULL
		) STRICT`,
		`CREATE INDEX trace_by_time ON trace (time_ns)`,
		`CREATE INDEX trace_by_app ON trace (sdk_app_id, time_ns)`,
		`CREATE INDEX trace_by_user ON trace (sdk_app_id, user_id, time_ns)`,
		`CREATE INDEX trace_by_certificate ON trace (sdk_app_id, certificate_id, time_ns)`,
		`CREATE INDEX trace_by_msg ON trace (sdk_app_id, msg_id, time_ns) WHERE msg_id <> ''`,
	}},
	{name: "one binding per token", stmts: []string{
		`CREATE INDEX bindings_by_token ON bindings (sdk_app_id, token)`,
	}},
	// A row per user whose push settings are not the default (pushes off); turning them back on
	// deletes it.
	{name: "user push settings", stmts: []string{
		`CREATE TABLE push_settings (
			sdk_app_id INTEGER NOT NULL,
			user_id    TEXT    NOT NULL,
			enabled    INTEGER NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id)
		) STRICT`,
	}},
	{name: "profiles, group names, locales and push templates", stmts: []string{
		`ALTER TABLE apps ADD COLUMN default_locale TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE apps ADD COLUMN push_templates TEXT NOT NULL DEFAULT ''`, // JSON object by locale, or '' for none
		`ALTER TABLE sessions ADD COLUMN locale TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN nickname TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE chat_groups ADD COLUMN name TEXT NOT NULL DEFAULT ''`,
		`CREATE TABLE profiles (
			sdk_app_id INTEGER NOT NULL,
			user_id    TEXT    NOT NULL,
			nickname   TEXT    NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id)
		) STRICT`,
	}},
	{name: "android notification options", stmts: []string{
		`ALTER TABLE certificates ADD COLUMN channel_id TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN push_channel_id TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN push_sound TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN push_click_action TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN push_silent INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE pushes ADD COLUMN channel_id TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE pushes ADD COLUMN sound TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE pushes ADD COLUMN click_action TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE pushes ADD COLUMN silent INTEGER NOT NULL DEFAULT 0`,
	}},
	// Fewer b-trees, and fewer statements, for each message and push: the relay's loop writes
	// them in every batch.
	//   - No query reads trace_by_time (the relay's queries name an app, which trace_by_app
	//     serves with its time range, and pruning by age walks the trace in seq order) nor
	//     pushes_by_app (DeleteApp reads the pending pushes whole), yet each trace entry and
	//     push wrote to them.
	//   - Sessions are keyed by their key alone (WITHOUT ROWID): a session's upsert finds its
	//     row in one b-tree, not its key in one and its row in another.
	{name: "leaner push writes", stmts: []string{
		`DROP INDEX trace_by_time`,
		`DROP INDEX pushes_by_app`,
		`CREATE TABLE sessions_by_key (
			sdk_app_id  INTEGER NOT NULL,
			user_id     TEXT    NOT NULL,
			device_id   TEXT    NOT NULL,
			platform    TEXT    NOT NULL,
			login_at_ns INTEGER,
			unread      INTEGER NOT NULL,
			held        TEXT    NOT NULL, -- JSON array of seqs, or null
			caps        TEXT,             -- JSON relay.CapsState, or NULL before the first push
			logged_out  INTEGER NOT NULL, -- 1: the row holds only caps
			locale      TEXT    NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id, device_id)
		) STRICT, WITHOUT ROWID`,
		`INSERT INTO sessions_by_key (sdk_app_id, user_id, device_id, platform, login_at_ns, unread, held, caps,
			logged_out, locale) SELECT sdk_app_id, user_id, device_id, platform, login_at_ns, unread, held, caps,
			logged_out, locale FROM sessions`,
		`DROP TABLE sessions`,
		`ALTER TABLE sessions_by_key RENAME TO sessions`,
	}},
}

// migrate brings the database's schema up to date in one transaction, and refuses a database
// whose schema is newer than this code knows.
func migrate(ctx context.Context, db *sql.DB) error { return migrateTo(ctx, db, len(migrations)) }

// migrateTo runs the migrations a database has not had up to the target'th (a test makes the
// databases earlier releases made with it).
func migrateTo(ctx context.Context, db *sql.DB, target int) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	// The single row (id 1) holds how many migrations the database has had.
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		id      INTEGER PRIMARY KEY CHECK (id = 1),
		version INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var version int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE id = 1`).Scan(&version); {
	case errors.Is(err, sql.ErrNoRows):
		version = 0
	case err != nil:
		return fmt.Errorf("read schema_version: %w", err)
	}
	if err := storecol.CheckSchemaVersion(version, len(migrations), ErrSchemaTooNew); err != nil {
		return err
	}
	for i := version; i < target; i++ {
		for _, stmt := range migrations[i].stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d (%s): %w", i+1, migrations[i].name, err)
			}
		}
	}
	if version >= target {
		return tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (id, version) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET version = excluded.version`, target); err != nil {
		return fmt.Errorf("write schema_version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
