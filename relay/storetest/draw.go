package storetest

import (
	"fmt"
	"time"

	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/ratelimit"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// Universe is a small world of apps, users, devices and IDs, so that random records keep hitting
// the same keys: puts replace, deletes find something, trims and app deletions cut across.
type Universe struct {
	// next is each user's next seq, so that PutMessage seqs increase per user as the core's do.
	next map[relay.UserKey]uint64
}

var (
	appIDs  = []uint64{1, 2, 1<<63 + 5} // the last one is stored as a negative int64
	userIDs = []string{"alice", "bob"}
	devIDs  = []string{"d1", "d2"}
	convs   = []string{"c2c_alice", "c2c_bob", "group_g1"}
	// Zones are the time zones drawn times are in: the stores give them back in UTC.
	Zones = []*time.Location{time.UTC, time.FixedZone("UTC+8", 8*3600), time.FixedZone("UTC-3", -3*3600)}
)

// RawString draws any string: valid UTF-8, or arbitrary bytes (NULs and invalid UTF-8 included),
// for the fields the stores keep as they are (SQLite's TEXT, PostgreSQL's BYTEA).
var RawString = rapid.OneOf(
	rapid.String(),
	rapid.Custom(func(t *rapid.T) string { return string(rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "bytes")) }),
)

func drawCaps(t *rapid.T) *relay.CapsState {
	if rapid.Bool().Draw(t, "no caps yet") {
		return nil
	}
	window := func(label string) ratelimit.WindowState {
		w := ratelimit.WindowState{Head: rapid.Int64().Draw(t, label+"Head")}
		for range rapid.IntRange(0, 3).Draw(t, label+"Slots") {
			w.Slots = append(w.Slots, ratelimit.SlotCount{Index: rapid.Int64().Draw(t, label+"Index"), Count: rapid.Int32().Draw(t, label+"Count")})
		}
		return w
	}
	bucket := DrawTime(t, "bucketFull")
	if !bucket.IsZero() {
		bucket = bucket.UTC() // JSON keeps the offset, not the zone's name
	}
	return &relay.CapsState{PerMinute: window("perMinute"), PerHour: window("perHour"), BucketFull: bucket}
}

// DrawTime draws a time, zero one time in five, in one of Zones.
func DrawTime(t *rapid.T, label string) time.Time {
	if rapid.IntRange(0, 4).Draw(t, label+"Zero") == 0 {
		return time.Time{}
	}
	ns := rapid.Int64().Draw(t, label)
	return time.Unix(0, ns).In(rapid.SampledFrom(Zones).Draw(t, label+"Zone"))
}

// DrawSeqs draws a list of seqs: nil, empty, or a few.
func DrawSeqs(t *rapid.T, label string) []uint64 {
	switch rapid.IntRange(0, 2).Draw(t, label+"Shape") {
	case 0:
		return nil
	case 1:
		return []uint64{}
	}
	return rapid.SliceOfN(rapid.Uint64(), 1, 4).Draw(t, label)
}

// DrawApp draws one of the universe's apps.
func DrawApp(t *rapid.T) uint64 { return rapid.SampledFrom(appIDs).Draw(t, "app") }

// DrawUser draws one of the universe's users.
func DrawUser(t *rapid.T) relay.UserKey {
	return relay.UserKey{SDKAppID: DrawApp(t), UserID: rapid.SampledFrom(userIDs).Draw(t, "user")}
}

// DrawDevice draws one of the universe's devices.
func DrawDevice(t *rapid.T) relay.DeviceKey {
	u := DrawUser(t)
	return relay.DeviceKey{SDKAppID: u.SDKAppID, UserID: u.UserID, DeviceID: rapid.SampledFrom(devIDs).Draw(t, "device")}
}

// NewUniverse returns a universe no record has been drawn from.
func NewUniverse() *Universe { return &Universe{next: map[relay.UserKey]uint64{}} }

