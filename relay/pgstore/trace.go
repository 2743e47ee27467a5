package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/internal/storecol"
)

// QueryTrace (relay.TraceStore) answers a push-trace query with one SELECT on the index that
// fits its keys: the newest q.Limit matches before q.Before, oldest first.
func (s *Store) QueryTrace(ctx context.Context, q relay.TraceQuery) (relay.TracePage, error) {
	var where []string
	var args []any
	add := func(cond string, v ...any) {
		for _, x := range v {
			args = append(args, x)
			cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(args)), 1)
		}
		where = append(where, cond)
	}
	if q.SDKAppID != 0 {
		add("sdk_app_id = ?", u64(q.SDKAppID))
	}
	if q.UserID != "" {
		add("user_id = ?", b(q.UserID))
	}
	if q.DeviceID != "" {
		add("device_id = ?", b(q.DeviceID))
	}
	if q.CertificateID != 0 {
		add("certificate_id = ?", q.CertificateID)
	}
	if q.MsgID != "" {
		add("msg_id = ? AND msg_id <> ''::bytea", b(q.MsgID)) // the second term lets the partial index serve
	}
	for _, bound := range []struct {
		what, cond string
		t          time.Time
	}{{"from", "time_ns >= ?", q.From}, {"to", "time_ns < ?", q.To}} {
		if bound.t.IsZero() {
			continue
		}
		v, err := storecol.Nanos(bound.t)
		if err != nil {
			return relay.TracePage{}, fmt.Errorf("query trace: %s: %w", bound.what, err)
		}
		add(bound.cond, v)
	}
	if !q.Before.IsZero() {
		v, err := storecol.Nanos(q.Before.Time)
		if err != nil {
			return relay.TracePage{}, fmt.Errorf("query trace: cursor: %w", err)
		}
		add("(time_ns, seq) < (?, ?)", v, u64(q.Before.Seq))
	}
	query := `SELECT seq, time_ns, sdk_app_id, user_id, device_id, certificate_id, msg_seq, msg_seqs, msg_id, reason,
		push_id, attempt, fcm_name, detail FROM trace`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY time_ns DESC, seq DESC"
	if q.Limit > 0 {
		args = append(args, q.Limit+1) // one more, to know whether there is an older page
		query += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return relay.TracePage{}, fmt.Errorf("query trace: %w", err)
	}
	defer rows.Close()
	var entries []relay.TraceEntry
	var seqs []uint64
	for rows.Next() {
		var e relay.TraceEntry
		var seq, at, app, msgSeq, pushID int64
		var user, dev, msgID, reason, fcmName, detail []byte
		var msgSeqs string
		if err := rows.Scan(&seq, &at, &app, &user, &dev, &e.CertificateID, &msgSeq, &msgSeqs, &msgID,
			&reason, &pushID, &e.Attempt, &fcmName, &detail); err != nil {
			return relay.TracePage{}, fmt.Errorf("query trace: %w", err)
		}
		e.Time, e.SDKAppID, e.Seq, e.PushID = storecol.Time(&at), uint64(app), uint64(msgSeq), uint64(pushID)
		e.UserID, e.DeviceID, e.MsgID, e.Reason, e.FCMName, e.Detail = string(user), string(dev), string(msgID),
			string(reason), string(fcmName), string(detail)
		if e.Seqs, err = storecol.ParseTraceSeqs(msgSeqs); err != nil {
			return relay.TracePage{}, fmt.Errorf("query trace: entry %d: seqs: %w", seq, err)
		}
		entries = append(entries, e)
		seqs = append(seqs, uint64(seq))
	}
	if err := rows.Err(); err != nil {
		return relay.TracePage{}, fmt.Errorf("query trace: %w", err)
	}
	return relay.PageNewestFirst(entries, seqs, q.Limit), nil
}

// PruneTrace (relay.TraceStore) deletes up to p.Batch entries in one transaction: the oldest
// stored beyond p.Keep (counted with the table's count), then those older than p.Before.
func (s *Store) PruneTrace(ctx context.Context, p relay.TracePrune) (n int, err error) {
	if p.Batch <= 0 {
		return 0, fmt.Errorf("prune trace: batch %d: must be positive", p.Batch)
	}
	var before any
	if !p.Before.IsZero() {
		if before, err = storecol.Nanos(p.Before); err != nil {
			return 0, fmt.Errorf("prune trace: %w", err)
		}
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if p.Keep > 0 {
			var count int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM trace`).Scan(&count); err != nil {
				return fmt.Errorf("prune trace: count: %w", err)
			}
			if count > p.Keep {
				tag, err := tx.Exec(ctx, `DELETE FROM trace WHERE seq IN (SELECT seq FROM trace ORDER BY seq LIMIT $1)`,
					min(count-p.Keep, p.Batch))
				if err != nil {
					return fmt.Errorf("prune trace beyond %d entries: %w", p.Keep, err)
				}
				n += int(tag.RowsAffected())
			}
		}
		if before != nil && n < p.Batch {
			tag, err := tx.Exec(ctx, `DELETE FROM trace WHERE seq IN (SELECT seq FROM trace WHERE time_ns < $1 ORDER BY seq LIMIT $2)`,
				before, p.Batch-n)
			if err != nil {
				return fmt.Errorf("prune trace before %v: %w", p.Before, err)
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
