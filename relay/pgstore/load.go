package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/internal/storecol"
)

// Load returns the state the records so far describe, read in one read-only, repeatable-read
// transaction (one snapshot, however many Applys run meanwhile) whose SELECTs travel as one
// batch, ordered by relay.State.Sort.
func (s *Store) Load(ctx context.Context) (st *relay.State, err error) {
	st = &relay.State{
		Messages:     map[relay.UserKey][]relay.StoredMsg{},
		ReceiveOpts:  map[relay.UserKey]map[string]string{},
		Counters:     map[string]uint64{},
		PushSettings: map[relay.UserKey]relay.PushSettings{},
	}
	batch := &pgx.Batch{}
	batch.BeginTx(pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	for _, step := range []struct {
		what, query string
		scan        func(pgx.Rows, *relay.State) error
	}{
		{"apps", `SELECT sdk_app_id, name, secret_key, login_policy, caps_per_minute, caps_per_hour,
			caps_burst, caps_refill_ns, default_locale, push_templates FROM apps`, scanApp},
		{"certificates", `SELECT id, sdk_app_id, platform, package_name, sender_id, service_account, server_key,
			endpoint, misconfigured, reason, since_ns, check_status, check_error, checked_at_ns, channel_id FROM certificates`, scanCertificate},
		{"sessions", `SELECT sdk_app_id, user_id, device_id, platform, login_at_ns, unread, held, caps, logged_out, locale FROM sessions`, scanSession},
		{"bindings", `SELECT sdk_app_id, user_id, device_id, certificate_id, token FROM bindings`, scanBinding},
		{"inboxes", `SELECT sdk_app_id, user_id FROM inboxes`, scanInbox},
		{"messages", `SELECT sdk_app_id, user_id, seq, id, from_user, from_device, conv, group_id, text, time_ns,
			push_title, push_desc, push_ext, push_disable, nickname, push_channel_id, push_sound, push_click_action, push_silent FROM messages`, scanMessage},
		{"groups", `SELECT sdk_app_id, id, members, name FROM chat_groups`, scanGroup},
		{"receive option users", `SELECT sdk_app_id, user_id FROM receive_opt_users`, scanOptUser},
		{"receive options", `SELECT sdk_app_id, user_id, conv, opt FROM receive_opts`, scanOpt},
		{"pushes", `SELECT id, sdk_app_id, user_id, device_id, certificate_id, token, title, body, data,
			collapse_key, ttl_ns, notification_count, seqs, attempt, not_before_ns, channel_id, sound, click_action, silent FROM pushes`, scanPush},
		{"counters", `SELECT name, value FROM counters`, scanCounter},
		{"push settings", `SELECT sdk_app_id, user_id, enabled FROM push_settings`, scanPushSettings},
		{"profiles", `SELECT sdk_app_id, user_id, nickname FROM profiles`, scanProfile},
	} {
		batch.Queue(step.query).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				if err := step.scan(rows, st); err != nil {
					return fmt.Errorf("load %s: %w", step.what, err)
				}
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("load %s: %w", step.what, err)
			}
			return nil
		})
	}
	br := s.pool.SendBatch(ctx, batch)
	defer func() { _ = br.Tx().Rollback(ctx) }() // read only: nothing to commit
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	st.Sort()
	return st, nil
}

func scanApp(rows pgx.Rows, st *relay.State) error {
	var a relay.AppConfig
	var id, refill int64
	var name, key, policy, locale []byte
	var templates string
	if err := rows.Scan(&id, &name, &key, &policy, &a.Caps.PerMinute, &a.Caps.PerHour, &a.Caps.Burst, &refill, &locale, &templates); err != nil {
		return err
	}
	var err error
	if a.PushTemplates, err = storecol.ParseTemplates(templates); err != nil {
		return fmt.Errorf("app %d: push templates: %w", uint64(id), err)
	}
	a.DefaultLocale = string(locale)
	a.SDKAppID, a.Name, a.SecretKey, a.LoginPolicy, a.Caps.Refill = uint64(id), string(name), secret.New(string(key)),
		relay.LoginPolicy(policy), duration.Duration(refill)
	st.Apps = append(st.Apps, a)
	return nil
}

