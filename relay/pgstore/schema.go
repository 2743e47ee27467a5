package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
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
// The tables and columns are sqlitestore's, with the same meanings, and the same conventions:
// uint64 values (app IDs, seqs, push IDs, counter values) are stored in BIGINT columns bit-cast
// to int64, so the store never orders by them in SQL; times are UnixNano BIGINTs (UTC), NULL for
// the zero time; lists and maps are JSON in TEXT columns (not jsonb: jsonb refuses \u0000);
// secrets are plain columns. Unlike SQLite's TEXT, PostgreSQL's refuses NUL bytes and invalid
// UTF-8, which Go strings may hold, so every string the relay keeps as it is (IDs, names, texts,
// tokens, secrets) is a BYTEA column. There are no foreign keys, as in SQLite: the core's records
// do not promise referential integrity, and DeleteApp cascades by explicit DELETEs instead.
var migrations = []migration{
	{name: "initial schema", stmts: []string{
		`CREATE TABLE apps (
			sdk_app_id      BIGINT PRIMARY KEY,
			name            BYTEA  NOT NULL,
			secret_key      BYTEA  NOT NULL,
			login_policy    BYTEA  NOT NULL,
			caps_per_minute BIGINT NOT NULL,
			caps_per_hour   BIGINT NOT NULL,
			caps_burst      BIGINT NOT NULL,
			caps_refill_ns  BIGINT NOT NULL
		)`,
		`CREATE TABLE certificates (
			id              BIGINT  PRIMARY KEY,
			sdk_app_id      BIGINT  NOT NULL,
			platform        BYTEA   NOT NULL,
			package_name    BYTEA   NOT NULL,
			sender_id       BYTEA   NOT NULL,
			service_account BYTEA   NOT NULL,
			server_key      BYTEA   NOT NULL,
			endpoint        BYTEA   NOT NULL,
			misconfigured   BOOLEAN NOT NULL,
			reason          BYTEA   NOT NULL,
			since_ns        BIGINT,
			check_status    BYTEA   NOT NULL, -- '' (unchecked), unchecked, ok, failed
			check_error     BYTEA   NOT NULL,
			checked_at_ns   BIGINT
		)`,
		`CREATE INDEX certificates_by_app ON certificates (sdk_app_id)`,
		`CREATE TABLE sessions (
			sdk_app_id  BIGINT  NOT NULL,
			user_id     BYTEA   NOT NULL,
			device_id   BYTEA   NOT NULL,
			platform    BYTEA   NOT NULL,
			login_at_ns BIGINT,
			unread      BIGINT  NOT NULL,
			held        TEXT    NOT NULL, -- JSON array of seqs, or null
			caps        TEXT,             -- JSON relay.CapsState, or NULL before the first push
			logged_out  BOOLEAN NOT NULL, -- the row holds only caps
			PRIMARY KEY (sdk_app_id, user_id, device_id)
		)`,
		`CREATE TABLE bindings (
			sdk_app_id     BIGINT NOT NULL,
			user_id        BYTEA  NOT NULL,
			device_id      BYTEA  NOT NULL,
			certificate_id BIGINT NOT NULL,
			token          BYTEA  NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id, device_id)
		)`,
		// inboxes lists the users that have an inbox, even an empty one (a TrimInbox makes one):
		// State.Messages has a key for each of them, as MemoryStore's has.
		`CREATE TABLE inboxes (
			sdk_app_id BIGINT NOT NULL,
			user_id    BYTEA  NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id)
		)`,
		`CREATE TABLE messages (
			sdk_app_id   BIGINT  NOT NULL,
			user_id      BYTEA   NOT NULL,
			seq          BIGINT  NOT NULL,
			id           BYTEA   NOT NULL,
			from_user    BYTEA   NOT NULL,
			from_device  BYTEA   NOT NULL,
			conv         BYTEA   NOT NULL,
			group_id     BYTEA   NOT NULL,
			text         BYTEA   NOT NULL,
			time_ns      BIGINT,
			push_title   BYTEA   NOT NULL,
			push_desc    BYTEA   NOT NULL,
			push_ext     BYTEA   NOT NULL,
			push_disable BOOLEAN NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id, seq)
		)`,
		`CREATE TABLE chat_groups (
			sdk_app_id BIGINT NOT NULL,
			id         BYTEA  NOT NULL,
			members    TEXT   NOT NULL, -- JSON array of user IDs, or null
			PRIMARY KEY (sdk_app_id, id)
		)`,
		// receive_opt_users lists the users that have a receive-option map, even an empty one
		// (setting "receive" makes one): State.ReceiveOpts has a key for each of them.
		`CREATE TABLE receive_opt_users (
			sdk_app_id BIGINT NOT NULL,
			user_id    BYTEA  NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id)
		)`,
		`CREATE TABLE receive_opts (
			sdk_app_id BIGINT NOT NULL,
			user_id    BYTEA  NOT NULL,
			conv       BYTEA  NOT NULL,
			opt        BYTEA  NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id, conv)
		)`,
		`CREATE TABLE pushes (
			id                 BIGINT PRIMARY KEY,
			sdk_app_id         BIGINT NOT NULL,
			user_id            BYTEA  NOT NULL,
			device_id          BYTEA  NOT NULL,
			certificate_id     BIGINT NOT NULL,
			token              BYTEA  NOT NULL,
			title              BYTEA  NOT NULL,
			body               BYTEA  NOT NULL,
			data               TEXT   NOT NULL, -- JSON object, or null
			collapse_key       BYTEA  NOT NULL,
			ttl_ns             BIGINT NOT NULL,
			notification_count BIGINT NOT NULL,
			seqs               TEXT   NOT NULL, -- JSON array, or null
			attempt            BIGINT NOT NULL,
			not_before_ns      BIGINT
		)`,
		`CREATE INDEX pushes_by_app ON pushes (sdk_app_id)`,
		`CREATE TABLE counters (
			name  BYTEA  PRIMARY KEY,
			value BIGINT NOT NULL
		)`,
		// The push trace: seq numbers the entries as they were stored (an identity: never reused,
		// so a paging cursor stays valid while older entries are pruned); answers are ordered by
		// (time_ns, seq). Each index ends with (time_ns, seq), so that it serves its keys in that
		// order: by app, by user, by certificate, by message; time_ns alone is for pruning by age.
		`CREATE TABLE trace (
			seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			time_ns        BIGINT NOT NULL,
			sdk_app_id     BIGINT NOT NULL,
			user_id        BYTEA  NOT NULL,
			device_id      BYTEA  NOT NULL,
			certificate_id BIGINT NOT NULL,
			msg_seq        BIGINT NOT NULL,
			msg_seqs       TEXT   NOT NULL, -- JSON array, or '' for none
			msg_id         BYTEA  NOT NULL,
			reason         BYTEA  NOT NULL,
			push_id        BIGINT NOT NULL,
			attempt        BIGINT NOT NULL,
			fcm_name       BYTEA  NOT NULL,
			detail         BYTEA  NOT NULL
		)`,
		`CREATE INDEX trace_by_time ON trace (time_ns)`,
		`CREATE INDEX trace_by_app ON trace (sdk_app_id, time_ns, seq)`,
		`CREATE INDEX trace_by_user ON trace (sdk_app_id, user_id, time_ns, seq)`,
		`CREATE INDEX trace_by_certificate ON trace (sdk_app_id, certificate_id, time_ns, seq)`,
		`CREATE INDEX trace_by_msg ON trace (sdk_app_id, msg_id, time_ns, seq) WHERE msg_id <> ''::bytea`,
	}},
	// The cluster's partition leases and live nodes (LeaseTable). Times are UnixNano BIGINTs, as
	// elsewhere: the leases' expiries are compared to the nanosecond, which TIMESTAMPTZ's
	// microseconds would round. Node IDs are BYTEA, so that ORDER BY node is Go's byte order.
	{name: "cluster leases", stmts: []string{
		`CREATE TABLE partition_leases (
			partition  INTEGER PRIMARY KEY CHECK (partition >= 0),
			node       BYTEA,                              -- NULL once released
			epoch      BIGINT  NOT NULL CHECK (epoch >= 0), -- the fencing token: +1 per acquisition
			expires_ns BIGINT                              -- NULL once released
		)`,
		`CREATE TABLE cluster_members (
			node       BYTEA  PRIMARY KEY,
			expires_ns BIGINT NOT NULL
		)`,
	}},
	{name: "one binding per token", stmts: []string{
		`CREATE INDEX bindings_by_token ON bindings (sdk_app_id, token)`,
	}},
	// A row per user whose push settings are not the default (pushes off); turning them back on
	// deletes it.
	{name: "user push settings", stmts: []string{
		`CREATE TABLE push_settings (
			sdk_app_id BIGINT  NOT NULL,
			user_id    BYTEA   NOT NULL,
			enabled    BOOLEAN NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id)
		)`,
	}},
	{name: "profiles, group names, locales and push templates", stmts: []string{
		`ALTER TABLE apps ADD COLUMN default_locale BYTEA NOT NULL DEFAULT ''`,
		`ALTER TABLE apps ADD COLUMN push_templates TEXT NOT NULL DEFAULT ''`, // JSON object by locale, or '' for none
		`ALTER TABLE sessions ADD COLUMN locale BYTEA NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN nickname BYTEA NOT NULL DEFAULT ''`,
		`ALTER TABLE chat_groups ADD COLUMN name BYTEA NOT NULL DEFAULT ''`,
		`CREATE TABLE profiles (
			sdk_app_id BIGINT NOT NULL,
			user_id    BYTEA  NOT NULL,
			nickname   BYTEA  NOT NULL,
			PRIMARY KEY (sdk_app_id, user_id)
		)`,
	}},
	{name: "android notification options", stmts: []string{
		`ALTER TABLE certificates ADD COLUMN channel_id BYTEA NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN push_channel_id BYTEA NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN push_sound BYTEA NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN push_click_action BYTEA NOT NULL DEFAULT ''`,
		`ALTER TABLE messages ADD COLUMN push_silent BOOLEAN NOT NULL DEFAULT FALSE`,
		`ALTER TABLE pushes ADD COLUMN channel_id BYTEA NOT NULL DEFAULT ''`,
		`ALTER TABLE pushes ADD COLUMN sound BYTEA NOT NULL DEFAULT ''`,
		`ALTER TABLE pushes ADD COLUMN click_action BYTEA NOT NULL DEFAULT ''`,
		`ALTER TABLE pushes ADD COLUMN silent BOOLEAN NOT NULL DEFAULT FALSE`,
	}},
}

