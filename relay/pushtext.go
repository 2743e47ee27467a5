package relay

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// PushTemplate is the texts the relay writes itself in one language: the title and body of the
// summary push that covers messages a cap held back, and the title of a push for a message in a
// named group. An empty field is taken from the next locale of the fallback (see PushTexts).
// Placeholders are written in braces; each field takes only its own.
type PushTemplate struct {
	// SummaryTitle is the summary push's title; it may use {count}. When no template of the app
	// sets it, the app's name is the title, and the built-in text when the app has none.
	SummaryTitle string `json:"summaryTitle,omitempty" yaml:"summaryTitle"`
	// SummaryBody is the summary push's body; it may use {count}, the number of messages.
	SummaryBody string `json:"summaryBody,omitempty" yaml:"summaryBody"`
	// GroupTitle is the title of a push for a message in a group that has a name; it may use
	// {nickname} (the sender's nickname, or user ID) and {group} (the group's name).
	GroupTitle string `json:"groupTitle,omitempty" yaml:"groupTitle"`
}

// Limits of the texts the relay writes into pushes.
const (
	// MaxTemplateBytes bounds each field of a PushTemplate.
	MaxTemplateBytes = 256
	// MaxPushTemplates bounds the locales of one app's pushTemplates.
	MaxPushTemplates = 100
	// MaxNicknameBytes bounds a user's nickname and a group's name.
	MaxNicknameBytes = 128
	// MaxLocaleBytes bounds a locale tag (login's locale, a pushTemplates key).
	MaxLocaleBytes = 64
)

// builtinTemplate is the texts the relay ships for a locale: English ("en", the last resort of
// every fallback) and Simplified Chinese ("zh"). An app's pushTemplates come first, field by field.
func builtinTemplate(loc string) (PushTemplate, bool) {
	switch loc {
	case "en":
		return PushTemplate{SummaryTitle: "New messages", SummaryBody: "{count} new messages", GroupTitle: "{nickname} ({group})"}, true
	case "zh":
		return PushTemplate{SummaryTitle: "新消息", SummaryBody: "{count} 条新消息", GroupTitle: "{nickname}（{group}）"}, true
	}
	return PushTemplate{}, false
}

// BuiltinLocales are the locales the relay has texts for without any pushTemplates.
func BuiltinLocales() []string { return []string{"en", "zh"} }

// DefaultLocale is the locale of an app that sets no defaultLocale.
const DefaultLocale = "en"

// templateField is one field of a PushTemplate and the placeholders it may use.
type templateField struct {
	name   string
	get    func(*PushTemplate) string
	places []string
}

// templateFields are PushTemplate's fields, in order.
func templateFields() [3]templateField {
	return [...]templateField{
		{"summaryTitle", func(t *PushTemplate) string { return t.SummaryTitle }, []string{"count"}},
		{"summaryBody", func(t *PushTemplate) string { return t.SummaryBody }, []string{"count"}},
		{"groupTitle", func(t *PushTemplate) string { return t.GroupTitle }, []string{"nickname", "group"}},
	}
}

// ErrLocale is a locale that is not a well-formed BCP 47 language tag.
var ErrLocale = errors.New("not a BCP 47 language tag")

// CanonicalLocale checks that s is a well-formed BCP 47 language tag (such as en, zh-CN,
// zh-Hant-HK) and returns it in canonical form ("zh_cn" gives "zh-CN"). A well-formed tag whose
// language is unknown is kept, in BCP 47's letter case ("xx_yy" gives "xx-YY"): a device's locale
// that simply matches no template and falls back. Where a locale names templates (pushTemplates
// keys, defaultLocale), KnownLocale refuses such a tag.
func CanonicalLocale(s string) (string, error) {
	if len(s) > MaxLocaleBytes {
		return "", fmt.Errorf("%w: %d bytes, the limit is %d", ErrLocale, len(s), MaxLocaleBytes)
	}
	tag, err := language.Parse(s)
	var unknown language.ValueError
	switch {
	case err == nil:
		return tag.String(), nil
	case errors.As(err, &unknown):
		return localeCase(strings.ReplaceAll(s, "_", "-")), nil
	default:
		return "", fmt.Errorf("%w: %v", ErrLocale, err)
	}
}

