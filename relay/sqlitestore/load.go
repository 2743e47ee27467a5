package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/internal/storecol"
)

// Load returns the state the records so far describe, read in one transaction, ordered
// by relay.State.Sort.
func (s *Store) Load(ctx context.Context) (st *relay.State, err error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("load: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read only: nothing to commit
	st = &relay.State{
		Messages:     map[relay.UserKey][]relay.StoredMsg{},
		ReceiveOpts:  map[relay.UserKey]map[string]string{},
		Counters:     map[string]uint64{},
		PushSettings: map[relay.UserKey]relay.PushSettings{},
	}
	l := loader{ctx: ctx, tx: tx}
	for _, step := range []struct {
		what string
		load func(*relay.State) error
	}{
		{"apps", l.apps}, {"certificates", l.certificates}, {"sessions", l.sessions}, {"bindings", l.bindings},
		{"messages", l.messages}, {"groups", l.groups}, {"receive options", l.receiveOpts}, {"pushes", l.pushes},
		{"counters", l.counters}, {"push settings", l.pushSettings}, {"profiles", l.profiles},
	} {
		if err := step.load(st); err != nil {
			return nil, fmt.Errorf("load %s: %w", step.what, err)
		}
	}
	st.Sort()
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
	return l.each(`SELECT sdk_app_id, name, secret_key, login_policy, caps_per_minute, caps_per_hour,
		caps_burst, caps_refill_ns, default_locale, push_templates FROM apps`, func(rows *sql.Rows) error {
		var a relay.AppConfig
		var id, refill int64
		var key, policy, templates string
		if err := rows.Scan(&id, &a.Name, &key, &policy, &a.Caps.PerMinute, &a.Caps.PerHour, &a.Caps.Burst, &refill,
			&a.DefaultLocale, &templates); err != nil {
			return err
		}
		var err error
		if a.PushTemplates, err = storecol.ParseTemplates(templates); err != nil {
			return fmt.Errorf("app %d: push templates: %w", uint64(id), err)
		}
		a.SDKAppID, a.SecretKey, a.LoginPolicy, a.Caps.Refill = uint64(id), secret.New(key), relay.LoginPolicy(policy), duration.Duration(refill)
		st.Apps = append(st.Apps, a)
		return nil
	})
}

func (l loader) certificates(st *relay.State) error {
	return l.each(`SELECT id, sdk_app_id, platform, package_name, sender_id, service_account, server_key,
		endpoint, misconfigured, reason, since_ns, check_status, check_error, checked_at_ns, channel_id FROM certificates`, func(rows *sql.Rows) error {
		var c relay.Certificate
		var app int64
		var account, key string
		var since, checkedAt *int64
		if err := rows.Scan(&c.ID, &app, &c.Platform, &c.PackageName, &c.SenderID, &account, &key, &c.Endpoint,
			&c.Status.Misconfigured, &c.Status.Reason, &since, &c.Check.Status, &c.Check.Error, &checkedAt, &c.ChannelID); err != nil {
			return err
		}
		c.SDKAppID, c.ServiceAccount, c.ServerKey, c.Status.Since = uint64(app), secret.New(account), secret.New(key), storecol.Time(since)
		c.Check.CheckedAt = storecol.Time(checkedAt)
		st.Certificates = append(st.Certificates, c)
		return nil
	})
}

func (l loader) sessions(st *relay.State) error {
	return l.each(`SELECT sdk_app_id, user_id, device_id, platform, login_at_ns, unread, held, caps, logged_out, locale FROM sessions`,
		func(rows *sql.Rows) error {
			var ss relay.SessionState
			var app int64
			var loginAt *int64
			var held string
			var caps *string
			if err := rows.Scan(&app, &ss.Key.UserID, &ss.Key.DeviceID, &ss.Platform, &loginAt, &ss.Unread, &held, &caps, &ss.LoggedOut, &ss.Locale); err != nil {
				return err
			}
			ss.Key.SDKAppID, ss.LoginAt = uint64(app), storecol.Time(loginAt)
			if err := json.Unmarshal([]byte(held), &ss.Held); err != nil {
				return fmt.Errorf("session %v: held: %w", ss.Key, err)
			}
			var err error
			if ss.Caps, err = storecol.ParseCaps(caps); err != nil {
				return fmt.Errorf("session %v: caps: %w", ss.Key, err)
			}
			st.Sessions = append(st.Sessions, ss)
			return nil
		})
}

func (l loader) bindings(st *relay.State) error {
	return l.each(`SELECT sdk_app_id, user_id, device_id, certificate_id, token FROM bindings`, func(rows *sql.Rows) error {
		var b relay.Binding
		var app int64
		if err := rows.Scan(&app, &b.Key.UserID, &b.Key.DeviceID, &b.CertificateID, &b.Token); err != nil {
			return err
		}
		b.Key.SDKAppID = uint64(app)
		st.Bindings = append(st.Bindings, b)
		return nil
	})
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
	return l.each(`SELECT sdk_app_id, user_id, seq, id, from_user, from_device, conv, group_id, text, time_ns,
		push_title, push_desc, push_ext, push_disable, nickname, push_channel_id, push_sound, push_click_action, push_silent FROM messages`, func(rows *sql.Rows) error {
		var k relay.UserKey
		var m relay.StoredMsg
		var po relay.OfflinePush
		var app, seq int64
		var at *int64
		if err := rows.Scan(&app, &k.UserID, &seq, &m.ID, &m.From, &m.FromDevice, &m.Conv, &m.Group, &m.Text, &at,
			&po.Title, &po.Desc, &po.Ext, &po.Disable, &m.Nickname,
			&po.Android.ChannelID, &po.Android.Sound, &po.Android.ClickAction, &po.Silent); err != nil {
			return err
		}
		k.SDKAppID, m.Seq, m.Time = uint64(app), uint64(seq), storecol.Time(at)
		st.Messages[k] = append(st.Messages[k], m.WithPushOptions(po))
		return nil
	})
}

func (l loader) groups(st *relay.State) error {
	return l.each(`SELECT sdk_app_id, id, members, name FROM chat_groups`, func(rows *sql.Rows) error {
		var g relay.Group
		var app int64
		var members string
		if err := rows.Scan(&app, &g.ID, &members, &g.Name); err != nil {
			return err
		}
		g.SDKAppID = uint64(app)
		if err := json.Unmarshal([]byte(members), &g.Members); err != nil {
			return fmt.Errorf("group %d/%s: members: %w", g.SDKAppID, g.ID, err)
		}
		st.Groups = append(st.Groups, g)
		return nil
	})
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

func (l loader) pushSettings(st *relay.State) error {
	return l.each(`SELECT sdk_app_id, user_id, enabled FROM push_settings`, func(rows *sql.Rows) error {
		var k relay.UserKey
		var app int64
		var s relay.PushSettings
		if err := rows.Scan(&app, &k.UserID, &s.Enabled); err != nil {
			return err
		}
		k.SDKAppID = uint64(app)
		st.PushSettings[k] = s
		return nil
	})
}

func (l loader) pushes(st *relay.State) error {
	return l.each(`SELECT id, sdk_app_id, user_id, device_id, certificate_id, token, title, body, data,
		collapse_key, ttl_ns, notification_count, seqs, attempt, not_before_ns, channel_id, sound, click_action, silent FROM pushes`, func(rows *sql.Rows) error {
		var ps relay.PushState
		p := &ps.Push
		var id, app, ttl int64
		var data, seqs string
		var notBefore *int64
		if err := rows.Scan(&id, &app, &p.Device.UserID, &p.Device.DeviceID, &p.CertificateID, &p.Token, &p.Title,
			&p.Body, &data, &p.CollapseKey, &ttl, &p.NotificationCount, &seqs, &p.Attempt, &notBefore,
			&p.ChannelID, &p.Sound, &p.ClickAction, &p.Silent); err != nil {
			return err
		}
		p.ID, p.Device.SDKAppID, p.TTL, ps.NotBefore = uint64(id), uint64(app), duration.Duration(ttl), storecol.Time(notBefore)
		if err := json.Unmarshal([]byte(data), &p.Data); err != nil {
			return fmt.Errorf("push %d: data: %w", p.ID, err)
		}
		if err := json.Unmarshal([]byte(seqs), &p.Seqs); err != nil {
			return fmt.Errorf("push %d: seqs: %w", p.ID, err)
		}
		st.Pushes = append(st.Pushes, ps)
		return nil
	})
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

func (l loader) profiles(st *relay.State) error {
	return l.each(`SELECT sdk_app_id, user_id, nickname FROM profiles`, func(rows *sql.Rows) error {
		var p relay.Profile
		var app int64
		if err := rows.Scan(&app, &p.UserID, &p.Nickname); err != nil {
			return err
		}
		p.SDKAppID = uint64(app)
		st.Profiles = append(st.Profiles, p)
		return nil
	})
}
