package oracle

import "github.com/pushlab/pushlab/relay"

// A phone shared by several users in turn (sim.Device.SwitchUser) keeps its app's FCM token and
// may keep its connection: the oracle follows the token to the (user, device) that reported it
// last, and a connection to the user who logged in on it last.

// appToken is a token within its app: the relay keeps one binding per (app, token).
type appToken struct {
	app   uint64
	token string
}

// reported notes that the relay accepted d's report of token. A token another (user, device)
// reported while still logged in and bound to it moves (the previous user's logout was lost).
func (m *model) reported(d *device, token string) {
	k := appToken{d.key.SDKAppID, token}
	if prev, ok := m.reporters[k]; ok && prev != d.key {
		if o := m.devs[prev]; o != nil && o.loggedIn && o.token == token {
			m.reach.TokenMoved++
		}
	}
	m.reporters[k] = d.key
}

// loginSwitches handles a login the relay accepted on a connection that was another (user,
// device)'s — a phone that changed hands keeps its connection. If the first was still logged in
// on it, the relay ended that login as it accepted the new one; the connection is the new
// device's from then on. It returns the new device (nil if the oracle was not told of it) and
// whether the connection changed hands.
func (m *model) loginSwitches(id relay.ConnID, c *conn, req relay.ClientFrame) (*device, bool) {
	k := relay.DeviceKey{SDKAppID: req.SDKAppID, UserID: req.UserID, DeviceID: req.DeviceID}
	if k == c.dev.key {
		return c.dev, false
	}
	if old := c.dev; old.loggedIn && old.conn == id {
		m.end(old, relay.ReasonLoggedOut)
	}
	c.dev = m.devs[k]
	return c.dev, true
}

// invariantOneUserPerToken: a token is bound to the (user, device) that reported it last; a push
// the relay decides, or that reaches FCM, on a token is for that one alone.
func (m *model) invariantOneUserPerToken(p relay.Push, what string) {
	last, ok := m.reporters[appToken{p.Device.SDKAppID, p.Token}]
	if !ok || last == p.Device {
		return
	}
	m.violate(OneUserPerToken, p.Device.DeviceID, "push %d (attempt %d) %s for %s on %s, on token %.12s…, which %s on %s reported last",
		p.ID, p.Attempt, what, p.Device.UserID, p.Device.DeviceID, p.Token, last.UserID, last.DeviceID)
}
