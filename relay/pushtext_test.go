package relay

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
)

func TestCanonicalLocale(t *testing.T) {
	for in, want := range map[string]string{"zh-CN": "zh-CN", "zh_cn": "zh-CN", "ZH-hk": "zh-HK", "en": "en",
		"zh-Hant-HK": "zh-Hant-HK", "xx-YY": "xx-YY", "xx_yy": "xx-YY", "en-XY": "en-XY", "XX-latn-419": "xx-Latn-419",
		"xx-x-Private": "xx-x-private"} {
		got, err := CanonicalLocale(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "@@", "a", "toolongsubtag", "zh--CN", strings.Repeat("ab-", 30) + "ab"} {
		_, err := CanonicalLocale(bad)
		require.ErrorIs(t, err, ErrLocale, "%q", bad)
	}
}

func TestLocaleChainTruncatesThenDefaultThenEnglish(t *testing.T) {
	require.Equal(t, []string{"zh-Hant-HK", "zh-Hant", "zh", "fr", "en"}, localeChain("zh-Hant-HK", "fr"))
	require.Equal(t, []string{"zh-HK", "zh", "en"}, localeChain("zh-HK", ""))
	require.Equal(t, []string{"en"}, localeChain("", ""))
}

func TestPushTextsFallBackFieldByField(t *testing.T) {
	a := AppConfig{SDKAppID: testApp, Name: "Chatty", PushTemplates: map[string]PushTemplate{
		"zh-HK": {SummaryBody: "{count} 則新訊息"},
		"en":    {GroupTitle: "{nickname} in {group}"},
	}}
	// zh-HK: its own body; the title is the app's name (no app template sets it); the group
	// title from the built-in zh, found by truncation before the app's English one.
	title, body := SummaryTexts(a, "zh-HK", 3)
	require.Equal(t, "Chatty", title)
	require.Equal(t, "3 則新訊息", body)
	require.Equal(t, "小明（团队）", MessageTitle(a, "zh-HK", "u1", "小明", "团队"))
	// zh-CN: nothing of its own, zh built in.
	title, body = SummaryTexts(AppConfig{}, "zh-CN", 4)
	require.Equal(t, "新消息", title)
	require.Equal(t, "4 条新消息", body)
	// fr: no texts, the app's English template, then built-in English.
	require.Equal(t, "Alice in Team", MessageTitle(a, "fr", "alice", "Alice", "Team"))
	title, body = SummaryTexts(a, "fr", 2)
	require.Equal(t, "Chatty", title)
	require.Equal(t, "2 new messages", body)
	// No nickname: the user ID; no group name: the plain nickname.
	require.Equal(t, "alice", MessageTitle(a, "en", "alice", "", ""))
	require.Equal(t, "Alice", MessageTitle(a, "en", "alice", "Alice", ""))
	// The app's defaultLocale comes before English.
	zhDefault := AppConfig{DefaultLocale: "zh"}
	_, body = SummaryTexts(zhDefault, "fr", 2)
	require.Equal(t, "2 条新消息", body)
}

func TestPushTemplatesAreValidatedWhenSet(t *testing.T) {
	for _, tc := range []struct {
		name, def string
		ts        map[string]PushTemplate
		want      []string // what the error must say
	}{
		{"unknown placeholder", "", map[string]PushTemplate{"en": {SummaryBody: "{n} new"}}, []string{"pushTemplates[en].summaryBody", "{n}", "{count}"}},
		{"placeholder of another field", "", map[string]PushTemplate{"en": {GroupTitle: "{count}"}}, []string{"pushTemplates[en].groupTitle", "{nickname} and {group}"}},
		{"unclosed", "", map[string]PushTemplate{"en": {SummaryBody: "{count new"}}, []string{"without its }"}},
		{"ill-formed key", "", map[string]PushTemplate{"zh_@@": {SummaryBody: "x"}}, []string{`key "zh_@@"`, "language tag"}},
		{"oversize", "", map[string]PushTemplate{"en": {SummaryTitle: strings.Repeat("x", MaxTemplateBytes+1)}}, []string{"pushTemplates[en].summaryTitle", "limit is 256"}},
		{"same locale twice", "", map[string]PushTemplate{"zh-CN": {}, "zh_cn": {}}, []string{"two keys spell the locale zh-CN"}},
		{"ill-formed default", "english!", nil, []string{`defaultLocale "english!"`}},
		{"country code as key", "", map[string]PushTemplate{"cn": {SummaryBody: "{count} 条"}}, []string{`key "cn"`, "cn is not a known language", "did you mean zh or zh-CN?"}},
		{"country code with region", "", map[string]PushTemplate{"jp-JP": {}}, []string{`key "jp-JP"`, "did you mean ja or ja-JP?"}},
		{"unknown language", "", map[string]PushTemplate{"xx-YY": {}}, []string{`key "xx-YY"`, "xx is not a known language"}},
		{"undetermined language", "", map[string]PushTemplate{"und": {}}, []string{`key "und"`, "und is not a known language"}},
		{"country code as default", "CN", nil, []string{`defaultLocale "CN"`, "did you mean zh or zh-CN?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ValidatePushTemplates(tc.def, tc.ts)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			// The app refuses them, so that nothing bad is stored.
			a := AppConfig{SDKAppID: testApp, SecretKey: secret.New(testSecret), DefaultLocale: tc.def, PushTemplates: tc.ts}
			require.ErrorIs(t, a.Validate(), ErrInvalid)
		})
	}
	def, ts, err := ValidatePushTemplates("zh_cn", map[string]PushTemplate{"zh_hk": {SummaryBody: "{count} 則"}})
	require.NoError(t, err)
	require.Equal(t, "zh-CN", def)
	require.Equal(t, map[string]PushTemplate{"zh-HK": {SummaryBody: "{count} 則"}}, ts)
}

// TestPushTitlesFromNicknamesAndGroups: a push is titled with the sender's nickname (its user ID
// without one), "Nickname (Group name)" in a named group, and offlinePush.title wins.
func TestPushTitlesFromNicknamesAndGroups(t *testing.T) {
	w := newWorld(t, Config{})
	alice := w.login("alice", "alice-phone")
	bob := w.login("bob", "bob-phone")
	_, err := w.core.SetProfile(w.now, Profile{SDKAppID: testApp, UserID: "bob", Nickname: "Bob B."})
	require.NoError(t, err)
	_, err = w.core.PutGroup(w.now, Group{SDKAppID: testApp, ID: "team", Name: "The Team", Members: []string{"alice", "bob"}})
	require.NoError(t, err)
	_, err = w.core.PutGroup(w.now, Group{SDKAppID: testApp, ID: "plain", Members: []string{"alice", "bob"}})
	require.NoError(t, err)
	w.settle()
	alice.kill()
	bob.send("alice", "hi")
	w.do(bob.conn, ClientFrame{Op: OpSend, Group: "team", Text: "standup"})
	w.do(bob.conn, ClientFrame{Op: OpSend, Group: "plain", Text: "no name"})
	w.do(bob.conn, ClientFrame{Op: OpSend, To: "alice", Text: "custom", OfflinePush: &OfflinePush{Title: "Custom"}})
	var titles []string
	for _, p := range w.pushesTo("alice-phone") {
		titles = append(titles, p.Title)
	}
	require.Equal(t, []string{"Bob B.", "Bob B. (The Team)", "Bob B.", "Custom"}, titles)
	bob.kill()
	_, err = w.core.AdminSend(w.now, testApp, SendRequest{From: "carol", To: "bob", Text: "x"})
	require.NoError(t, err)
	w.settle()
	require.Equal(t, "carol", w.pushesTo("bob-phone")[0].Title, "no profile: the user ID")

	// The profile and the group's name survive a restart; the message keeps the nickname it
	// was sent with.
	w.restart()
	p, err := w.core.Profile(testApp, "bob")
	require.NoError(t, err)
	require.Equal(t, "Bob B.", p.Nickname)
	u, _ := w.core.User(testApp, "bob")
	require.Equal(t, "Bob B.", u.Nickname)
	st := w.load()
	require.Equal(t, "The Team", st.Groups[1].Name)
	require.Equal(t, "Bob B.", st.Messages[UserKey{testApp, "alice"}][0].Nickname)

	// An empty nickname removes the profile.
	_, err = w.core.SetProfile(w.now, Profile{SDKAppID: testApp, UserID: "bob"})
	require.NoError(t, err)
	w.settle()
	_, err = w.core.Profile(testApp, "bob")
	require.ErrorIs(t, err, ErrNotFound)
	require.Empty(t, w.load().Profiles)
}

func TestProfileAndGroupNameRefusals(t *testing.T) {
	w := newWorld(t, Config{})
	before := len(w.records)
	_, err := w.core.SetProfile(w.now, Profile{SDKAppID: 99, UserID: "bob", Nickname: "B"})
	require.ErrorIs(t, err, ErrNotFound)
	_, err = w.core.SetProfile(w.now, Profile{SDKAppID: testApp, UserID: "b o b", Nickname: "B"})
	require.ErrorIs(t, err, ErrInvalid)
	_, err = w.core.SetProfile(w.now, Profile{SDKAppID: testApp, UserID: "bob", Nickname: strings.Repeat("x", MaxNicknameBytes+1)})
	require.ErrorContains(t, err, "limit is 128")
	_, err = w.core.SetProfile(w.now, Profile{SDKAppID: testApp, UserID: "bob", Nickname: "a\nb"})
	require.ErrorContains(t, err, "control character")
	_, err = w.core.PutGroup(w.now, Group{SDKAppID: testApp, ID: "g", Name: strings.Repeat("x", MaxNicknameBytes+1), Members: []string{"a"}})
	require.ErrorContains(t, err, `group "g": name`)
	w.settle()
	require.Len(t, w.records, before, "nothing refused is recorded")
}

// loginLocale logs a phone in with a locale and binds it.
func (w *world) loginLocale(user, dev, locale string) (*phone, ServerFrame) {
	w.t.Helper()
	p := &phone{w: w, user: user, dev: dev, platform: "android", token: "tok-" + user + "-" + dev}
	p.conn = w.open()
	r := w.do(p.conn, ClientFrame{Op: OpLogin, SDKAppID: testApp, UserID: user, UserSig: sig(user, w.now.Add(24*time.Hour)), DeviceID: dev, Locale: locale})
	if r.Code != OK {
		return p, r
	}
	require.Equal(w.t, OK, w.do(p.conn, ClientFrame{Op: OpSetPushToken, CertificateID: testCert, Token: p.token}).Code)
	p.sync()
	return p, r
}

// TestSummaryPushIsInTheDevicesLanguage: the summary push a capped device gets is written in
// the locale it logged in with (zh-CN: built-in Chinese; zh-HK: zh by truncation; fr: the
// default), the locale is kept across a restart, and an ill-formed locale is refused.
func TestSummaryPushIsInTheDevicesLanguage(t *testing.T) {
	w := newWorld(t, Config{DefaultCaps: tinyCaps})
	_, r := w.loginLocale("dan", "dan-phone", "zh@CN")
	require.Equal(t, CodeBadField, r.Code)
	require.Contains(t, r.Desc, `locale "zh@CN"`)
	require.Contains(t, r.Desc, "BCP 47")

	want := map[string]string{"zh-CN": "3 条新消息", "zh-HK": "3 条新消息", "fr": "3 new messages", "": "3 new messages"}
	devs := map[string]*phone{}
	for loc := range want {
		user := "u" + strings.ReplaceAll(loc, "-", "")
		devs[loc], r = w.loginLocale(user, user+"-phone", loc)
		require.Equal(t, OK, r.Code, r.Desc)
	}
	bob := w.login("bob", "bob-phone")
	for _, p := range devs {
		p.kill()
	}
	w.restart() // the locale is part of the session
	bob.relaunch()
	for loc := range want {
		for i := range 5 {
			bob.send("u"+strings.ReplaceAll(loc, "-", ""), string(rune('a'+i)))
		}
	}
	w.advance(time.Minute)
	got := map[string]string{}
	for loc := range want {
		ps := w.pushesTo("u" + strings.ReplaceAll(loc, "-", "") + "-phone")
		require.Len(t, ps, 3)
		got[loc] = ps[2].Body
		wantTitle := "New messages"
		if strings.HasPrefix(loc, "zh") {
			wantTitle = "新消息"
		}
		require.Equal(t, wantTitle, ps[2].Title, loc)
	}
	require.Empty(t, cmp.Diff(want, got))
	u, _ := w.core.User(testApp, "uzhHK")
	require.Equal(t, "zh-HK", u.Devices[0].Locale)
}

// TestPlaceholdersAreFilledOnlyInTemplates: a nickname, group name or app name that reads like a
// placeholder is shown as it is; only the template's own placeholders are filled.
func TestPlaceholdersAreFilledOnlyInTemplates(t *testing.T) {
	a := AppConfig{Name: "{count} Chat"}
	require.Equal(t, "{group} (Team)", MessageTitle(a, "en", "bob", "{group}", "Team"))
	require.Equal(t, "Bob ({nickname})", MessageTitle(a, "en", "bob", "Bob", "{nickname}"))
	title, body := SummaryTexts(a, "en", 3)
	require.Equal(t, "{count} Chat", title, "the app's name is not a template")
	require.Equal(t, "3 new messages", body)
	a.PushTemplates = map[string]PushTemplate{"en": {SummaryTitle: "{count} in {count}"}}
	title, _ = SummaryTexts(a, "en", 3)
	require.Equal(t, "3 in 3", title, "the app's own template is filled")
}
