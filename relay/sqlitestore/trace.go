package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/internal/storecol"
)

// appendTrace writes one push-trace entry in the Apply's transaction.
func (a *applier) appendTrace(st *statements, e relay.TraceEntry) error {
	if e.Time.IsZero() {
		return errors.New("no time: the trace is ordered by time")
	}
	at, err := storecol.Nanos(e.Time)
	if err != nil {
		return err
	}
	seqs, err := storecol.TraceSeqs(e.Seqs)
	if err != nil {
		return fmt.Errorf("seqs: %w", err)
	}
	a.row(&st.putTrace, at, u64(e.SDKAppID), e.UserID, e.DeviceID, e.CertificateID, u64(e.Seq), seqs,
		e.MsgID, e.Reason, u64(e.PushID), e.Attempt, e.FCMName, e.Detail)
	return nil
}

// QueryTrace (relay.TraceStore) answers a push-trace query with one SELECT on the index that
// fits its keys: the newest q.Limit matches before q.Before, oldest first.
func (s *Store) QueryTrace(ctx context.Context, q relay.TraceQuery) (relay.TracePage, error) {
	query, args, err := traceSelect(q)
	if err != nil {
		return relay.TracePage{}, fmt.Errorf("query trace: %w", err)
	}
	rows, err := s.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return relay.TracePage{}, fmt.Errorf("query trace: %w", err)
	}
	defer rows.Close()
	var entries []relay.TraceEntry
	var seqs []uint64
	for rows.Next() {
		var e relay.TraceEntry
		var seq, app, msgSeq, pushID int64
		var at *int64
		var msgSeqs string
		if err := rows.Scan(&seq, &at, &app, &e.UserID, &e.DeviceID, &e.CertificateID, &msgSeq, &msgSeqs, &e.MsgID,
			&e.Reason, &pushID, &e.Attempt, &e.FCMName, &e.Detail); err != nil {
			return relay.TracePage{}, fmt.Errorf("query trace: %w", err)
		}
		e.Time, e.SDKAppID, e.Seq, e.PushID = storecol.Time(at), uint64(app), uint64(msgSeq), uint64(pushID)
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

// PruneTrace (relay.TraceStore) deletes up to p.Batch entries: the oldest beyond p.Keep, then the
// oldest of those older than p.Before, each delete a transaction of its own. The entries are
// counted, and those older than p.Before looked for, on the reading connections, so that the
// writing one, which the relay's batches wait for, is held only to delete (see agedTraceSQL).
func (s *Store) PruneTrace(ctx context.Context, p relay.TracePrune) (n int, err error) {
	if p.Batch <= 0 {
		return 0, fmt.Errorf("prune trace: batch %d: must be positive", p.Batch)
	}
	if p.Keep > 0 {
		if n, err = s.pruneOldestTrace(ctx, p.Keep, p.Batch); err != nil {
			return 0, err
		}
	}
	if p.Before.IsZero() || n >= p.Batch {
		return n, nil
	}
	k, err := s.pruneAgedTrace(ctx, p.Before, p.Batch-n)
	return n + k, err
}

// pruneAgedTrace deletes the oldest entries older than before, at most batch of them. The last
// of them is found on a reading connection; a pass with none due never takes the writing one.
func (s *Store) pruneAgedTrace(ctx context.Context, before time.Time, batch int) (int, error) {
	ns, err := storecol.Nanos(before)
	if err != nil {
		return 0, fmt.Errorf("prune trace: %w", err)
	}
	var last int64 // 0 when none is due: seqs start at 1
	if err := s.reading.agedTrace.QueryRowContext(ctx, ns, batch).Scan(&last); err != nil {
		return 0, fmt.Errorf("prune trace before %v: look for entries: %w", before, err)
	}
	if last == 0 {
		return 0, nil
	}
	res, err := s.stmts.pruneAgedTrace.ExecContext(ctx, last, ns)
	if err != nil {
		return 0, fmt.Errorf("prune trace before %v: %w", before, err)
	}
	k, _ := res.RowsAffected()
	return int(k), nil
}

// pruneOldestTrace deletes the oldest entries beyond keep, at most batch of them. They are
// counted and found on the reading connections, which see the trace as the last batch committed
// it: entries appended since are left for the next pass.
func (s *Store) pruneOldestTrace(ctx context.Context, keep, batch int) (int, error) {
	var count int
	if err := s.reading.countTrace.QueryRowContext(ctx).Scan(&count); err != nil {
		return 0, fmt.Errorf("prune trace: count: %w", err)
	}
	if count <= keep {
		return 0, nil
	}
	var last int64
	if err := s.reading.oldestTrace.QueryRowContext(ctx, min(count-keep, batch)).Scan(&last); err != nil {
		return 0, fmt.Errorf("prune trace beyond %d entries: look for entries: %w", keep, err)
	}
	res, err := s.stmts.pruneOldestTrace.ExecContext(ctx, last)
	if err != nil {
		return 0, fmt.Errorf("prune trace beyond %d entries: %w", keep, err)
	}
	k, _ := res.RowsAffected()
	return int(k), nil
}

// traceSelect is the SELECT that answers q, newest first, and its arguments.
func traceSelect(q relay.TraceQuery) (query string, args []any, err error) {
	var where []string
	add := func(cond string, vs ...any) {
		where = append(where, cond)
		args = append(args, vs...)
	}
	if q.SDKAppID != 0 {
		add("sdk_app_id = ?", u64(q.SDKAppID))
	}
	if q.UserID != "" {
		add("user_id = ?", q.UserID)
	}
	if q.DeviceID != "" {
		add("device_id = ?", q.DeviceID)
	}
	if q.CertificateID != 0 {
		add("certificate_id = ?", q.CertificateID)
	}
	if q.MsgID != "" {
		add("msg_id = ? AND msg_id <> ''", q.MsgID) // the second term lets the partial index serve
	}
	if !q.From.IsZero() {
		v, err := storecol.Nanos(q.From)
		if err != nil {
			return "", nil, fmt.Errorf("from: %w", err)
		}
		add("time_ns >= ?", v)
	}
	if !q.To.IsZero() {
		v, err := storecol.Nanos(q.To)
		if err != nil {
			return "", nil, fmt.Errorf("to: %w", err)
		}
		add("time_ns < ?", v)
	}
	if !q.Before.IsZero() {
		v, err := storecol.Nanos(q.Before.Time)
		if err != nil {
			return "", nil, fmt.Errorf("cursor: %w", err)
		}
		add("(time_ns, seq) < (?, ?)", v, u64(q.Before.Seq))
	}
	query = `SELECT seq, time_ns, sdk_app_id, user_id, device_id, certificate_id, msg_seq, msg_seqs, msg_id, reason,
		push_id, attempt, fcm_name, detail FROM trace`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY time_ns DESC, seq DESC"
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit+1) // one more, to know whether there is an older page
	}
	return query, args, nil
}
