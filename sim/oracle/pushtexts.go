package oracle

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/pushlab/pushlab/relay"
)

// The texts the relay writes into pushes (README "What the relay decides"), written here apart
// from the relay's own code, so that the oracle does not check the relay against itself.

// appTexts is what the texts of an app's pushes depend on: its name, its default locale and its
// templates, keyed by canonical locale.
type appTexts struct {
	name, defaultLocale string
	templates           map[string]relay.PushTemplate
}

// newAppTexts keeps an app's texts with its locales canonical.
func newAppTexts(a relay.AppConfig) appTexts {
	t := appTexts{name: a.Name, defaultLocale: canonicalLocale(a.DefaultLocale), templates: map[string]relay.PushTemplate{}}
	for k, v := range a.PushTemplates {
		t.templates[canonicalLocale(k)] = v
	}
	return t
}

// canonicalLocale is a BCP 47 tag in canonical form (zh_cn: zh-CN); "" for none or for one that
// does not parse, which matches no template.
func canonicalLocale(s string) string {
	tag, err := language.Parse(s)
	if s == "" || err != nil {
		return ""
	}
	return tag.String()
}

// builtinText is the relay's own text of a field in English and Simplified Chinese.
func builtinText(loc string, field func(relay.PushTemplate) string) string {
	switch loc {
	case "en":
		return field(relay.PushTemplate{SummaryTitle: "New messages", SummaryBody: "{count} new messages", GroupTitle: "{nickname} ({group})"})
	case "zh":
		return field(relay.PushTemplate{SummaryTitle: "新消息", SummaryBody: "{count} 条新消息", GroupTitle: "{nickname}（{group}）"})
	}
	return ""
}

// text is a field's text for a device of locale loc: the first locale of the fallback (loc cut
// subtag by subtag, zh-Hant-HK, zh-Hant, zh; then the app's defaultLocale the same way; then en)
// where the app's template, else the built-in one, sets the field. fromApp: the app's.
func (a appTexts) text(loc string, field func(relay.PushTemplate) string) (s string, fromApp bool) {
	for _, l := range []string{loc, a.defaultLocale, "en"} {
		for ; l != ""; l = l[:max(strings.LastIndexByte(l, '-'), 0)] {
			if s := field(a.templates[l]); s != "" {
				return s, true
			}
			if s := builtinText(l, field); s != "" {
				return s, false
			}
		}
	}
	return "", false
}

// messageTitle is the title of a push for one message: offlinePush.title if set, else the
// sender's nickname (its user ID without one), inside the group title for a named group.
func (a appTexts) messageTitle(loc string, msg relay.StoredMsg, nickname, group string) string {
	if t := msg.PushOptions().Title; t != "" {
		return t
	}
	if nickname == "" {
		nickname = msg.From
	}
	if group == "" {
		return nickname
	}
	t, _ := a.text(loc, func(t relay.PushTemplate) string { return t.GroupTitle })
	return fillIn(t, map[string]string{"nickname": nickname, "group": group})
}

// summaryTexts are a summary push's title and body for count messages: the app's own summary
// title, else its name (as it is: a name is no template), else the built-in title.
func (a appTexts) summaryTexts(loc string, count int) (title, body string) {
	n := map[string]string{"count": strconv.Itoa(count)}
	title, fromApp := a.text(loc, func(t relay.PushTemplate) string { return t.SummaryTitle })
	if title = fillIn(title, n); !fromApp && a.name != "" {
		title = a.name
	}
	body, _ = a.text(loc, func(t relay.PushTemplate) string { return t.SummaryBody })
	return title, fillIn(body, n)
}

// fillIn replaces each {name} of a template with its value, once: a value is never read for
// placeholders itself.
func fillIn(tmpl string, values map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		j := strings.IndexByte(tmpl[i+1:], '}')
		if i < 0 || j < 0 {
			break
		}
		if v, ok := values[tmpl[i+1:i+1+j]]; ok {
			b.WriteString(tmpl[:i] + v)
		} else {
			b.WriteString(tmpl[:i+2+j])
		}
		tmpl = tmpl[i+2+j:]
	}
	return b.String() + tmpl
}

// validNickname says whether the relay takes a nickname: at most relay.MaxNicknameBytes of
// UTF-8 without control characters.
func validNickname(s string) bool {
	return len(s) <= relay.MaxNicknameBytes && utf8.ValidString(s) &&
		!strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
