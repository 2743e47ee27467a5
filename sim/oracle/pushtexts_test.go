package oracle

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// The oracle's own reference of the texts the relay writes, case by case from the README's
// rules: the locale fallback, the built-in texts, the app's templates field by field, the
// group title, the summary, offlinePush.title first, the user ID without a nickname.
func TestPushTextsFollowTheRules(t *testing.T) {
	plain := newAppTexts(relay.AppConfig{})
	app := newAppTexts(relay.AppConfig{Name: "Chat {count}", DefaultLocale: "zh", PushTemplates: map[string]relay.PushTemplate{
		"zh_hk": {SummaryBody: "{count} 則新訊息"},
		"fr":    {SummaryTitle: "Nouveaux ({count})", GroupTitle: "{nickname} — {group}"},
	}})
	from := relay.StoredMsg{From: "bob"}
	titled := relay.StoredMsg{From: "bob", Push: &relay.OfflinePush{Title: "Boss"}}
	for _, c := range []struct {
		name, got, want string
	}{
		{"nickname", plain.messageTitle("en", from, "Bob", ""), "Bob"},
		{"no nickname: the user ID", plain.messageTitle("en", from, "", ""), "bob"},
		{"offlinePush.title first", plain.messageTitle("en", titled, "Bob", "Team"), "Boss"},
		{"group in English", plain.messageTitle("", from, "Bob", "Team"), "Bob (Team)"},
		{"group in Chinese", plain.messageTitle(canonicalLocale("zh-CN"), from, "Bob", "Team"), "Bob（Team）"},
		{"zh-Hant-TW falls back to zh", plain.messageTitle(canonicalLocale("zh-Hant-TW"), from, "", "Team"), "bob（Team）"},
		{"the app's group title", app.messageTitle("fr", from, "Bob", "Team"), "Bob — Team"},
		{"a nickname is not a template", plain.messageTitle("en", from, "{group}", "Team"), "{group} (Team)"},
		{"unknown locale: the app's default", app.messageTitle("de", from, "Bob", "Team"), "Bob（Team）"},
		{"unknown locale, no default: English", plain.messageTitle("de", from, "Bob", "Team"), "Bob (Team)"},
	} {
		require.Equal(t, c.want, c.got, c.name)
	}
	type texts struct{ title, body string }
	summary := func(a appTexts, loc string) texts {
		title, body := a.summaryTexts(canonicalLocale(loc), 3)
		return texts{title, body}
	}
	for _, c := range []struct {
		name string
		got  texts
		want texts
	}{
		{"English", summary(plain, "en-GB"), texts{"New messages", "3 new messages"}},
		{"no locale: English", summary(plain, ""), texts{"New messages", "3 new messages"}},
		{"Chinese", summary(plain, "zh-CN"), texts{"新消息", "3 条新消息"}},
		{"the app's body for zh-HK, its name for title", summary(app, "zh-HK"), texts{"Chat {count}", "3 則新訊息"}},
		{"the app's title for fr, the body by fallback to its default", summary(app, "fr"), texts{"Nouveaux (3)", "3 条新消息"}},
	} {
		require.Equal(t, c.want, c.got, c.name)
	}
	require.Equal(t, "zh-HK", canonicalLocale("zh_hk"))
	require.Empty(t, canonicalLocale("zh@CN"))
}