// DrawRecord draws one record of any kind, about the universe's keys.
func (u *Universe) DrawRecord(t *rapid.T) relay.Record {
	switch kind := rapid.IntRange(0, 22).Draw(t, "kind"); kind {
	case 0:
		return relay.PutApp{App: relay.AppConfig{
			SDKAppID:    DrawApp(t),
			Name:        rapid.String().Draw(t, "name"),
			SecretKey:   secret.New(RawString.Draw(t, "secretKey")),
			LoginPolicy: rapid.SampledFrom([]relay.LoginPolicy{"", relay.PolicyMulti, relay.PolicySingle, relay.PolicySinglePlatform}).Draw(t, "policy"),
			Caps: relay.Caps{
				PerMinute: rapid.Int().Draw(t, "perMinute"), PerHour: rapid.Int().Draw(t, "perHour"),
				Burst: rapid.Int().Draw(t, "burst"), Refill: duration.Duration(rapid.Int64().Draw(t, "refill")),
			},
			DefaultLocale: RawString.Draw(t, "defaultLocale"),
			PushTemplates: drawTemplates(t),
		}}
	case 1:
		return relay.DeleteApp{SDKAppID: DrawApp(t)}
	case 2:
		return relay.PutCertificate{Cert: relay.Certificate{
			ID:             rapid.Int64Range(1, 3).Draw(t, "certID"),
			SDKAppID:       DrawApp(t),
			Platform:       rapid.SampledFrom([]string{"google", ""}).Draw(t, "platform"),
			PackageName:    rapid.String().Draw(t, "package"),
			SenderID:       RawString.Draw(t, "sender"),
			ServiceAccount: secret.New(RawString.Draw(t, "serviceAccount")),
			ServerKey:      secret.New(RawString.Draw(t, "serverKey")),
			Endpoint:       RawString.Draw(t, "endpoint"),
			ChannelID:      RawString.Draw(t, "channelID"),
			Status: relay.CertStatus{
				Misconfigured: rapid.Bool().Draw(t, "misconfigured"),
				Reason:        RawString.Draw(t, "reason"),
				Since:         DrawTime(t, "since"),
			},
			Check: relay.CertCheck{
				Status:    rapid.SampledFrom([]string{"", relay.CheckUnchecked, relay.CheckOK, relay.CheckFailed}).Draw(t, "checkStatus"),
				Error:     RawString.Draw(t, "checkError"),
				CheckedAt: DrawTime(t, "checkedAt"),
			},
		}}
	case 3:
		return relay.DeleteCertificate{ID: rapid.Int64Range(1, 3).Draw(t, "certID")}
	case 4, 5:
		return relay.PutSession{Session: relay.SessionState{
			Key:       DrawDevice(t),
			Platform:  RawString.Draw(t, "platform"),
			LoginAt:   DrawTime(t, "loginAt"),
			Unread:    rapid.Int().Draw(t, "unread"),
			Held:      DrawSeqs(t, "held"),
			Caps:      drawCaps(t),
			LoggedOut: rapid.Bool().Draw(t, "loggedOut"),
			Locale:    RawString.Draw(t, "locale"),
		}}
	case 6:
		return relay.DeleteSession{Key: DrawDevice(t)}
	case 7:
		return relay.PutBinding{Binding: relay.Binding{
			Key: DrawDevice(t), CertificateID: rapid.Int64().Draw(t, "certID"), Token: RawString.Draw(t, "token"),
		}}
	case 8:
		return relay.DeleteBinding{Key: DrawDevice(t)}
	case 9, 10, 11:
		user := DrawUser(t)
		if _, ok := u.next[user]; !ok {
			// Some inboxes start just below 2^63, where stored seqs turn negative.
			u.next[user] = rapid.SampledFrom([]uint64{1, 1<<63 - 2}).Draw(t, "firstSeq")
		}
		seq := u.next[user] + rapid.Uint64Range(0, 2).Draw(t, "seqGap")
		u.next[user] = seq + 1
		return relay.PutMessage{User: user, Msg: relay.StoredMsg{
			Seq:        seq,
			ID:         RawString.Draw(t, "msgID"),
			From:       RawString.Draw(t, "from"),
			FromDevice: RawString.Draw(t, "fromDevice"),
			Conv:       rapid.SampledFrom(convs).Draw(t, "conv"),
			Group:      RawString.Draw(t, "group"),
			Text:       RawString.Draw(t, "text"),
			Time:       DrawTime(t, "time"),
			Nickname:   RawString.Draw(t, "nickname"),
		}.WithPushOptions(relay.OfflinePush{
			Title: RawString.Draw(t, "pushTitle"), Desc: RawString.Draw(t, "pushDesc"),
			Ext: RawString.Draw(t, "pushExt"), Disable: rapid.Bool().Draw(t, "pushDisable"),
			Android: relay.AndroidPush{ChannelID: RawString.Draw(t, "pushChannelID"), Sound: RawString.Draw(t, "pushSound"),
				ClickAction: RawString.Draw(t, "pushClickAction")},
			Silent: rapid.Bool().Draw(t, "pushSilent"),
		})}
	case 12:
		user := DrawUser(t)
		next := u.next[user]
		lo := uint64(0)
		if next > 4 {
			lo = next - 4
		}
		return relay.TrimInbox{User: user, Through: rapid.OneOf(rapid.Just(uint64(0)), rapid.Uint64Range(lo, next+1)).Draw(t, "through")}
	case 13:
		var members []string
		switch rapid.IntRange(0, 2).Draw(t, "membersShape") {
		case 1:
			members = []string{}
		case 2:
			members = rapid.SliceOfN(rapid.String(), 1, 3).Draw(t, "members")
		}
		return relay.PutGroup{Group: relay.Group{SDKAppID: DrawApp(t), ID: rapid.SampledFrom([]string{"g1", "g2"}).Draw(t, "groupID"), Members: members,
			Name: RawString.Draw(t, "groupName")}}
	case 14, 15:
		return relay.PutReceiveOpt{
			User: DrawUser(t), Conv: rapid.SampledFrom(convs).Draw(t, "conv"),
			Opt: rapid.SampledFrom([]string{relay.ReceiveAll, relay.ReceiveNotNotify, "other"}).Draw(t, "opt"),
		}
	case 16, 17:
		var data map[string]string
		switch rapid.IntRange(0, 2).Draw(t, "dataShape") {
		case 1:
			data = map[string]string{}
		case 2:
			data = rapid.MapOfN(rapid.String(), rapid.String(), 1, 3).Draw(t, "data")
		}
		return relay.PutPush{Push: relay.PushState{
			Push: relay.Push{
				ID:                rapid.SampledFrom([]uint64{1, 2, 3, 1 << 63}).Draw(t, "pushID"),
				Device:            DrawDevice(t),
				CertificateID:     rapid.Int64().Draw(t, "certID"),
				Token:             RawString.Draw(t, "token"),
				Title:             RawString.Draw(t, "title"),
				Body:              RawString.Draw(t, "body"),
				Data:              data,
				CollapseKey:       RawString.Draw(t, "collapseKey"),
				TTL:               duration.Duration(rapid.Int64().Draw(t, "ttl")),
				NotificationCount: rapid.Int().Draw(t, "count"),
				Seqs:              DrawSeqs(t, "seqs"),
				Attempt:           rapid.Int().Draw(t, "attempt"),
				ChannelID:         RawString.Draw(t, "channelID"),
				Sound:             RawString.Draw(t, "sound"),
				ClickAction:       RawString.Draw(t, "clickAction"),
				Silent:            rapid.Bool().Draw(t, "silent"),
			},
			NotBefore: DrawTime(t, "notBefore"),
		}}
	case 18:
		return relay.DeletePush{ID: rapid.SampledFrom([]uint64{1, 2, 3, 1 << 63}).Draw(t, "pushID")}
	case 19:
		return relay.PutCounter{Name: rapid.SampledFrom([]string{"messages", "pushes", ""}).Draw(t, "counter"), Value: rapid.Uint64().Draw(t, "value")}
	case 20, 21:
		return relay.PutPushSettings{User: DrawUser(t), Settings: relay.PushSettings{Enabled: rapid.Bool().Draw(t, "pushesEnabled")}}
	case 22:
		user := DrawUser(t)
		return relay.PutProfile{Profile: relay.Profile{SDKAppID: user.SDKAppID, UserID: user.UserID,
			Nickname: rapid.OneOf(rapid.Just(""), RawString).Draw(t, "nickname")}}
	default:
		panic(fmt.Sprintf("kind %d", kind))
	}
}

// drawTemplates draws an app's push templates: none, or a few locales of valid UTF-8 texts (the
// core refuses others before they reach a store).
func drawTemplates(t *rapid.T) map[string]relay.PushTemplate {
	if rapid.Bool().Draw(t, "no templates") {
		return nil
	}
	return rapid.MapOfN(rapid.SampledFrom([]string{"en", "zh", "zh-HK", "fr"}), rapid.Custom(func(t *rapid.T) relay.PushTemplate {
		return relay.PushTemplate{SummaryTitle: rapid.String().Draw(t, "summaryTitle"), SummaryBody: rapid.String().Draw(t, "summaryBody"),
			GroupTitle: rapid.String().Draw(t, "groupTitle")}
	}), 1, 3).Draw(t, "templates")
}
