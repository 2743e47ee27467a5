package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// chunkSizes are the numbers of rows a rowsStmt is prepared for, largest first: a batch writes n
// rows of a kind with n/64 statements of 64 rows, then at most three of 16, three of 4 and three
// of 1. (The largest, 64 messages of 19 columns, binds 1,216 parameters: far below SQLite's limit
// of 32,766.)
var chunkSizes = [...]int{64, 16, 4, 1}

// single is the index in chunkSizes of the one-row size.
const single = len(chunkSizes) - 1

// rowsStmt is a statement that writes rows of one kind into one table, prepared once for each of
// chunkSizes: the rows of a kind a batch holds cost a few statements, not one each, which spares
// each row the statement's own cost (database/sql's and the driver's per call, SQLite's opening
// of the table's and indexes' cursors).
type rowsStmt struct {
	table  string                     // the one table it writes
	width  int                        // arguments per row
	most   int                        // the most rows a statement writes
	bySize [len(chunkSizes)]*sql.Stmt // bySize[i] writes chunkSizes[i] rows
}

// rowsQuery is the text of a statement of n rows: head, the row n times joined by commas, tail.
func rowsQuery(head, row, tail string, n int) string {
	return head + strings.Repeat(row+", ", n-1) + row + tail
}

// valuesRow is the VALUES tuple of a row of n columns.
func valuesRow(n int) string { return "(" + strings.Repeat("?, ", n-1) + "?)" }

// prepareRows prepares the rowsStmts. Their inserts are INSERT OR FAIL: a statement of several
// rows that an error may stop half way (a NOT NULL column, a key already there) makes SQLite keep
// a statement journal, a copy of each page the statement changes (past 64 KiB, in a temporary
// file), to undo the rows it wrote; OR FAIL keeps them instead, which costs nothing here, as any
// error rolls the batch's whole transaction back. An upsert's update or a REPLACE still needs
// the journal: the pushes' pages are few, at the table's end, but 64 sessions are rows all over
// theirs, so sessions go 4 a statement.
func (s *Store) prepareRows(ctx context.Context) error {
	st := &s.stmts
	for _, p := range []struct {
		stmt       *rowsStmt
		table      string
		width      int
		head, tail string
		row        string // valuesRow(width) when empty
		most       int    // the most rows a statement writes, if fewer than chunkSizes[0]
	}{
		// Not a REPLACE: a second message with the same seq is an error, not a replacement.
		{stmt: &st.putMessage, table: "messages", width: 19, head: `INSERT OR FAIL INTO messages (sdk_app_id, user_id, seq, id,
			from_user, from_device, conv, group_id, text, time_ns, push_title, push_desc, push_ext, push_disable, nickname,
			push_channel_id, push_sound, push_click_action, push_silent) VALUES `},
		// An upsert, not INSERT OR REPLACE: a device's row is rewritten in place in the table's
		// one b-tree (sessions are WITHOUT ROWID), where REPLACE deletes it and inserts it again.
		{stmt: &st.putSession, table: "sessions", width: 10, head: `INSERT OR FAIL INTO sessions (sdk_app_id, user_id, device_id,
			platform, login_at_ns, unread, held, caps, logged_out, locale) VALUES `,
			tail: ` ON CONFLICT (sdk_app_id, user_id, device_id) DO UPDATE SET platform = excluded.platform,
			login_at_ns = excluded.login_at_ns, unread = excluded.unread, held = excluded.held, caps = excluded.caps,
			logged_out = excluded.logged_out, locale = excluded.locale`, most: 4},
		{stmt: &st.putPush, table: "pushes", width: 19, head: `INSERT OR REPLACE INTO pushes (id, sdk_app_id, user_id,
			device_id, certificate_id, token, title, body, data, collapse_key, ttl_ns, notification_count, seqs, attempt,
			not_before_ns, channel_id, sound, click_action, silent) VALUES `},
		{stmt: &st.deletePush, table: "pushes", width: 1, head: `DELETE FROM pushes WHERE id IN (`, row: "?", tail: ")"},
		{stmt: &st.putCounter, table: "counters", width: 2, head: `INSERT OR FAIL INTO counters (name, value) VALUES `,
			tail: ` ON CONFLICT (name) DO UPDATE SET value = excluded.value`},
		// Rows of one statement are inserted in the order they are listed: the trace's seqs
		// number them in the order of the batch.
		{stmt: &st.putTrace, table: "trace", width: 13, head: `INSERT OR FAIL INTO trace (time_ns, sdk_app_id, user_id, device_id,
			certificate_id, msg_seq, msg_seqs, msg_id, reason, push_id, attempt, fcm_name, detail) VALUES `},
	} {
		row := p.row
		if row == "" {
			row = valuesRow(p.width)
		}
		if p.most == 0 {
			p.most = chunkSizes[0]
		}
		*p.stmt = rowsStmt{table: p.table, width: p.width, most: p.most}
		for i, n := range chunkSizes {
			if n > p.most {
				continue
			}
			query := rowsQuery(p.head, row, p.tail, n)
			stmt, err := s.db.PrepareContext(ctx, query)
			if err != nil {
				return fmt.Errorf("prepare %d rows of %s: %w", n, p.table, err)
			}
			p.stmt.bySize[i] = stmt
		}
	}
	return nil
}