func scanCertificate(rows pgx.Rows, st *relay.State) error {
	var c relay.Certificate
	var app int64
	var platform, pkg, sender, account, key, endpoint, reason, checkStatus, checkError, channel []byte
	var since, checkedAt *int64
	if err := rows.Scan(&c.ID, &app, &platform, &pkg, &sender, &account, &key, &endpoint,
		&c.Status.Misconfigured, &reason, &since, &checkStatus, &checkError, &checkedAt, &channel); err != nil {
		return err
	}
	c.ChannelID = string(channel)
	c.SDKAppID, c.Platform, c.PackageName, c.SenderID = uint64(app), string(platform), string(pkg), string(sender)
	c.ServiceAccount, c.ServerKey, c.Endpoint = secret.New(string(account)), secret.New(string(key)), string(endpoint)
	c.Status.Reason, c.Status.Since = string(reason), storecol.Time(since)
	c.Check.Status, c.Check.Error, c.Check.CheckedAt = string(checkStatus), string(checkError), storecol.Time(checkedAt)
	st.Certificates = append(st.Certificates, c)
	return nil
}

func scanSession(rows pgx.Rows, st *relay.State) error {
	var ss relay.SessionState
	var app int64
	var user, dev, platform, locale []byte
	var loginAt *int64
	var held string
	var caps *string
	if err := rows.Scan(&app, &user, &dev, &platform, &loginAt, &ss.Unread, &held, &caps, &ss.LoggedOut, &locale); err != nil {
		return err
	}
	ss.Locale = string(locale)
	ss.Key = relay.DeviceKey{SDKAppID: uint64(app), UserID: string(user), DeviceID: string(dev)}
	ss.Platform, ss.LoginAt = string(platform), storecol.Time(loginAt)
	if err := json.Unmarshal([]byte(held), &ss.Held); err != nil {
		return fmt.Errorf("session %v: held: %w", ss.Key, err)
	}
	var err error
	if ss.Caps, err = storecol.ParseCaps(caps); err != nil {
		return fmt.Errorf("session %v: caps: %w", ss.Key, err)
	}
	st.Sessions = append(st.Sessions, ss)
	return nil
}

func scanBinding(rows pgx.Rows, st *relay.State) error {
	var bd relay.Binding
	var app int64
	var user, dev, token []byte
	if err := rows.Scan(&app, &user, &dev, &bd.CertificateID, &token); err != nil {
		return err
	}
	bd.Key, bd.Token = relay.DeviceKey{SDKAppID: uint64(app), UserID: string(user), DeviceID: string(dev)}, string(token)
	st.Bindings = append(st.Bindings, bd)
	return nil
}

func scanUserKey(rows pgx.Rows) (relay.UserKey, error) {
	var app int64
	var user []byte
	if err := rows.Scan(&app, &user); err != nil {
		return relay.UserKey{}, err
	}
	return relay.UserKey{SDKAppID: uint64(app), UserID: string(user)}, nil
}

func scanInbox(rows pgx.Rows, st *relay.State) error {
	k, err := scanUserKey(rows)
	if err != nil {
		return err
	}
	st.Messages[k] = nil
	return nil
}

func scanMessage(rows pgx.Rows, st *relay.State) error {
	var m relay.StoredMsg
	var po relay.OfflinePush
	var app, seq int64
	var user, id, from, fromDevice, conv, group, text, title, desc, ext, nickname, channel, sound, click []byte
	var at *int64
	if err := rows.Scan(&app, &user, &seq, &id, &from, &fromDevice, &conv, &group, &text, &at,
		&title, &desc, &ext, &po.Disable, &nickname, &channel, &sound, &click, &po.Silent); err != nil {
		return err
	}
	m.Nickname = string(nickname)
	po.Android = relay.AndroidPush{ChannelID: string(channel), Sound: string(sound), ClickAction: string(click)}
	k := relay.UserKey{SDKAppID: uint64(app), UserID: string(user)}
	m.Seq, m.ID, m.From, m.FromDevice, m.Conv, m.Group, m.Text, m.Time = uint64(seq), string(id), string(from),
		string(fromDevice), string(conv), string(group), string(text), storecol.Time(at)
	po.Title, po.Desc, po.Ext = string(title), string(desc), string(ext)
	m = m.WithPushOptions(po)
	st.Messages[k] = append(st.Messages[k], m)
	return nil
}

