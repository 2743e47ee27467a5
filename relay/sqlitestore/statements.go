package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
)

// The push trace's pruning: the oldest entries (by seq) beyond a count, and the oldest of those
// older than a time. The entries are counted (countTraceSQL), and those due looked for, on the
// store's reading connections, so that no read holds the writing connection (the search for aged
// entries, agedTraceSQL, reads the whole trace when none is due: there is no index on time). The
// deletes on the writing connection then take those found: every entry up to the last one found
// (oldestTraceSQL), or every entry older than the time up to it (agedTraceSQL). A seq is never
// reused, so an entry appended since is never taken, and one deleted since is not made up for.
const (
	countTraceSQL       = `SELECT count(*) FROM trace`
	oldestTraceSQL      = `SELECT coalesce(max(seq), 0) FROM (SELECT seq FROM trace ORDER BY seq LIMIT ?)`
	pruneOldestTraceSQL = `DELETE FROM trace WHERE seq <= ?`
	agedTraceSQL        = `SELECT coalesce(max(seq), 0) FROM (SELECT seq FROM trace WHERE time_ns < ? ORDER BY seq LIMIT ?)`
	pruneAgedTraceSQL   = `DELETE FROM trace WHERE seq <= ? AND time_ns < ?`
)

// statements are the store's prepared statements, prepared once at Open.
type statements struct {
	putApp, putCert, deleteCert, deleteSession, putBinding, deleteBinding, deleteTokenBindings *sql.Stmt
	addInbox, trimLow, trimHigh, putGroup                                                      *sql.Stmt
	addOptUser, putOpt, deleteOpt, putProfile, deleteProfile                                   *sql.Stmt
	pruneOldestTrace, pruneAgedTrace                                                           *sql.Stmt
	putPushSettings, deletePushSettings                                                        *sql.Stmt
	deleteApp                                                                                  []*sql.Stmt

	// The rows the relay's loop writes for every message and push (rows.go).
	putMessage, putSession, putPush, deletePush, putCounter, putTrace rowsStmt
}

func (s *Store) prepare(ctx context.Context) error {
	st := &s.stmts
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&st.putApp, `INSERT OR REPLACE INTO apps (sdk_app_id, name, secret_key, login_policy,
			caps_per_minute, caps_per_hour, caps_burst, caps_refill_ns, default_locale, push_templates) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.putCert, `INSERT OR REPLACE INTO certificates (id, sdk_app_id, platform, package_name, sender_id,
			service_account, server_key, endpoint, misconfigured, reason, since_ns, check_status, check_error, checked_at_ns,
			channel_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.deleteCert, `DELETE FROM certificates WHERE id = ?`},
		{&st.deleteSession, `DELETE FROM sessions WHERE sdk_app_id = ? AND user_id = ? AND device_id = ?`},
		{&st.putBinding, `INSERT OR REPLACE INTO bindings (sdk_app_id, user_id, device_id, certificate_id, token)
			VALUES (?, ?, ?, ?, ?)`},
		{&st.deleteBinding, `DELETE FROM bindings WHERE sdk_app_id = ? AND user_id = ? AND device_id = ?`},
		{&st.deleteTokenBindings, `DELETE FROM bindings WHERE sdk_app_id = ? AND token = ? AND NOT (user_id = ? AND device_id = ?)`},
		{&st.addInbox, `INSERT OR IGNORE INTO inboxes (sdk_app_id, user_id) VALUES (?, ?)`},
		// Seqs are uint64 bit-cast to int64: those at or below a Through under 2^63 are the
		// non-negative ones up to it; at or above 2^63, all the non-negative ones and the
		// negative ones up to it.
		{&st.trimLow, `DELETE FROM messages WHERE sdk_app_id = ? AND user_id = ? AND seq BETWEEN 0 AND ?`},
		{&st.trimHigh, `DELETE FROM messages WHERE sdk_app_id = ? AND user_id = ? AND (seq >= 0 OR seq <= ?)`},
		{&st.putGroup, `INSERT OR REPLACE INTO chat_groups (sdk_app_id, id, members, name) VALUES (?, ?, ?, ?)`},
		{&st.putProfile, `INSERT OR REPLACE INTO profiles (sdk_app_id, user_id, nickname) VALUES (?, ?, ?)`},
		{&st.deleteProfile, `DELETE FROM profiles WHERE sdk_app_id = ? AND user_id = ?`},
		{&st.addOptUser, `INSERT OR IGNORE INTO receive_opt_users (sdk_app_id, user_id) VALUES (?, ?)`},
		{&st.putOpt, `INSERT OR REPLACE INTO receive_opts (sdk_app_id, user_id, conv, opt) VALUES (?, ?, ?, ?)`},
		{&st.deleteOpt, `DELETE FROM receive_opts WHERE sdk_app_id = ? AND user_id = ? AND conv = ?`},
		{&st.putPushSettings, `INSERT OR REPLACE INTO push_settings (sdk_app_id, user_id, enabled) VALUES (?, ?, ?)`},
		{&st.deletePushSettings, `DELETE FROM push_settings WHERE sdk_app_id = ? AND user_id = ?`},
		{&st.pruneOldestTrace, pruneOldestTraceSQL},
		{&st.pruneAgedTrace, pruneAgedTraceSQL},
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
		"chat_groups", "receive_opt_users", "receive_opts", "pushes", "push_settings", "profiles"} {
		query := "DELETE FROM " + table + " WHERE sdk_app_id = ?"
		stmt, err := s.db.PrepareContext(ctx, query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", query, err)
		}
		st.deleteApp = append(st.deleteApp, stmt)
	}
	return s.prepareRows(ctx)
}