// localeCase writes a well-formed tag in BCP 47's letter case: the language lower-case, a
// script title-case, a region upper-case, everything else (and all after a singleton such as
// x-) lower-case.
func localeCase(s string) string {
	subs := strings.Split(strings.ToLower(s), "-")
	for i, sub := range subs {
		if i == 0 {
			continue
		}
		switch {
		case len(sub) == 1:
			return strings.Join(subs, "-") // an extension or private use: lower-case from here
		case len(sub) == 4 && isLetters(sub):
			subs[i] = strings.ToUpper(sub[:1]) + sub[1:]
		case len(sub) == 2 && isLetters(sub), len(sub) == 3 && !isLetters(sub):
			subs[i] = strings.ToUpper(sub)
		}
	}
	return strings.Join(subs, "-")
}

func isLetters(s string) bool {
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// KnownLocale is CanonicalLocale for a locale that names templates: it also refuses a tag whose
// language is unknown (such as cn, a country code), which no device's locale would ever reach,
// and says which language was likely meant.
func KnownLocale(s string) (string, error) {
	c, err := CanonicalLocale(s)
	if err != nil {
		return "", err
	}
	if tag, err := language.Parse(c); err == nil {
		if _, conf := tag.Base(); conf == language.Exact {
			return c, nil
		}
	}
	first, _, _ := strings.Cut(c, "-")
	if region, err := language.ParseRegion(first); err == nil {
		if tag, err := language.Compose(region); err == nil {
			if base, conf := tag.Base(); conf != language.No && base.String() != "und" {
				return "", fmt.Errorf("%w: %s is not a known language (%s is a country or region code); did you mean %s or %s-%s?",
					ErrLocale, first, region, base, base, region)
			}
		}
	}
	return "", fmt.Errorf("%w: %s is not a known language", ErrLocale, first)
}

// localeChain is the order in which locales are looked up for a device of locale loc: loc, then
// loc with its last subtag dropped, and so on (zh-Hant-HK, zh-Hant, zh), then the app's default
// locale the same way, then English.
func localeChain(loc, def string) []string {
	var out []string
	for _, l := range []string{loc, def, DefaultLocale} {
		for l != "" {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
			i := strings.LastIndexByte(l, '-')
			if i < 0 {
				break
			}
			l = l[:i]
		}
	}
	return out
}

// PushTexts is the template a device of locale loc gets from an app: for each field, the first
// locale of the fallback chain (loc truncated subtag by subtag, then the app's defaultLocale,
// then English) whose app template or built-in template sets it; an app template comes before
// the built-in one of the same locale. fromApp reports, per field name, whether the app's own
// templates set it (the summary title falls back to the app's name before the built-in text).
func PushTexts(a AppConfig, loc string) (t PushTemplate, fromApp map[string]bool) {
	fromApp = map[string]bool{}
	set := func(name string, dst *string, get func(*PushTemplate) string) {
		for _, l := range localeChain(loc, a.DefaultLocale) {
			if at, ok := a.PushTemplates[l]; ok && get(&at) != "" {
				*dst, fromApp[name] = get(&at), true
				return
			}
			if bt, ok := builtinTemplate(l); ok && get(&bt) != "" {
				*dst = get(&bt)
				return
			}
		}
	}
	fs := templateFields()
	set(fs[0].name, &t.SummaryTitle, fs[0].get)
	set(fs[1].name, &t.SummaryBody, fs[1].get)
	set(fs[2].name, &t.GroupTitle, fs[2].get)
	return t, fromApp
}

// SummaryTexts is the title and body of a summary push of count messages to a device of
// locale loc. The app's name, when it is the title, is taken as it is: only templates have
// placeholders.
func SummaryTexts(a AppConfig, loc string, count int) (title, body string) {
	t, fromApp := PushTexts(a, loc)
	n := strconv.Itoa(count)
	body = fill(t.SummaryBody, "{count}", n)
	if !fromApp["summaryTitle"] && a.Name != "" {
		return a.Name, body
	}
	return fill(t.SummaryTitle, "{count}", n), body
}

// MessageTitle is the title of a push for one message to a device of locale loc: the sender's
// nickname (its user ID when it has none), in the app's group title when the message is in a
// group that has a name. The message's offlinePush.title, when set, wins over both.
func MessageTitle(a AppConfig, loc, from, nickname, groupName string) string {
	nick := nickname
	if nick == "" {
		nick = from
	}
	if groupName == "" {
		return nick
	}
	t, _ := PushTexts(a, loc)
	return fill(t.GroupTitle, "{nickname}", nick, "{group}", groupName)
}

// fill replaces the placeholders of template s in one pass, given as pairs of a placeholder
// and its value: a value is never searched for placeholders itself (a nickname that reads
// "{group}" stays as it is).
func fill(s string, pairs ...string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// ValidatePushTemplates checks an app's pushTemplates and defaultLocale: every key a
// well-formed BCP 47 tag of a known language (KnownLocale; not two spelling the same one), every field under its size limit,
// valid UTF-8, and using only its own placeholders. It returns the templates with their keys in
// canonical form. Errors name the key and field and say what to do.
func ValidatePushTemplates(defaultLocale string, ts map[string]PushTemplate) (string, map[string]PushTemplate, error) {
	if defaultLocale != "" {
		c, err := KnownLocale(defaultLocale)
		if err != nil {
			return "", nil, fmt.Errorf("defaultLocale %q: %v; use a language tag such as en or zh-CN", defaultLocale, err)
		}
		defaultLocale = c
	}
	if len(ts) == 0 {
		return defaultLocale, nil, nil
	}
	if len(ts) > MaxPushTemplates {
		return "", nil, fmt.Errorf("pushTemplates: %d locales, the limit is %d", len(ts), MaxPushTemplates)
	}
	keys := make([]string, 0, len(ts))
	for k := range ts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string]PushTemplate, len(ts))
	for _, k := range keys {
		c, err := KnownLocale(k)
		if err != nil {
			return "", nil, fmt.Errorf("pushTemplates key %q: %v; key each template by a language tag such as en, zh or zh-CN", k, err)
		}
		if _, dup := out[c]; dup {
			return "", nil, fmt.Errorf("pushTemplates keys: two keys spell the locale %s; keep one", c)
		}
		t := ts[k]
		for _, f := range templateFields() {
			if err := checkTemplate(f, f.get(&t)); err != nil {
				return "", nil, fmt.Errorf("pushTemplates[%s].%s: %v", k, f.name, err)
			}
		}
		out[c] = t
	}
	return defaultLocale, out, nil
}

