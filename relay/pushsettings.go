package relay

import "time"

// pushSettings are a user's push settings.
func (u *user) pushSettings() PushSettings { return PushSettings{Enabled: !u.pushesOff} }

// setPushSettings changes a user's push settings. Turning pushes off also drops what was on its
// way to the user's devices: held messages waiting for a summary push and unfinished pushes (a
// retry waiting out its backoff, or a push not yet handed to FCM) are cancelled, traced
// user-disabled. Turning pushes on pushes nothing of what came while they were off: those
// messages were decided (user-disabled) when they came, and the app syncs them.
func (c *Core) setPushSettings(u *user, s PushSettings) {
	if u.pushSettings() == s {
		return
	}
	u.pushesOff = !s.Enabled
	c.record(PutPushSettings{User: u.key, Settings: s})
	if s.Enabled {
		return
	}
	for _, d := range u.devices {
		c.cancelHeld(d, ReasonUserDisabled, "the user turned pushes off")
		c.cancelPushes(d, ReasonUserDisabled, "the user turned pushes off")
	}
}

// pushSettingsReply answers a setPushSettings or getPushSettings request with the user's
// settings.
func (c *Core) pushSettingsReply(cn *conn, id int64, u *user) {
	s := u.pushSettings()
	c.frame(cn.id, ServerFrame{Op: OpReply, ID: id, Code: OK, PushSettings: &s})
}

// SetPushSettings sets a user's push settings, as the administrator does (the app does it with
// the setPushSettings op), and returns them. The user need not have logged in yet: the settings
// apply from its first login on. In a partitioned core the user must be of this partition.
func (c *Core) SetPushSettings(now time.Time, sdkAppID uint64, userID string, s PushSettings) (PushSettings, error) {
	c.observe(now)
	k, err := c.adminUser(sdkAppID, userID)
	if err != nil {
		return PushSettings{}, err
	}
	u := c.user(k)
	c.setPushSettings(u, s)
	return u.pushSettings(), nil
}

// PushSettings returns a user's push settings: the default (pushes on) for a user the relay has
// not heard of.
func (c *Core) PushSettings(sdkAppID uint64, userID string) (PushSettings, error) {
	k, err := c.adminUser(sdkAppID, userID)
	if err != nil {
		return PushSettings{}, err
	}
	if u, ok := c.users[k]; ok {
		return u.pushSettings(), nil
	}
	return PushSettings{Enabled: true}, nil
}
