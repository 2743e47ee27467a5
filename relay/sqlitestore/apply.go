package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/internal/storecol"
)

// Apply persists records in one transaction, in order: all of them or, on an error, none.
func (s *Store) Apply(ctx context.Context, records []relay.Record) error {
	b, err := s.Stage(records)
	if err != nil {
		return err
	}
	return b.Commit(ctx)
}

// Batch is a batch of records encoded into the statements that write them, for one transaction:
// Apply split in two, so that a caller can encode a batch on its own goroutine and write it on
// another while it goes on changing what the records came from.
type Batch struct {
	s       *Store
	records []relay.Record // compacted; only described in an error (IDs and keys, no slices)
	n       int            // records as given
	ops     []op
}

// op is one statement of a batch with its arguments, all of them immutable values: a record's
// statement of its own, or a chunk of rows of a rowsStmt.
type op struct {
	stmt   *sql.Stmt
	args   []any
	record int       // the index in Batch.records of the record it writes (a chunk's first row's)
	rows   *rowsStmt // a chunk's kind; nil for a statement of its own
	// A chunk's rows' records, one a row, when they are more than one record's (an AppendTrace's
	// entries are one record's).
	records []int
}

// Stage encodes records into a Batch without touching the database: the batch keeps nothing of
// the records' slices or maps, so they may change once Stage has returned. A record the store
// cannot encode fails here.
func (s *Store) Stage(records []relay.Record) (relay.StagedBatch, error) {
	// A copy of the slice (CompactRecords may return records itself); its records are values.
	b := &Batch{s: s, records: slices.Clone(relay.CompactRecords(records)), n: len(records)}
	a := applier{b: b}
	for i, r := range b.records {
		a.record = i
		if err := a.apply(&s.stmts, r); err != nil {
			return nil, b.fail(i, err)
		}
	}
	a.flush()
	return b, nil
}

// Commit writes the batch in one transaction: all of it or, on an error, none. A batch is
// committed once.
func (b *Batch) Commit(ctx context.Context) error {
	if b.n == 0 {
		return nil
	}
	chunkFailed, err := b.write(ctx, false)
	if chunkFailed {
		// A statement of several records' rows failed: the batch again, a row a statement, in a
		// transaction rolled back whatever happens, names the record it failed on.
		if _, rowErr := b.write(ctx, true); rowErr != nil {
			return rowErr
		}
	}
	return err
}

// write runs the batch's statements in one transaction and commits it; or, rowByRow, writes each
// chunk a row a statement and rolls the transaction back whatever happens. chunkFailed says that
// err is a chunk's, of rows of several records.
func (b *Batch) write(ctx context.Context, rowByRow bool) (chunkFailed bool, err error) {
	tx, err := b.s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("apply %d records: begin: %w", b.n, err)
	}
	defer func() {
		if err != nil || rowByRow {
			_ = tx.Rollback()
		}
	}()
	stmts := map[*sql.Stmt]*sql.Stmt{} // the transaction's copy of each prepared statement
	txStmt := func(stmt *sql.Stmt) *sql.Stmt {
		ts, ok := stmts[stmt]
		if !ok {
			ts = tx.StmtContext(ctx, stmt)
			stmts[stmt] = ts
		}
		return ts
	}
	for _, o := range b.ops {
		if rowByRow && o.records != nil {
			w := o.rows.width
			for i, r := range o.records {
				if _, err := txStmt(o.rows.bySize[single]).ExecContext(ctx, o.args[i*w:(i+1)*w]...); err != nil {
					return false, b.fail(r, err)
				}
			}
			continue
		}
		if _, err := txStmt(o.stmt).ExecContext(ctx, o.args...); err != nil {
			if o.records != nil {
				return true, b.failChunk(o, err)
			}
			return false, b.fail(o.record, err)
		}
	}
	if rowByRow {
		return false, nil
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("apply %d records: commit: %w", b.n, err)
	}
	return false, nil
}

// fail says which record of the batch err is about.
func (b *Batch) fail(record int, err error) error {
	return fmt.Errorf("apply %s (record %d of %d): %w", relay.DescribeRecord(b.records[record]), record+1, b.n, err)
}

// failChunk says which records the rows of the chunk that failed with err are of.
func (b *Batch) failChunk(o op, err error) error {
	var recs []string
	for i, r := range o.records {
		if i == 0 || r != o.records[i-1] {
			recs = append(recs, strconv.Itoa(r+1))
		}
	}
	return fmt.Errorf("apply %d rows of %s in one statement, of records %s of %d: %w",
		len(o.records), o.rows.table, strings.Join(recs, ", "), b.n, err)
}

