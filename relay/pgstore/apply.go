package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/internal/storecol"
)

// The statements Apply queues. pgx prepares each once per connection (its statement cache) and
// reuses it.
var (
	putApp = upsert("apps", 1, "sdk_app_id", "name", "secret_key", "login_policy",
		"caps_per_minute", "caps_per_hour", "caps_burst", "caps_refill_ns", "default_locale", "push_templates")
	putCert = upsert("certificates", 1, "id", "sdk_app_id", "platform", "package_name", "sender_id",
		"service_account", "server_key", "endpoint", "misconfigured", "reason", "since_ns", "check_status", "check_error", "checked_at_ns",
		"channel_id")
	putSession = upsert("sessions", 3, "sdk_app_id", "user_id", "device_id", "platform", "login_at_ns",
		"unread", "held", "caps", "logged_out", "locale")
	putBinding = upsert("bindings", 3, "sdk_app_id", "user_id", "device_id", "certificate_id", "token")
	putGroup   = upsert("chat_groups", 2, "sdk_app_id", "id", "members", "name")
	putProfile = upsert("profiles", 2, "sdk_app_id", "user_id", "nickname")
	putOpt     = upsert("receive_opts", 3, "sdk_app_id", "user_id", "conv", "opt")
	putPush    = upsert("pushes", 1, "id", "sdk_app_id", "user_id", "device_id", "certificate_id", "token",
		"title", "body", "data", "collapse_key", "ttl_ns", "notification_count", "seqs", "attempt", "not_before_ns",
		"channel_id", "sound", "click_action", "silent")
	putCounter      = upsert("counters", 1, "name", "value")
	putPushSettings = upsert("push_settings", 2, "sdk_app_id", "user_id", "enabled")
)