// checkTemplate checks one template field.
func checkTemplate(f templateField, s string) error {
	if len(s) > MaxTemplateBytes {
		return fmt.Errorf("%d bytes, the limit is %d: shorten it (a notification shows little more than a line)", len(s), MaxTemplateBytes)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	rest := s
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("%q has a { without its }: write placeholders as %s", s, placeholders(f))
		}
		name := rest[i+1 : i+j]
		if !slices.Contains(f.places, name) {
			return fmt.Errorf("unknown placeholder {%s}: this field takes %s", name, placeholders(f))
		}
		rest = rest[i+j+1:]
	}
	return nil
}

func placeholders(f templateField) string {
	out := make([]string, len(f.places))
	for i, p := range f.places {
		out[i] = "{" + p + "}"
	}
	return strings.Join(out, " and ")
}

// checkDisplayName checks a nickname or group name: valid UTF-8 without control characters, at
// most MaxNicknameBytes.
func checkDisplayName(what, s string) error {
	if why := DisplayNameProblem(what, s); why != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, why)
	}
	return nil
}

// DisplayNameProblem says why a nickname or group name (named what in the answer) would be
// refused, or "" when it would not: at most MaxNicknameBytes of valid UTF-8 without control
// characters. Scenario files check their names with it before anything runs.
func DisplayNameProblem(what, s string) string {
	switch {
	case len(s) > MaxNicknameBytes:
		return fmt.Sprintf("%s is %d bytes; the limit is %d", what, len(s), MaxNicknameBytes)
	case !utf8.ValidString(s):
		return fmt.Sprintf("%s is not valid UTF-8", what)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Sprintf("%s %q has a control character: use printable text", what, s)
	}
	return ""
}
