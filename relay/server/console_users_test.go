package server

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/logbuf"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/console/consoletest"
)

// startUsersRelay starts a provisioned relay whose log, at debug level, the test reads.
func startUsersRelay(t *testing.T) (*bubble, *logbuf.Buffer) {
	t.Helper()
	log := &logbuf.Buffer{}
	b := startRelay(t, relay.NewMemoryStore(), relay.Config{}, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	b.provision()
	return b, log
}

// loginWithToken logs a device in on a platform and reports an FCM token.
func (b *bubble) loginWithToken(user, dev, platform, token string) *client.Conn {
	b.t.Helper()
	c := b.dial()
	ctx := context.Background()
	sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: user, Expire: time.Now().Add(time.Hour).Unix()})
	require.NoError(b.t, c.Login(ctx, appID, user, sig, dev, platform))
	_, err := c.Do(ctx, relay.ClientFrame{Op: relay.OpSetPushToken, CertificateID: certID, Token: token})
	require.NoError(b.t, err)
	return c
}

const phoneToken = "fcm-token-alice-phone-0123456789-abcdefghijklmnopqrstuvwxyz"

func TestConsoleUserPageShowsDevicesAndKicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, log := startUsersRelay(t)
		ctx := context.Background()
		phone := b.loginWithToken("alice", "alice-phone", "android", phoneToken)
		web := b.loginWithToken("alice", "alice-web", "web", "fcm-token-alice-web-0123456789")
		_, err := web.Do(ctx, relay.ClientFrame{Op: relay.OpBackground, Unread: 0})
		require.NoError(t, err)
		bob := b.launch("bob", "bob-phone")
		// An iPad of alice's logs in with its language, without a token.
		tablet := b.dial()
		sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: "alice", Expire: time.Now().Add(time.Hour).Unix()})
		_, err = tablet.Request(ctx, relay.ClientFrame{Op: relay.OpLogin, SDKAppID: appID, UserID: "alice", UserSig: sig,
			DeviceID: "alice-tablet", Platform: "ios", Locale: "zh-HK"})
		require.NoError(t, err)
		require.NoError(t, phone.Drop()) // killed: pushed from now on
		synctest.Wait()
		bob.send("alice", "are you there?")
		synctest.Wait()
		time.Sleep(7 * time.Second)
		_, err = web.Do(ctx, relay.ClientFrame{Op: relay.OpSync}) // the web app speaks; the phone is silent
		require.NoError(t, err)

		ub := b.signInConsole()
		status, page := ub.Open("/console/users")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, fmt.Sprintf(`<option value="%d"`, appID))
		loc := ub.Do(http.MethodGet, fmt.Sprintf("/console/users?app=%d&user=alice", appID), nil).Location()
		require.Equal(t, fmt.Sprintf("/console/apps/%d/users/alice", appID), loc)

		status, page = ub.Open(loc)
		require.Equal(t, http.StatusOK, status, page)
		var v relay.UserView
		_, body := b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/users/alice", appID), "")
		require.NoError(t, json.Unmarshal([]byte(body), &v))
		require.Len(t, v.Devices, 3)
		for _, want := range []string{
			"Nickname: none: the pushes of this user's messages are titled with the user ID",
			"ios · <code>zh-HK</code>",
			"alice-phone", "alice-web", "android", "web",
			"logged in · app killed (no connection): messages are pushed",
			"logged in · connected · background",
			fmt.Sprintf("certificate %d", certID), fmt.Sprintf(`href="/console/apps/%d/certificates"`, appID),
			relay.ShortToken(phoneToken), "(7 s ago)", "(0 s ago)",
			fmt.Sprintf("minute 1/%d · hour 1/%d · bucket %d/%d", v.Devices[0].Caps.PerMinute, v.Devices[0].Caps.PerHour,
				v.Devices[0].Caps.Burst-1, v.Devices[0].Caps.Burst),
			fmt.Sprintf("Last seq %d", v.LastSeq),
			fmt.Sprintf(`href="/console/trace?sdkAppId=%d&amp;userId=alice"`, appID),
			"Send test push",
			`pushes: <span class="badge ok">on</span>`,
		} {
			require.Contains(t, page, want)
		}
		require.NotContains(t, page, phoneToken, "the whole token is never on the page")
		requireNoSecret(t, ub, page)
		require.Equal(t, 1, strings.Count(page, "<code>zh-HK</code>"), "only the device that gave a locale shows one")

		// The administrator gives alice a nickname: the page shows it beside her ID.
		status, body = b.admin("PUT", client.ProfilePath(appID, "alice"), `{"nickname":"Alice 小红"}`)
		require.Equal(t, http.StatusOK, status, body)
		_, page = ub.Open(loc)
		require.Contains(t, page, "User <code>alice</code> “Alice 小红”")
		require.Contains(t, page, "Nickname: <strong>Alice 小红</strong> (titles the pushes of this user's messages)")
		_, bobPage := ub.Open(fmt.Sprintf("/console/apps/%d/users/bob", appID))
		require.Contains(t, bobPage, "logged in · connected · foreground")

		// The user turns pushes off: the page says so, and that the killed phone gets none.
		status, body = b.admin("PUT", client.PushSettingsPath(appID, "alice"), `{"enabled":false}`)
		require.Equal(t, http.StatusOK, status, body)
		_, page = ub.Open(loc)
		require.Contains(t, page, `pushes: <span class="badge bad">off</span>`)
		require.Contains(t, page, "logged in · app killed (no connection): the user turned pushes off, so nothing is pushed")

		// A kick needs the session's CSRF token.
		kick := fmt.Sprintf("/console/apps/%d/users/alice/kick", appID)
		status = ub.Do(http.MethodPost, kick, url.Values{"csrf": {"forged"}}).StatusCode
		require.Equal(t, http.StatusForbidden, status)
		status = ub.Do(http.MethodPost, kick, url.Values{}).StatusCode
		require.Equal(t, http.StatusForbidden, status)
		_, body = b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/users/alice", appID), "")
		require.Contains(t, body, `"loggedIn":true`, "no kick without the token")

		res := ub.Do(http.MethodPost, kick, url.Values{"csrf": {consoletest.CSRF(t, page)}})
		status, loc = res.StatusCode, res.Location()
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, fmt.Sprintf("/console/apps/%d/users/alice", appID), loc)
		_, page = ub.Open(loc)
		require.Contains(t, page, "Kicked 3 devices of alice")
		require.Equal(t, 3, strings.Count(page, "logged out (ended: kicked)"), page)
		require.Contains(t, log.String(), "console: signed in")
		requireNoSecret(t, ub, log.String())
	})
}

func TestConsoleTestPushShowsFCMsAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, log := startUsersRelay(t)
		b.loginWithToken("alice", "alice-phone", "android", phoneToken)
		ub := b.signInConsole()
		_, page := ub.Open(fmt.Sprintf("/console/apps/%d/users/alice", appID))
		tok := consoletest.CSRF(t, page)
		push := fmt.Sprintf("/console/apps/%d/users/alice/devices/alice-phone/test-push", appID)
		hostile := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`}

		status := ub.Do(http.MethodPost, push, url.Values{"title": {"hi"}}).StatusCode
		require.Equal(t, http.StatusForbidden, status, "a test push needs the session's CSRF token")
		require.Empty(t, b.sender.sent())

		res := ub.Do(http.MethodPost, push, url.Values{"csrf": {tok}, "title": {hostile[0]}, "body": {hostile[1]}})
		status, page = res.StatusCode, res.Page
		require.Equal(t, http.StatusOK, status, page)
		sent := b.sender.sent()
		require.Len(t, sent, 1)
		require.Equal(t, hostile[0], sent[0].Title, "the title reaches FCM as typed")
		for _, want := range []string{"fcm-ok", "FCM accepted the push: it is on its way to the device",
			fmt.Sprintf("projects/demo/messages/%d", sent[0].ID), relay.ShortToken(phoneToken), fmt.Sprint(certID),
			"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"} {
			require.Contains(t, page, want)
		}
		for _, h := range hostile {
			require.NotContains(t, page, h)
		}
		require.NotContains(t, page, phoneToken)
		requireNoSecret(t, ub, page)

		b.sender.mu.Lock()
		b.sender.answer = func(p relay.Push) relay.PushResult {
			return relay.PushResult{ID: p.ID, Err: &relay.PushError{Code: "UNREGISTERED", Message: "Requested entity was not found."}}
		}
		b.sender.mu.Unlock()
		res = ub.Do(http.MethodPost, push, url.Values{"csrf": {tok}})
		status, page = res.StatusCode, res.Page
		require.Equal(t, http.StatusOK, status, page)
		require.Contains(t, page, "fcm-UNREGISTERED")
		require.Contains(t, page, "FCM says the token is no longer registered (the app was uninstalled, its data cleared, or the token expired); the relay dropped the device&#39;s binding — the app must report a new token.")
		require.Contains(t, page, "binding removed: Requested entity was not found.")

		res = ub.Do(http.MethodPost, push, url.Values{"csrf": {tok}})
		status, page = res.StatusCode, res.Page
		require.Equal(t, http.StatusConflict, status, page)
		require.Contains(t, page, "No token reported")
		_, page = ub.Open(fmt.Sprintf("/console/apps/%d/users/alice", appID))
		require.Contains(t, page, `<span class="muted">no token reported</span>`, "the binding is gone")
		require.Contains(t, log.String(), "console: signed in")
		requireNoSecret(t, ub, log.String())
	})
}

func TestConsoleUsersEscapeHostileIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, log := startUsersRelay(t)
		ub := b.signInConsole()
		for _, user := range []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, "a/b?c d", "x%2Fy#z"} {
			loc := ub.Do(http.MethodGet, fmt.Sprintf("/console/users?app=%d&user=%s", appID, url.QueryEscape(user)), nil).Location()
			require.Equal(t, fmt.Sprintf("/console/apps/%d/users/%s", appID, url.PathEscape(user)), loc, user)
			status, page := ub.Open(loc)
			require.Equal(t, http.StatusNotFound, status, user)
			require.Contains(t, page, template.HTMLEscapeString(fmt.Sprintf("The relay knows no user %q in app %d", user, appID)), user)
			require.NotContains(t, page, "<script>alert(1)</script>")
			require.NotContains(t, page, `"><img`)
			requireNoSecret(t, ub, page)

			res := ub.Do(http.MethodPost, loc+"/devices/"+url.PathEscape(user)+"/test-push", url.Values{"csrf": {consoletest.CSRF(t, page)}})
			status, page = res.StatusCode, res.Page
			require.Equal(t, http.StatusNotFound, status, user)
			require.NotContains(t, page, "<script>alert(1)</script>")
			require.NotContains(t, page, `"><img`)
		}
		status, page := ub.Open("/console/apps/42/users/alice")
		require.Equal(t, http.StatusNotFound, status)
		require.Contains(t, page, "The relay has no app 42.")
		require.Contains(t, log.String(), "console: signed in")
		requireNoSecret(t, ub, log.String())
	})
}
