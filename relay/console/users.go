package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// userRoutes registers the users pages: the lookup, a user's devices, the kick and the test push.
func (c *Console) userRoutes() {
	c.mux.Handle("GET /console/users", c.page(c.usersPage))
	c.mux.Handle("GET /console/apps/{app}/users/{user}", c.page(c.withApp(c.userPage)))
	c.mux.Handle("POST /console/apps/{app}/users/{user}/kick", c.form(c.withApp(c.kickUser)))
	c.mux.Handle("POST /console/apps/{app}/users/{user}/devices/{device}/test-push", c.form(c.withApp(c.testPush)))
}

// userPath is the console page of a user; IDs are path-escaped, so any ID makes one path.
func userPath(app uint64, user string) string {
	return fmt.Sprintf("/console/apps/%d/users/%s", app, url.PathEscape(user))
}

// userTraceLink is the push trace page filtered to a user.
func userTraceLink(app uint64, user string) string {
	return traceLink(traceForm{App: strconv.FormatUint(app, 10), User: user}, "")
}

// usersLookup is what the users page shows: the apps to choose from and what was asked.
type usersLookup struct {
	Apps []relay.AppView
	App  uint64
	User string
	// Error says why the lookup could not be followed.
	Error string
}

// usersPage asks for an app and a user ID; with both, it sends the browser to the user's page.
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, s *session) {
	apps, err := c.listApps(r)
	if err != nil {
		c.apiFailure(w, r, s, "", err)
		return
	}
	q := r.URL.Query()
	l := usersLookup{Apps: apps, User: strings.TrimSpace(q.Get("user"))}
	if a := q.Get("app"); a != "" {
		app, err := strconv.ParseUint(a, 10, 64)
		switch {
		case err != nil:
			l.Error = "The app must be an SDKAppID (a number)."
		case l.User == "":
			l.App = app
			if q.Has("user") {
				l.Error = "Type a user ID."
			}
		default:
			http.Redirect(w, r, userPath(app, l.User), http.StatusSeeOther)
			return
		}
	}
	status := http.StatusOK
	if l.Error != "" {
		status = http.StatusBadRequest
	}
	c.render(w, r, s, status, "users", "Users", l)
}

// userInfo is what the user page shows.
type userInfo struct {
	App  uint64
	User string
	// Nickname is the user's profile nickname, the title of the pushes of its messages; empty
	// when it has none (the user ID titles them then).
	Nickname string
	LastSeq  uint64
	// PushesOn is the user's push settings: false while the user turned pushes off.
	PushesOn bool
	Devices  []deviceRow
	LoggedIn int
	// Paths, escaped.
	Self, Kick, Trace, Certificates string
}

// deviceRow is one device as the user page shows it. It holds the binding's token shortened
// only: the whole token never reaches a template.
type deviceRow struct {
	ID, Platform string
	// Locale is the language the device logged in with: its pushes' texts are in it.
	Locale string
	State  string
	// Tone is the state's badge: ok (connected), warn (pushed) or bad (not reachable).
	Tone      string
	LoginAt   time.Time
	LastSeen  time.Time
	SeenAgo   string
	Bound     bool
	CertID    int64
	Token     string
	Unread    int
	Caps      relay.CapsView
	SummaryIn string
	TestPush  string
}

// userPage shows a user's devices as the relay knows them.
func (c *Console) userPage(w http.ResponseWriter, r *http.Request, s *session, app uint64) {
	user := r.PathValue("user")
	var v relay.UserView
	if err := c.cfg.API.Do(r.Context(), http.MethodGet, client.UserPath(app, user), nil, &v); err != nil {
		c.userFailure(w, r, s, app, user, err)
		return
	}
	c.render(w, r, s, http.StatusOK, "user", "User "+user, c.userInfo(app, v))
}

