package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
)

// The push trace's pruning: the oldest entries (by seq), and the oldest of those older than a
// time. Both walk the trace in seq order, where the oldest entries are. The oldest entries'
// delete stops at LIMIT. The entries are counted (countTraceSQL), and those older than a time
// looked for (agedTraceSQL: when none is due it reads the whole trace, with no index on time), on
// the store's reading connections, so that neither read holds the writing connection; the
// delete then takes those found, which are every entry older than the time up to the last one
// found (a seq is never reused).
const (
	countTraceSQL       = `SELECT count(*) FROM trace`
	pruneOldestTraceSQL = `DELETE FROM trace WHERE seq IN (SELECT seq FROM trace ORDER BY seq LIMIT ?)`
	agedTraceSQL        = `SELECT count(*), coalesce(max(seq), 0) FROM (SELECT seq FROM trace WHERE time_ns < ? ORDER BY seq LIMIT ?)`
	pruneAgedTraceSQL   = `DELETE FROM trace WHERE seq <= ? AND time_ns < ?`
)

// statements are the store's prepared statements, prepared once at Open.
type statements struct {
	putApp, putCert, deleteCert, putSession, deleteSession, putBinding, deleteBinding, deleteTokenBindings *sql.Stmt
	addInbox, putMessage, trimLow, trimHigh, putGroup                                                      *sql.Stmt
	addOptUser, putOpt, deleteOpt, putPush, deletePush, putCounter, putProfile, deleteProfile              *sql.Stmt
	putTrace, pruneOldestTrace, pruneAgedTrace                                                             *sql.Stmt
	putPushSettings, deletePushSettings                                                                    *sql.Stmt
	deleteApp                                                                                              []*sql.Stmt
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
		// An upsert, not INSERT OR REPLACE: a device's row is rewritten in place in the table's
		// one b-tree (sessions are WITHOUT ROWID), where REPLACE deletes it and inserts it again.
		{&st.putSession, `INSERT INTO sessions (sdk_app_id, user_id, device_id, platform, login_at_ns,
			unread, held, caps, logged_out, locale) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (sdk_app_id, user_id, device_id) DO UPDATE SET platform = excluded.platform,
			login_at_ns = excluded.login_at_ns, unread = excluded.unread, held = excluded.held, caps = excluded.caps,
			logged_out = excluded.logged_out, locale = excluded.locale`},
		{&st.deleteSession, `DELETE FROM sessions WHERE sdk_app_id = ? AND user_id = ? AND device_id = ?`},
		{&st.putBinding, `INSERT OR REPLACE INTO bindings (sdk_app_id, user_id, device_id, certificate_id, token)
			VALUES (?, ?, ?, ?, ?)`},
		{&st.deleteBinding, `DELETE FROM bindings WHERE sdk_app_id = ? AND user_id = ? AND device_id = ?`},
		{&st.deleteTokenBindings, `DELETE FROM bindings WHERE sdk_app_id = ? AND token = ? AND NOT (user_id = ? AND device_id = ?)`},
		{&st.addInbox, `INSERT OR IGNORE INTO inboxes (sdk_app_id, user_id) VALUES (?, ?)`},
		// A plain INSERT: a second message with the same seq is an error, not a replacement.
		{&st.putMessage, `INSERT INTO messages (sdk_app_id, user_id, seq, id, from_user, from_device, conv,
			group_id, text, time_ns, push_title, push_desc, push_ext, push_disable, nickname,
			push_channel_id, push_sound, push_click_action, push_silent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
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
		{&st.putPush, `INSERT OR REPLACE INTO pushes (id, sdk_app_id, user_id, device_id, certificate_id, token,
			title, body, data, collapse_key, ttl_ns, notification_count, seqs, attempt, not_before_ns,
			channel_id, sound, click_action, silent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.deletePush, `DELETE FROM pushes WHERE id = ?`},
		{&st.putCounter, `INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`},
		{&st.putPushSettings, `INSERT OR REPLACE INTO push_settings (sdk_app_id, user_id, enabled) VALUES (?, ?, ?)`},
		{&st.deletePushSettings, `DELETE FROM push_settings WHERE sdk_app_id = ? AND user_id = ?`},
		{&st.putTrace, `INSERT INTO trace (time_ns, sdk_app_id, user_id, device_id, certificate_id, msg_seq, msg_seqs,
			msg_id, reason, push_id, attempt, fcm_name, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
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
	return nil
}
