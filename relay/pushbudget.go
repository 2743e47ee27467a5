package relay

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxPushPayloadBytes is FCM's limit on a push's payload, as FCM (and fakefcm) count it: the keys
// and values of the data, the notification's title and body, and the Android notification's
// channel ID, sound and click action.
const MaxPushPayloadBytes = 4096

// Worst cases of what the relay writes into a push and cannot know when the message is sent.
var (
	// maxSeqDigits is the longest sequence number, and the longest {count} of a summary.
	maxSeqDigits = len(strconv.FormatUint(math.MaxUint64, 10))
	// maxBadgeDigits is the longest unread count ("badge" in the data of legacy and silent
	// pushes): FCM's notification_count is an int32.
	maxBadgeDigits = len(strconv.Itoa(math.MaxInt32))
)

// The data keys of a push, as counted against FCM's limit (fcmwire writes them).
const (
	keysFixed   = len(PushDataConv) + len(PushDataSeq) + len(PushDataMsgID) + len(PushDataSender) + len("badge")
	keyExt      = len(PushDataExt)
	keySummary  = len(PushDataSummary)
	keysSilent  = len("title") + len("body") + len("channelId") // and the badge, counted above
	keySound    = len("sound")
	keyClickAct = len("clickAction")
)

// textBounds are the most bytes the texts the relay writes itself can take in an app's pushes,
// whatever the reader's locale: a message's default title, the summary push's title, body and
// count, and a message ID.
type textBounds struct {
	title   int
	summary int
	msgID   int
}

// boundTexts works out an app's textBounds from its templates, the built-in ones and its name,
// with nicknames, group names and counts at their longest, for a core of partition part.
func boundTexts(a AppConfig, part Partition) textBounds {
	ts := make([]PushTemplate, 0, len(a.PushTemplates)+len(BuiltinLocales()))
	for _, t := range a.PushTemplates {
		ts = append(ts, t)
	}
	for _, l := range BuiltinLocales() {
		t, _ := builtinTemplate(l)
		ts = append(ts, t)
	}
	grown := func(s, name string, n int) int { return strings.Count(s, "{"+name+"}") * (n - len(name) - 2) }
	b := textBounds{title: max(MaxIDBytes, MaxNicknameBytes)}
	title, body := len(a.Name), 0
	for _, t := range ts {
		b.title = max(b.title, len(t.GroupTitle)+grown(t.GroupTitle, "nickname", max(MaxIDBytes, MaxNicknameBytes))+grown(t.GroupTitle, "group", MaxNicknameBytes))
		title = max(title, len(t.SummaryTitle)+grown(t.SummaryTitle, "count", maxSeqDigits))
		body = max(body, len(t.SummaryBody)+grown(t.SummaryBody, "count", maxSeqDigits))
	}
	b.summary = title + body + keySummary + maxSeqDigits
	b.msgID = len(part.messageID(a.SDKAppID, math.MaxUint64))
	return b
}

// pushBound is the most bytes, as FCM counts them, that any push of the message can take: the
// push for the message itself or a summary push it is the last of, normal or silent, through
// either API, with what is not known yet (the sequence number, the badge, the certificate's
// channel, the reader's locale, the group's name) at its longest.
func (c *Core) pushBound(sdkAppID uint64, req SendRequest) int {
	var op OfflinePush
	if req.OfflinePush != nil {
		op = *req.OfflinePush
	}
	var tb textBounds
	if a, ok := c.apps[sdkAppID]; ok {
		tb = a.texts
	} else {
		tb = boundTexts(AppConfig{SDKAppID: sdkAppID}, c.cfg.Partition)
	}
	conv := len("c2c_") + len(req.From)
	if req.Group != "" {
		conv = len("group_") + len(req.Group)
	}
	n := keysFixed + conv + maxSeqDigits + tb.msgID + len(req.From) + maxBadgeDigits
	channel := len(op.Android.ChannelID)
	if channel == 0 {
		channel = MaxChannelIDBytes // the certificate's default
	}
	n += channel + len(op.Android.Sound) + len(op.Android.ClickAction)
	own := tb.title
	if op.Title != "" {
		own = len(op.Title)
	}
	if op.Desc != "" {
		own += len(op.Desc)
	} else if len(req.Text) <= previewRunes {
		own += len(req.Text) // shown whole
	} else {
		own += utf8.UTFMax * previewRunes
	}
	if op.Ext != "" {
		own += keyExt + len(op.Ext)
	}
	n += max(own, tb.summary)
	if op.Silent {
		n += keysSilent
		if op.Android.Sound != "" {
			n += keySound
		}
		if op.Android.ClickAction != "" {
			n += keyClickAct
		}
	}
	return n
}

// checkPushBound refuses a message whose push could be over FCM's limit, or returns nil.
func (c *Core) checkPushBound(sdkAppID uint64, req SendRequest) *sendError {
	if req.OnlineOnly || (req.OfflinePush != nil && req.OfflinePush.Disable) {
		return nil // never pushed
	}
	if n := c.pushBound(sdkAppID, req); n > MaxPushPayloadBytes {
		return &sendError{CodeTextTooLong, fmt.Sprintf("the push of this message could take %d bytes (offlinePush title, desc and ext, its Android options, and the IDs and data keys the relay adds); FCM's limit is %d: shorten offlinePush.title, desc or ext by %d bytes",
			n, MaxPushPayloadBytes, n-MaxPushPayloadBytes)}
	}
	return nil
}