// userInfo turns the API's view of a user into the page's rows, read at the console's now.
func (c *Console) userInfo(app uint64, v relay.UserView) userInfo {
	now := c.cfg.Now()
	u := userInfo{App: app, User: v.UserID, Nickname: v.Nickname, LastSeq: v.LastSeq, PushesOn: v.PushSettings.Enabled, Self: userPath(app, v.UserID),
		Kick: userPath(app, v.UserID) + "/kick", Trace: userTraceLink(app, v.UserID),
		Certificates: certsPage(app)}
	for _, d := range v.Devices {
		row := deviceRow{ID: d.DeviceID, Platform: d.Platform, Locale: d.Locale, LoginAt: d.LoginAt, LastSeen: d.LastSeen,
			Unread: d.Unread, Caps: d.Caps,
			TestPush: userPath(app, v.UserID) + "/devices/" + url.PathEscape(d.DeviceID) + "/test-push"}
		row.State, row.Tone = deviceState(d)
		if !d.LastSeen.IsZero() {
			row.SeenAgo = ago(now.Sub(d.LastSeen)) + " ago"
		}
		if d.Binding != nil {
			row.Bound, row.CertID, row.Token = true, d.Binding.CertificateID, relay.ShortToken(d.Binding.Token)
		}
		if !d.Caps.SummaryAt.IsZero() {
			row.SummaryIn = "in " + ago(d.Caps.SummaryAt.Sub(now))
		}
		if d.LoggedIn {
			u.LoggedIn++
		}
		u.Devices = append(u.Devices, row)
	}
	return u
}

// deviceState says in words whether a device is logged in, connected and in the foreground,
// and, for a killed app, whether the push rule would push its messages (the reason the relay's
// view gives), with the badge tone that goes with it.
func deviceState(d relay.DeviceView) (words, tone string) {
	const killed = "logged in · app killed (no connection): "
	switch {
	case !d.LoggedIn && d.Ended != "":
		return "logged out (ended: " + d.Ended + "): nothing is pushed", "bad"
	case !d.LoggedIn:
		return "not logged in: nothing is pushed", "bad"
	case d.Online && !d.Background:
		return "logged in · connected · foreground", "ok"
	case d.Online:
		return "logged in · connected · background", "ok"
	case d.Unpushable == relay.ReasonNoBinding && d.UnpushableDetail != "":
		return killed + d.UnpushableDetail + ", so nothing can be pushed", "bad"
	case d.Unpushable == relay.ReasonNoBinding:
		return killed + "no token reported, so nothing can be pushed", "bad"
	case d.Unpushable == relay.ReasonUserDisabled:
		return killed + "the user turned pushes off, so nothing is pushed", "bad"
	case d.Unpushable != "":
		return killed + "nothing is pushed (" + d.Unpushable + ")", "bad"
	default:
		return killed + "messages are pushed", "warn"
	}
}

// ago shows a duration roughly, the way a person reads "last seen".
func ago(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d d", int(d/(24*time.Hour)))
	}
}

// kickUser logs every device of a user out, as the admin API's kick does.
func (c *Console) kickUser(w http.ResponseWriter, r *http.Request, s *session, app uint64) {
	user := r.PathValue("user")
	in := map[string]string{"reason": "kicked from the console"}
	var ans struct {
		Kicked int `json:"kicked"`
	}
	if err := c.cfg.API.Do(r.Context(), http.MethodPost, client.KickPath(app, user), in, &ans); err != nil {
		c.apiFailure(w, r, s, userPath(app, user), err)
		return
	}
	noun := "devices"
	if ans.Kicked == 1 {
		noun = "device"
	}
	c.redirect(w, r, s, userPath(app, user), fmt.Sprintf("Kicked %d %s of %s: they must log in again.", ans.Kicked, noun, user))
}

// userFailure draws the page for a user the API would not show: an unknown user or app in
// words, any other refusal in the API's.
func (c *Console) userFailure(w http.ResponseWriter, r *http.Request, s *session, app uint64, user string, err error) {
	var ae *client.AdminError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		c.apiFailure(w, r, s, "/console/users", err)
		return
	}
	msg := fmt.Sprintf("The relay knows no user %q in app %d. It learns a user at the user's first login or first message.", user, app)
	var a relay.AppView
	if err := c.cfg.API.Do(r.Context(), http.MethodGet, client.AppPath(app), nil, &a); errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		msg = fmt.Sprintf("The relay has no app %d.", app)
	}
	c.render(w, r, s, http.StatusNotFound, "error", "No such user", errorPage{Message: msg, Back: "/console/users?app=" + strconv.FormatUint(app, 10)})
}
