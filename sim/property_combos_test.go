package sim_test

import (
	"slices"
	"time"

	"pgregory.net/rapid"
)

// The property's composite actions: short sequences of the single actions that put the push
// rule's exceptions, the retry budget's edge, half-open connections and the caps across logins
// and restarts to the test. Drawn one action at a time, these combinations come up too rarely
// for the properties to find a slip in them at CI depth; each composite draws one whole. Every
// step still goes through apply, so a counterexample writes them out as scenario steps.

// combos are the composite actions, keyed as in actions(). One key each is enough: at CI depth
// (200 checks of about 30 actions, some 70 keys) each is drawn about 80 times.
func (p *propRun) combos(text func() string) map[string]func(*rapid.T) {
	out := map[string]func(*rapid.T){}
	// An online-only and a push-disabled message for a killed, logged-in, bound device: neither
	// may be pushed.
	out["killedGetsOnlineOnlyAndNoPush"] = func(t *rapid.T) {
		victim := p.drawDevice(t)
		from := p.drawOtherUsersDevice(t, victim)
		p.up(from)
		p.killLoggedIn(victim)
		kinds := []string{"sendOnlineOnly", "sendNoPush"}
		if rapid.Bool().Draw(t, "push-disabled first") {
			slices.Reverse(kinds)
		}
		for _, k := range kinds {
			p.apply(act{Kind: k, Dev: from, To: p.userOf(victim), Text: text()})
		}
		p.wait(time.Second)
	}
	// A user mutes a conversation, its device is killed and a message comes in it (not
	// pushed); then, at times, the user unmutes it and the next message is pushed.
	out["muteThenSendToKilled"] = func(t *rapid.T) {
		victim := p.drawDevice(t)
		from := p.drawOtherUsersDevice(t, victim)
		conv := p.userOf(from)
		group := slices.Contains(p.spec.Group, p.spec.Devices[victim].User) && slices.Contains(p.spec.Group, p.spec.Devices[from].User) &&
			rapid.Bool().Draw(t, "group conversation")
		if group {
			conv = len(p.spec.Users)
		}
		send := func() {
			if group {
				p.apply(act{Kind: "sendGroup", Dev: from, Text: text()})
			} else {
				p.apply(act{Kind: "send", Dev: from, To: p.userOf(victim), Text: text()})
			}
			p.wait(time.Second)
		}
		p.up(from)
		p.up(victim)
		p.wait(time.Second)
		p.apply(act{Kind: "mute", Dev: victim, To: conv})
		p.killLoggedIn(victim)
		send()
		if rapid.Bool().Draw(t, "then unmute") {
			p.up(victim)
			p.wait(time.Second)
			p.apply(act{Kind: "unmute", Dev: victim, To: conv})
			p.killLoggedIn(victim)
			send()
		}
	}
	// A user turns pushes off (from the app on the device, or by the administrator), the device
	// is killed and messages come (none pushed; the app syncs them later); at times the user
	// turns pushes on again and the next message is pushed, none of the earlier ones.
	out["pushesOffThenSendToKilled"] = func(t *rapid.T) {
		victim := p.drawDevice(t)
		from := p.drawOtherUsersDevice(t, victim)
		byApp := rapid.Bool().Draw(t, "from the app")
		set := func(on bool) {
			kind := map[bool]string{true: "pushesOn", false: "pushesOff"}[on]
			if byApp {
				p.up(victim)
				p.wait(time.Second)
				p.apply(act{Kind: kind + "App", Dev: victim})
			} else {
				p.apply(act{Kind: kind, To: p.userOf(victim)})
			}
			p.wait(time.Second)
		}
		send := func() {
			p.apply(act{Kind: "send", Dev: from, To: p.userOf(victim), Text: text()})
			p.wait(time.Second)
		}
		p.up(from)
		set(false)
		p.killLoggedIn(victim)
		for range rapid.IntRange(1, 3).Draw(t, "messages") {
			send()
		}
		if rapid.Bool().Draw(t, "then on again") {
			set(true)
			p.killLoggedIn(victim)
			send()
		}
	}
	// FCM answers a killed device's pushes with Retry-After (429, or 503 with the header) a few
	// times; the wait lets every retry go, none before its Retry-After.
	out["retryAfterToKilled"] = func(t *rapid.T) {
		victim := p.drawDevice(t)
		from := p.drawOtherUsersDevice(t, victim)
		p.up(from)
		p.killLoggedIn(victim)
		p.apply(act{Kind: rapid.SampledFrom([]string{"fault429Dev", "fault503Dev"}).Draw(t, "fault"), Dev: victim,
			N: rapid.IntRange(1, 3).Draw(t, "count"),
			D: rapid.SampledFrom([]time.Duration{time.Second, 20 * time.Second, 2 * time.Minute}).Draw(t, "retryAfter")})
		for range rapid.IntRange(1, 2).Draw(t, "messages") {
			p.apply(act{Kind: "send", Dev: from, To: p.userOf(victim), Text: text()})
		}
		p.wait(15 * time.Minute)
	}
	// The retry budget's edge: a 503 storm of maxAttempts-1, maxAttempts or maxAttempts+1
	// answers for a killed device's push — it goes through on its last attempt, or is given up
	// after it, never sent once more.
	out["stormAtTheBudget"] = func(t *rapid.T) {
		victim := p.drawDevice(t)
		from := p.drawOtherUsersDevice(t, victim)
		p.up(from)
		p.killLoggedIn(victim)
		n := p.sc.Relay.Effective().Retry.MaxAttempts + rapid.IntRange(-1, 1).Draw(t, "storm past the budget")
		p.apply(act{Kind: "fault503Dev", Dev: victim, N: n})
		p.apply(act{Kind: "send", Dev: from, To: p.userOf(victim), Text: text()})
		p.wait(20 * time.Minute)
	}
	// A half-open connection with traffic waiting: the phone loses its network (the relay still
	// sees it connected and writes to it), messages come, and the wait passes the relay's
	// heartbeat deadline: the relay must close the connection and push what it swallowed.
	out["halfOpenWithTraffic"] = func(t *rapid.T) {
		victim := p.drawDevice(t)
		from := p.drawOtherUsersDevice(t, victim)
		p.up(from)
		p.up(victim)
		p.wait(time.Second)
		if rapid.Bool().Draw(t, "in the background") {
			p.apply(act{Kind: "background", Dev: victim, N: rapid.IntRange(0, 3).Draw(t, "unread")})
		}
		p.apply(act{Kind: "netLoss", Dev: victim})
		for range rapid.IntRange(1, 3).Draw(t, "messages") {
			p.apply(act{Kind: "send", Dev: from, To: p.userOf(victim), Text: text()})
		}
		eff := p.sc.Relay.Effective()
		p.wait(eff.HeartbeatDeadline.D() + eff.HeartbeatInterval.D())
	}
	// A group message to members whose devices are killed (one or two of them).
	if members := p.spec.Group; len(members) >= 2 {
		out["groupToKilled"] = func(t *rapid.T) {
			sender := rapid.SampledFrom(members).Draw(t, "group sender")
			from := rapid.SampledFrom(p.devicesOf(func(u string) bool { return u == sender })).Draw(t, "sender's device")
			others := p.devicesOf(func(u string) bool { return u != sender && slices.Contains(members, u) })
			victims := []int{rapid.SampledFrom(others).Draw(t, "killed member")}
			if second := rapid.SampledFrom(others).Draw(t, "second killed member"); second != victims[0] && rapid.Bool().Draw(t, "two killed") {
				victims = append(victims, second)
			}
			p.up(from)
			p.killLoggedIn(victims...)
			p.apply(act{Kind: "sendGroup", Dev: from, Text: text()})
			p.wait(time.Second)
		}
	}
	// A burst to a killed device that fills its caps, then a logout and login, an admin kick
	// and login, or a relay restart, then another burst in the same minute: the caps count every
	// push to the device, whichever session or relay process sent it.
	out["capsAcrossRelogin"] = func(t *rapid.T) {
		victim := p.drawDevice(t)
		from := p.drawOtherUsersDevice(t, victim)
		n := 3
		if c := p.spec.Caps; c.Burst > 0 {
			n = min(c.Burst, c.PerMinute) + 1
		}
		burst := func() {
			for range n {
				p.apply(act{Kind: "send", Dev: from, To: p.userOf(victim), Text: text()})
			}
			p.wait(time.Second)
		}
		p.up(from)
		p.killLoggedIn(victim)
		burst()
		switch rapid.SampledFrom([]string{"logout", "kick", "restart"}).Draw(t, "between the bursts") {
		case "logout":
			p.up(victim)
			p.wait(time.Second)
			p.apply(act{Kind: "logout", Dev: victim})
			p.killLoggedIn(victim)
		case "kick":
			p.apply(act{Kind: "kick", To: p.userOf(victim)})
			p.killLoggedIn(victim)
		case "restart":
			p.apply(act{Kind: "restart"})
			p.up(from) // running apps log in again by themselves; a second is enough
			p.wait(2 * time.Second)
		}
		burst()
	}
	return out
}