// applier encodes records into the statements of a Batch. A record's rows of a rowsStmt wait in
// a run, with the batch's other rows of the same kind, until a statement of another kind writes
// their table, a statement of a record's own is next (it may write any table), or the batch
// ends: then they become chunks. Each table is written in the batch's order, which is what
// decides what it holds; tables do not touch each other (no triggers, no foreign keys), so the
// order among them does not matter.
type applier struct {
	b      *Batch
	record int   // the index of the record being encoded
	runs   []run // a run for each table that has rows waiting
}

// run is rows of one kind waiting to become chunks.
type run struct {
	rows    *rowsStmt
	args    []any
	records []int // each row's record
}

// exec adds a record's statement of its own, after every row waiting.
func (a *applier) exec(stmt *sql.Stmt, args ...any) {
	a.flush()
	a.b.ops = append(a.b.ops, op{stmt: stmt, args: args, record: a.record})
}

// row adds a row of rs's kind, after the rows of its table waiting.
func (a *applier) row(rs *rowsStmt, args ...any) {
	for i := range a.runs {
		r := &a.runs[i]
		if r.rows.table != rs.table {
			continue
		}
		if r.rows != rs {
			a.chunk(r)
			r.rows = rs
		}
		r.args = append(r.args, args...)
		r.records = append(r.records, a.record)
		return
	}
	// A copy of args, so that they need not escape: the caller's slice stays on its stack.
	a.runs = append(a.runs, run{rows: rs, args: append(make([]any, 0, 16*rs.width), args...), records: []int{a.record}})
}

// flush makes the rows waiting into chunks.
func (a *applier) flush() {
	for i := range a.runs {
		a.chunk(&a.runs[i])
	}
	a.runs = a.runs[:0]
}

// chunk makes r's rows into statements of chunkSizes rows, largest first, and empties r.
func (a *applier) chunk(r *run) {
	w, n := r.rows.width, len(r.records)
	for i, k := 0, 0; i < n; {
		for chunkSizes[k] > min(n-i, r.rows.most) {
			k++
		}
		size := chunkSizes[k]
		o := op{stmt: r.rows.bySize[k], args: r.args[i*w : (i+size)*w : (i+size)*w], record: r.records[i], rows: r.rows}
		if recs := r.records[i : i+size]; recs[0] != recs[size-1] { // records are in order
			o.records = recs
		}
		a.b.ops = append(a.b.ops, o)
		i += size
	}
	r.args, r.records = nil, nil
}