// migrationLock is the key of the transaction-level advisory lock migrate holds, so that relays
// starting at once against one database migrate it one after the other.
const migrationLock = 0x7075_7368_6c61_6201 // "pushlab" and 1

// migrate brings the database's schema up to date in one transaction, and refuses a database
// whose schema is newer than this code knows.
func migrate(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}) (err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(ctx)
		}
	}()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	// The single row (id 1) holds how many migrations the database has had.
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		id      INTEGER PRIMARY KEY CHECK (id = 1),
		version INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	var version int
	switch err := tx.QueryRow(ctx, `SELECT version FROM schema_version WHERE id = 1`).Scan(&version); {
	case errors.Is(err, pgx.ErrNoRows):
		version = 0
	case err != nil:
		return fmt.Errorf("read schema_version: %w", err)
	}
	if err := storecol.CheckSchemaVersion(version, len(migrations), ErrSchemaTooNew); err != nil {
		return err
	}
	for i := version; i < len(migrations); i++ {
		for _, stmt := range migrations[i].stmts {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migration %d (%s): %w", i+1, migrations[i].name, err)
			}
		}
	}
	if version < len(migrations) {
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (id, version) VALUES (1, $1)
			ON CONFLICT (id) DO UPDATE SET version = excluded.version`, len(migrations)); err != nil {
			return fmt.Errorf("write schema_version: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