const (
	deleteCert    = `DELETE FROM certificates WHERE id = $1`
	deleteSession = `DELETE FROM sessions WHERE sdk_app_id = $1 AND user_id = $2 AND device_id = $3`
	deleteBinding = `DELETE FROM bindings WHERE sdk_app_id = $1 AND user_id = $2 AND device_id = $3`
	// deleteTokenBindings frees a token for the device about to be bound to it: in a cluster the
	// device that had it may be another partition's, whose core has not heard of the move.
	deleteTokenBindings = `DELETE FROM bindings WHERE sdk_app_id = $1 AND token = $2 AND NOT (user_id = $3 AND device_id = $4)`
	addInbox            = `INSERT INTO inboxes (sdk_app_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	// A plain INSERT: a second message with the same seq is an error, not a replacement.
	putMessage = `INSERT INTO messages (sdk_app_id, user_id, seq, id, from_user, from_device, conv,
		group_id, text, time_ns, push_title, push_desc, push_ext, push_disable, nickname,
		push_channel_id, push_sound, push_click_action, push_silent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`
	// Seqs are uint64 bit-cast to int64: those at or below a Through under 2^63 are the
	// non-negative ones up to it; at or above 2^63, all the non-negative ones and the negative
	// ones up to it.
	trimLow            = `DELETE FROM messages WHERE sdk_app_id = $1 AND user_id = $2 AND seq BETWEEN 0 AND $3`
	trimHigh           = `DELETE FROM messages WHERE sdk_app_id = $1 AND user_id = $2 AND (seq >= 0 OR seq <= $3)`
	addOptUser         = `INSERT INTO receive_opt_users (sdk_app_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	deleteOpt          = `DELETE FROM receive_opts WHERE sdk_app_id = $1 AND user_id = $2 AND conv = $3`
	deletePush         = `DELETE FROM pushes WHERE id = $1`
	deletePushSettings = `DELETE FROM push_settings WHERE sdk_app_id = $1 AND user_id = $2`
	deleteProfile      = `DELETE FROM profiles WHERE sdk_app_id = $1 AND user_id = $2`
	putTrace           = `INSERT INTO trace (time_ns, sdk_app_id, user_id, device_id, certificate_id, msg_seq, msg_seqs,
		msg_id, reason, push_id, attempt, fcm_name, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
)

// deleteApp removes an app and everything of it, as MemoryStore does: certificates by their
// app, pushes by their device's app, everything else by its key's app.
var deleteApp = func() []string {
	var qs []string
	for _, table := range []string{"apps", "certificates", "sessions", "bindings", "inboxes", "messages",
		"chat_groups", "receive_opt_users", "receive_opts", "pushes", "push_settings", "profiles"} {
		qs = append(qs, "DELETE FROM "+table+" WHERE sdk_app_id = $1")
	}
	return qs
}()

// Apply persists records in one transaction, in order: all of them or, on an error, none. The
// transaction's BEGIN, every statement and their answers travel as one pipelined batch, and the
// COMMIT after it.
func (s *Store) Apply(ctx context.Context, records []relay.Record) error {
	if len(records) == 0 {
		return nil
	}
	return s.apply(ctx, nil, records)
}

// ApplyFenced is Apply for the owner of a partition in the cluster mode: it persists records only
// if epoch is the partition's current lease epoch (LeaseTable), and the check and the writes are
// one transaction. That transaction first takes the partition's lease lock shared and its lease
// row FOR KEY SHARE, so that the owner's concurrent batches, renewals and releases do not wait
// for each other, but an acquisition of the partition (which takes both exclusively) waits until
// the batches in flight are committed, and the batches after it queue behind it: every batch
// accepted is committed before the partition changes hands. Otherwise it fails with an error
// wrapping cluster.ErrFenced, naming the partition, the epoch given and the current one, and
// writes nothing. The locks, the check and the writes still travel as one pipelined batch; a
// refused batch's writes are rolled back with it. With no records it is the check alone.
func (s *Store) ApplyFenced(ctx context.Context, partition int, epoch uint64, records []relay.Record) error {
	return s.apply(ctx, &fence{partition: partition, epoch: epoch}, records)
}

// fence is the lease a fenced batch is written under.
type fence struct {
	partition int
	epoch     uint64
}

// apply persists records in one pipelined transaction, after the fence check if f is not nil.
func (s *Store) apply(ctx context.Context, f *fence, records []relay.Record) (err error) {
	records = relay.CompactRecords(records)
	batch := &pgx.Batch{}
	batch.BeginTx(pgx.TxOptions{})
	if f != nil {
		batch.Queue(lockLeaseShared, leaseLockClass, f.partition)
		batch.Queue(lockEpoch, f.partition)
	}
	var owner []int // the record each queued statement (after BEGIN and the fence) writes
	for i, r := range records {
		n := batch.Len()
		if err := queue(batch, r); err != nil {
			return fmt.Errorf("apply %s (record %d of %d): %w", relay.DescribeRecord(r), i+1, len(records), err)
		}
		for range batch.Len() - n {
			owner = append(owner, i)
		}
	}
	br := s.pool.SendBatch(ctx, batch)
	tx := br.Tx()
	defer func() {
		_ = br.Close()
		if err != nil {
			_ = tx.Rollback(ctx)
		}
	}()
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("apply %d records: begin: %w", len(records), err)
	}
	if f != nil {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("apply %d records: lock the lease: %w", len(records), err)
		}
		var cur int64
		if err := br.QueryRow().Scan(&cur); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("apply %d records: read the lease epoch: %w", len(records), err)
		}
		if err := fenced(f.partition, f.epoch, uint64(cur)); err != nil {
			return fmt.Errorf("apply %d records: %w", len(records), err)
		}
	}
	for _, i := range owner {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("apply %s (record %d of %d): %w", relay.DescribeRecord(records[i]), i+1, len(records), err)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("apply %d records: %w", len(records), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("apply %d records: commit: %w", len(records), err)
	}
	return nil
}

// queue adds the statements that persist r to batch.
func queue(batch *pgx.Batch, r relay.Record) error {
	q := func(sql string, args ...any) { batch.Queue(sql, args...) }
	switch r := r.(type) {
	case relay.PutApp:
		app := r.App
		templates, err := storecol.Templates(app.PushTemplates)
		if err != nil {
			return err
		}
		q(putApp, u64(app.SDKAppID), b(app.Name), b(app.SecretKey.Reveal()), b(string(app.LoginPolicy)),
			app.Caps.PerMinute, app.Caps.PerHour, app.Caps.Burst, int64(app.Caps.Refill), b(app.DefaultLocale), templates)
	case relay.DeleteApp:
		for _, sql := range deleteApp {
			q(sql, u64(r.SDKAppID))
		}
	case relay.PutCertificate:
		c := r.Cert
		since, checkedAt, err := storecol.CertificateTimes(c)
		if err != nil {
			return err
		}
		q(putCert, c.ID, u64(c.SDKAppID), b(c.Platform), b(c.PackageName), b(c.SenderID),
			b(c.ServiceAccount.Reveal()), b(c.ServerKey.Reveal()), b(c.Endpoint), c.Status.Misconfigured, b(c.Status.Reason), since,
			b(c.Check.Status), b(c.Check.Error), checkedAt, b(c.ChannelID))
	case relay.DeleteCertificate:
		q(deleteCert, r.ID)
	case relay.PutSession:
		ss := r.Session
		cols, err := storecol.Session(ss)
		if err != nil {
			return err
		}
		q(putSession, u64(ss.Key.SDKAppID), b(ss.Key.UserID), b(ss.Key.DeviceID), b(ss.Platform), cols.LoginAt,
			ss.Unread, cols.Held, cols.Caps, ss.LoggedOut, b(ss.Locale))
	case relay.DeleteSession:
		q(deleteSession, u64(r.Key.SDKAppID), b(r.Key.UserID), b(r.Key.DeviceID))
	case relay.PutBinding:
		bd := r.Binding
		q(deleteTokenBindings, u64(bd.Key.SDKAppID), b(bd.Token), b(bd.Key.UserID), b(bd.Key.DeviceID))
		q(putBinding, u64(bd.Key.SDKAppID), b(bd.Key.UserID), b(bd.Key.DeviceID), bd.CertificateID, b(bd.Token))
	case relay.DeleteBinding:
		q(deleteBinding, u64(r.Key.SDKAppID), b(r.Key.UserID), b(r.Key.DeviceID))
	case relay.PutMessage:
		m := r.Msg
		po := m.PushOptions()
		at, err := storecol.Nanos(m.Time)
		if err != nil {
			return fmt.Errorf("message time: %w", err)
		}
		q(addInbox, u64(r.User.SDKAppID), b(r.User.UserID))
		q(putMessage, u64(r.User.SDKAppID), b(r.User.UserID), u64(m.Seq), b(m.ID), b(m.From), b(m.FromDevice),
			b(m.Conv), b(m.Group), b(m.Text), at, b(po.Title), b(po.Desc), b(po.Ext), po.Disable, b(m.Nickname),
			b(po.Android.ChannelID), b(po.Android.Sound), b(po.Android.ClickAction), po.Silent)
	case relay.TrimInbox:
		q(addInbox, u64(r.User.SDKAppID), b(r.User.UserID))
		trim := trimLow
		if r.Through > math.MaxInt64 {
			trim = trimHigh
		}
		q(trim, u64(r.User.SDKAppID), b(r.User.UserID), u64(r.Through))
	case relay.PutGroup:
		g := r.Group
		members, err := storecol.Strings(g.Members)
		if err != nil {
			return fmt.Errorf("members: %w", err)
		}
		q(putGroup, u64(g.SDKAppID), b(g.ID), members, b(g.Name))
	case relay.PutReceiveOpt:
		q(addOptUser, u64(r.User.SDKAppID), b(r.User.UserID))
		if r.Opt == relay.ReceiveAll {
			q(deleteOpt, u64(r.User.SDKAppID), b(r.User.UserID), b(r.Conv))
		} else {
			q(putOpt, u64(r.User.SDKAppID), b(r.User.UserID), b(r.Conv), b(r.Opt))
		}
	case relay.PutPush:
		p := r.Push.Push
		cols, err := storecol.Push(r.Push)
		if err != nil {
			return err
		}
		q(putPush, u64(p.ID), u64(p.Device.SDKAppID), b(p.Device.UserID), b(p.Device.DeviceID),
			p.CertificateID, b(p.Token), b(p.Title), b(p.Body), cols.Data, b(p.CollapseKey), int64(p.TTL), p.NotificationCount,
			cols.Seqs, p.Attempt, cols.NotBefore, b(p.ChannelID), b(p.Sound), b(p.ClickAction), p.Silent)
	case relay.DeletePush:
		q(deletePush, u64(r.ID))
	case relay.PutCounter:
		q(putCounter, b(r.Name), u64(r.Value))
	case relay.PutPushSettings:
		if r.Settings.IsDefault() {
			q(deletePushSettings, u64(r.User.SDKAppID), b(r.User.UserID))
		} else {
			q(putPushSettings, u64(r.User.SDKAppID), b(r.User.UserID), r.Settings.Enabled)
		}
	case relay.PutProfile:
		p := r.Profile
		if p.Nickname == "" {
			q(deleteProfile, u64(p.SDKAppID), b(p.UserID))
		} else {
			q(putProfile, u64(p.SDKAppID), b(p.UserID), b(p.Nickname))
		}
	case relay.AppendTrace:
		for i, e := range r.Entries {
			args, err := traceArgs(e)
			if err != nil {
				return fmt.Errorf("trace entry %d of %d: %w", i+1, len(r.Entries), err)
			}
			q(putTrace, args...)
		}
	default:
		return fmt.Errorf("unknown record type %T: the postgres store does not know how to persist it", r)
	}
	return nil
}

// traceArgs are the values putTrace writes for one push-trace entry.
func traceArgs(e relay.TraceEntry) ([]any, error) {
	if e.Time.IsZero() {
		return nil, errors.New("no time: the trace is ordered by time")
	}
	at, err := storecol.Nanos(e.Time)
	if err != nil {
		return nil, err
	}
	seqs, err := storecol.TraceSeqs(e.Seqs)
	if err != nil {
		return nil, fmt.Errorf("seqs: %w", err)
	}
	return []any{at, u64(e.SDKAppID), b(e.UserID), b(e.DeviceID), e.CertificateID, u64(e.Seq), seqs,
		b(e.MsgID), b(e.Reason), u64(e.PushID), e.Attempt, b(e.FCMName), b(e.Detail)}, nil
}