// apply encodes one record into the batch's statements. It fails only on a record the store cannot
// encode (a time out of range, a value that does not marshal, a record type it does not know):
// statements fail when the batch is committed.
func (a *applier) apply(st *statements, r relay.Record) error {
	switch r := r.(type) {
	case relay.PutApp:
		app := r.App
		templates, err := storecol.Templates(app.PushTemplates)
		if err != nil {
			return err
		}
		a.exec(st.putApp, u64(app.SDKAppID), app.Name, app.SecretKey.Reveal(), string(app.LoginPolicy),
			app.Caps.PerMinute, app.Caps.PerHour, app.Caps.Burst, int64(app.Caps.Refill), app.DefaultLocale, templates)
	case relay.DeleteApp:
		for _, stmt := range st.deleteApp {
			a.exec(stmt, u64(r.SDKAppID))
		}
	case relay.PutCertificate:
		c := r.Cert
		since, checkedAt, err := storecol.CertificateTimes(c)
		if err != nil {
			return err
		}
		a.exec(st.putCert, c.ID, u64(c.SDKAppID), c.Platform, c.PackageName, c.SenderID,
			c.ServiceAccount.Reveal(), c.ServerKey.Reveal(), c.Endpoint, c.Status.Misconfigured, c.Status.Reason, since,
			c.Check.Status, c.Check.Error, checkedAt, c.ChannelID)
	case relay.DeleteCertificate:
		a.exec(st.deleteCert, r.ID)
	case relay.PutSession:
		ss := r.Session
		cols, err := storecol.Session(ss)
		if err != nil {
			return err
		}
		a.row(&st.putSession, u64(ss.Key.SDKAppID), ss.Key.UserID, ss.Key.DeviceID, ss.Platform, cols.LoginAt,
			ss.Unread, cols.Held, cols.Caps, ss.LoggedOut, ss.Locale)
	case relay.DeleteSession:
		a.exec(st.deleteSession, u64(r.Key.SDKAppID), r.Key.UserID, r.Key.DeviceID)
	case relay.PutBinding:
		// A token belongs to one device: the binding takes it from any other (relay.MemoryStore).
		b := r.Binding
		a.exec(st.deleteTokenBindings, u64(b.Key.SDKAppID), b.Token, b.Key.UserID, b.Key.DeviceID)
		a.exec(st.putBinding, u64(b.Key.SDKAppID), b.Key.UserID, b.Key.DeviceID, b.CertificateID, b.Token)
	case relay.DeleteBinding:
		a.exec(st.deleteBinding, u64(r.Key.SDKAppID), r.Key.UserID, r.Key.DeviceID)
	case relay.PutMessage:
		m := r.Msg
		po := m.PushOptions()
		at, err := storecol.Nanos(m.Time)
		if err != nil {
			return fmt.Errorf("message time: %w", err)
		}
		// No inboxes row: the message itself gives its user a key in State.Messages, and a
		// user's messages leave only by TrimInbox, which makes the row, or with the app.
		a.row(&st.putMessage, u64(r.User.SDKAppID), r.User.UserID, u64(m.Seq), m.ID, m.From, m.FromDevice,
			m.Conv, m.Group, m.Text, at, po.Title, po.Desc, po.Ext, po.Disable, m.Nickname,
			po.Android.ChannelID, po.Android.Sound, po.Android.ClickAction, po.Silent)
	case relay.TrimInbox:
		a.exec(st.addInbox, u64(r.User.SDKAppID), r.User.UserID)
		trim := st.trimLow
		if r.Through > math.MaxInt64 {
			trim = st.trimHigh
		}
		a.exec(trim, u64(r.User.SDKAppID), r.User.UserID, u64(r.Through))
	case relay.PutGroup:
		g := r.Group
		members, err := storecol.Strings(g.Members)
		if err != nil {
			return fmt.Errorf("members: %w", err)
		}
		a.exec(st.putGroup, u64(g.SDKAppID), g.ID, members, g.Name)
	case relay.PutReceiveOpt:
		a.exec(st.addOptUser, u64(r.User.SDKAppID), r.User.UserID)
		if r.Opt == relay.ReceiveAll {
			a.exec(st.deleteOpt, u64(r.User.SDKAppID), r.User.UserID, r.Conv)
		} else {
			a.exec(st.putOpt, u64(r.User.SDKAppID), r.User.UserID, r.Conv, r.Opt)
		}
	case relay.PutPush:
		p := r.Push.Push
		cols, err := storecol.Push(r.Push)
		if err != nil {
			return err
		}
		a.row(&st.putPush, u64(p.ID), u64(p.Device.SDKAppID), p.Device.UserID, p.Device.DeviceID,
			p.CertificateID, p.Token, p.Title, p.Body, cols.Data, p.CollapseKey, int64(p.TTL), p.NotificationCount,
			cols.Seqs, p.Attempt, cols.NotBefore, p.ChannelID, p.Sound, p.ClickAction, p.Silent)
	case relay.DeletePush:
		a.row(&st.deletePush, u64(r.ID))
	case relay.PutCounter:
		a.row(&st.putCounter, r.Name, u64(r.Value))
	case relay.PutPushSettings:
		if r.Settings.IsDefault() {
			a.exec(st.deletePushSettings, u64(r.User.SDKAppID), r.User.UserID)
		} else {
			a.exec(st.putPushSettings, u64(r.User.SDKAppID), r.User.UserID, r.Settings.Enabled)
		}
	case relay.PutProfile:
		p := r.Profile
		if p.Nickname == "" {
			a.exec(st.deleteProfile, u64(p.SDKAppID), p.UserID)
		} else {
			a.exec(st.putProfile, u64(p.SDKAppID), p.UserID, p.Nickname)
		}
	case relay.AppendTrace:
		for i, e := range r.Entries {
			if err := a.appendTrace(st, e); err != nil {
				return fmt.Errorf("trace entry %d of %d: %w", i+1, len(r.Entries), err)
			}
		}
	default:
		return fmt.Errorf("unknown record type %T: the sqlite store does not know how to persist it", r)
	}
	return nil
}