func scanGroup(rows pgx.Rows, st *relay.State) error {
	var g relay.Group
	var app int64
	var id, name []byte
	var members string
	if err := rows.Scan(&app, &id, &members, &name); err != nil {
		return err
	}
	g.SDKAppID, g.ID, g.Name = uint64(app), string(id), string(name)
	if err := json.Unmarshal([]byte(members), &g.Members); err != nil {
		return fmt.Errorf("group %d/%s: members: %w", g.SDKAppID, g.ID, err)
	}
	st.Groups = append(st.Groups, g)
	return nil
}

func scanOptUser(rows pgx.Rows, st *relay.State) error {
	k, err := scanUserKey(rows)
	if err != nil {
		return err
	}
	st.ReceiveOpts[k] = map[string]string{}
	return nil
}

func scanOpt(rows pgx.Rows, st *relay.State) error {
	var app int64
	var user, conv, opt []byte
	if err := rows.Scan(&app, &user, &conv, &opt); err != nil {
		return err
	}
	k := relay.UserKey{SDKAppID: uint64(app), UserID: string(user)}
	if st.ReceiveOpts[k] == nil {
		st.ReceiveOpts[k] = map[string]string{}
	}
	st.ReceiveOpts[k][string(conv)] = string(opt)
	return nil
}

func scanPushSettings(rows pgx.Rows, st *relay.State) error {
	var app int64
	var user []byte
	var s relay.PushSettings
	if err := rows.Scan(&app, &user, &s.Enabled); err != nil {
		return err
	}
	st.PushSettings[relay.UserKey{SDKAppID: uint64(app), UserID: string(user)}] = s
	return nil
}

func scanPush(rows pgx.Rows, st *relay.State) error {
	var ps relay.PushState
	p := &ps.Push
	var id, app, ttl int64
	var user, dev, token, title, body, collapseKey, channel, sound, click []byte
	var data, seqs string
	var notBefore *int64
	if err := rows.Scan(&id, &app, &user, &dev, &p.CertificateID, &token, &title, &body, &data, &collapseKey, &ttl,
		&p.NotificationCount, &seqs, &p.Attempt, &notBefore, &channel, &sound, &click, &p.Silent); err != nil {
		return err
	}
	p.ChannelID, p.Sound, p.ClickAction = string(channel), string(sound), string(click)
	p.ID, p.Device, p.TTL, ps.NotBefore = uint64(id), relay.DeviceKey{SDKAppID: uint64(app), UserID: string(user), DeviceID: string(dev)},
		duration.Duration(ttl), storecol.Time(notBefore)
	p.Token, p.Title, p.Body, p.CollapseKey = string(token), string(title), string(body), string(collapseKey)
	if err := json.Unmarshal([]byte(data), &p.Data); err != nil {
		return fmt.Errorf("push %d: data: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(seqs), &p.Seqs); err != nil {
		return fmt.Errorf("push %d: seqs: %w", p.ID, err)
	}
	st.Pushes = append(st.Pushes, ps)
	return nil
}

func scanCounter(rows pgx.Rows, st *relay.State) error {
	var name []byte
	var v int64
	if err := rows.Scan(&name, &v); err != nil {
		return err
	}
	st.Counters[string(name)] = uint64(v)
	return nil
}

func scanProfile(rows pgx.Rows, st *relay.State) error {
	var app int64
	var user, nickname []byte
	if err := rows.Scan(&app, &user, &nickname); err != nil {
		return err
	}
	st.Profiles = append(st.Profiles, relay.Profile{SDKAppID: uint64(app), UserID: string(user), Nickname: string(nickname)})
	return nil
}