// drawDevice draws one of the spec's devices.
func (p *propRun) drawDevice(t *rapid.T) int {
	return rapid.IntRange(0, len(p.spec.Devices)-1).Draw(t, "device")
}

// drawOtherUsersDevice draws a device of another user than dev's: the sender of a message
// that may be pushed to dev.
func (p *propRun) drawOtherUsersDevice(t *rapid.T, dev int) int {
	user := p.spec.Devices[dev].User
	return rapid.SampledFrom(p.devicesOf(func(u string) bool { return u != user })).Draw(t, "sender")
}

// devicesOf lists the indexes of the devices whose user is chosen.
func (p *propRun) devicesOf(chosen func(user string) bool) []int {
	var out []int
	for i, d := range p.spec.Devices {
		if chosen(d.User) {
			out = append(out, i)
		}
	}
	return out
}

// userOf is the index of a device's user.
func (p *propRun) userOf(dev int) int { return slices.Index(p.spec.Users, p.spec.Devices[dev].User) }

// up brings a device's app up and logged in with its token reported: each step does nothing
// where it is already so.
func (p *propRun) up(dev int) {
	for _, k := range []string{"install", "netRestore", "login", "reportToken"} {
		p.apply(act{Kind: k, Dev: dev})
	}
}

// killLoggedIn leaves devices killed while logged in and bound: up, a second for the logins to
// land, swiped away, and a second for the relay to see the connections go.
func (p *propRun) killLoggedIn(devs ...int) {
	for _, d := range devs {
		p.up(d)
	}
	p.wait(time.Second)
	for _, d := range devs {
		p.apply(act{Kind: "kill", Dev: d})
	}
	p.wait(time.Second)
}

// wait lets virtual time pass.
func (p *propRun) wait(d time.Duration) { p.apply(act{Kind: "wait", D: d}) }
