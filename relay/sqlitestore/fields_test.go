package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/ratelimit"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
)

// stateOpts compare States as the relay core reads them: secrets by value, times by instant
// (the store gives them back in UTC, without a monotonic reading).
var stateOpts = cmp.Options{
	cmp.Comparer(func(a, b secret.Secret) bool { return a.Equal(b) }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

// normalize makes an empty inbox nil: MemoryStore returns an empty inbox as nil or as an empty
// slice depending on how it emptied, a difference nothing reads.
func normalize(st *relay.State) *relay.State {
	for k, msgs := range st.Messages {
		if len(msgs) == 0 {
			st.Messages[k] = nil
		}
	}
	return st
}

// requireSameState fails unless both stores load the same State.
func requireSameState(t require.TestingT, ctx context.Context, want relay.Store, got relay.Store, msgAndArgs ...any) {
	w, err := want.Load(ctx)
	require.NoError(t, err)
	g, err := got.Load(ctx)
	require.NoError(t, err)
	if diff := cmp.Diff(normalize(w), normalize(g), stateOpts); diff != "" {
		require.Fail(t, "states differ (-memory +sqlite):\n"+diff, msgAndArgs...)
	}
}

// universe is a small world of apps, users, devices and IDs, so that random records keep hitting
// the same keys: puts replace, deletes find something, trims and app deletions cut across.
type universe struct {
	// next is each user's next seq, so that PutMessage seqs increase per user as the core's do.
	next map[relay.UserKey]uint64
}

var (
	appIDs  = []uint64{1, 2, 1<<63 + 5} // the last one is stored as a negative int64
	userIDs = []string{"alice", "bob"}
	devIDs  = []string{"d1", "d2"}
	convs   = []string{"c2c_alice", "c2c_bob", "group_g1"}
	zones   = []*time.Location{time.UTC, time.FixedZone("UTC+8", 8*3600), time.FixedZone("UTC-3", -3*3600)}
)

// rawString draws any string: valid UTF-8, or arbitrary bytes (NULs and invalid UTF-8 included),
// for the fields kept in plain TEXT columns.
var rawString = rapid.OneOf(
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
	bucket := drawTime(t, "bucketFull")
	if !bucket.IsZero() {
		bucket = bucket.UTC() // JSON keeps the offset, not the zone's name
	}
	return &relay.CapsState{PerMinute: window("perMinute"), PerHour: window("perHour"), BucketFull: bucket}
}

func drawTime(t *rapid.T, label string) time.Time {
	if rapid.IntRange(0, 4).Draw(t, label+"Zero") == 0 {
		return time.Time{}
	}
	ns := rapid.Int64().Draw(t, label)
	return time.Unix(0, ns).In(rapid.SampledFrom(zones).Draw(t, label+"Zone"))
}

func drawSeqs(t *rapid.T, label string) []uint64 {
	switch rapid.IntRange(0, 2).Draw(t, label+"Shape") {
	case 0:
		return nil
	case 1:
		return []uint64{}
	}
	return rapid.SliceOfN(rapid.Uint64(), 1, 4).Draw(t, label)
}

func drawApp(t *rapid.T) uint64 { return rapid.SampledFrom(appIDs).Draw(t, "app") }
func drawUser(t *rapid.T) relay.UserKey {
	return relay.UserKey{SDKAppID: drawApp(t), UserID: rapid.SampledFrom(userIDs).Draw(t, "user")}
}

func drawDevice(t *rapid.T) relay.DeviceKey {
	u := drawUser(t)
	return relay.DeviceKey{SDKAppID: u.SDKAppID, UserID: u.UserID, DeviceID: rapid.SampledFrom(devIDs).Draw(t, "device")}
}

func (u *universe) drawRecord(t *rapid.T) relay.Record {
	switch kind := rapid.IntRange(0, 19).Draw(t, "kind"); kind {
	case 0:
		return relay.PutApp{App: relay.AppConfig{
			SDKAppID:    drawApp(t),
			Name:        rapid.String().Draw(t, "name"),
			SecretKey:   secret.New(rawString.Draw(t, "secretKey")),
			LoginPolicy: rapid.SampledFrom([]relay.LoginPolicy{"", relay.PolicyMulti, relay.PolicySingle, relay.PolicySinglePlatform}).Draw(t, "policy"),
			Caps: relay.Caps{
				PerMinute: rapid.Int().Draw(t, "perMinute"), PerHour: rapid.Int().Draw(t, "perHour"),
				Burst: rapid.Int().Draw(t, "burst"), Refill: duration.Duration(rapid.Int64().Draw(t, "refill")),
			},
		}}
	case 1:
		return relay.DeleteApp{SDKAppID: drawApp(t)}
	case 2:
		return relay.PutCertificate{Cert: relay.Certificate{
			ID:             rapid.Int64Range(1, 3).Draw(t, "certID"),
			SDKAppID:       drawApp(t),
			Platform:       rapid.SampledFrom([]string{"google", ""}).Draw(t, "platform"),
			PackageName:    rapid.String().Draw(t, "package"),
			SenderID:       rawString.Draw(t, "sender"),
			ServiceAccount: secret.New(rawString.Draw(t, "serviceAccount")),
			ServerKey:      secret.New(rawString.Draw(t, "serverKey")),
			Endpoint:       rawString.Draw(t, "endpoint"),
			Status: relay.CertStatus{
				Misconfigured: rapid.Bool().Draw(t, "misconfigured"),
				Reason:        rawString.Draw(t, "reason"),
				Since:         drawTime(t, "since"),
			},
			Check: relay.CertCheck{
				Status:    rapid.SampledFrom([]string{"", relay.CheckUnchecked, relay.CheckOK, relay.CheckFailed}).Draw(t, "checkStatus"),
				Error:     rawString.Draw(t, "checkError"),
				CheckedAt: drawTime(t, "checkedAt"),
			},
		}}
	case 3:
		return relay.DeleteCertificate{ID: rapid.Int64Range(1, 3).Draw(t, "certID")}
	case 4, 5:
		return relay.PutSession{Session: relay.SessionState{
			Key:       drawDevice(t),
			Platform:  rawString.Draw(t, "platform"),
			LoginAt:   drawTime(t, "loginAt"),
			Unread:    rapid.Int().Draw(t, "unread"),
			Held:      drawSeqs(t, "held"),
			Caps:      drawCaps(t),
			LoggedOut: rapid.Bool().Draw(t, "loggedOut"),
		}}
	case 6:
		return relay.DeleteSession{Key: drawDevice(t)}
	case 7:
		return relay.PutBinding{Binding: relay.Binding{
			Key: drawDevice(t), CertificateID: rapid.Int64().Draw(t, "certID"), Token: rawString.Draw(t, "token"),
		}}
	case 8:
		return relay.DeleteBinding{Key: drawDevice(t)}
	case 9, 10, 11:
		user := drawUser(t)
		if _, ok := u.next[user]; !ok {
			// Some inboxes start just below 2^63, where stored seqs turn negative.
			u.next[user] = rapid.SampledFrom([]uint64{1, 1<<63 - 2}).Draw(t, "firstSeq")
		}
		seq := u.next[user] + rapid.Uint64Range(0, 2).Draw(t, "seqGap")
		u.next[user] = seq + 1
		return relay.PutMessage{User: user, Msg: relay.StoredMsg{
			Seq:        seq,
			ID:         rawString.Draw(t, "msgID"),
			From:       rawString.Draw(t, "from"),
			FromDevice: rawString.Draw(t, "fromDevice"),
			Conv:       rapid.SampledFrom(convs).Draw(t, "conv"),
			Group:      rawString.Draw(t, "group"),
			Text:       rawString.Draw(t, "text"),
			Time:       drawTime(t, "time"),
			Push: relay.OfflinePush{
				Title: rawString.Draw(t, "pushTitle"), Desc: rawString.Draw(t, "pushDesc"),
				Ext: rawString.Draw(t, "pushExt"), Disable: rapid.Bool().Draw(t, "pushDisable"),
			},
		}}
	case 12:
		user := drawUser(t)
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
		return relay.PutGroup{Group: relay.Group{SDKAppID: drawApp(t), ID: rapid.SampledFrom([]string{"g1", "g2"}).Draw(t, "groupID"), Members: members}}
	case 14, 15:
		return relay.PutReceiveOpt{
			User: drawUser(t), Conv: rapid.SampledFrom(convs).Draw(t, "conv"),
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
				Device:            drawDevice(t),
				CertificateID:     rapid.Int64().Draw(t, "certID"),
				Token:             rawString.Draw(t, "token"),
				Title:             rawString.Draw(t, "title"),
				Body:              rawString.Draw(t, "body"),
				Data:              data,
				CollapseKey:       rawString.Draw(t, "collapseKey"),
				TTL:               duration.Duration(rapid.Int64().Draw(t, "ttl")),
				NotificationCount: rapid.Int().Draw(t, "count"),
				Seqs:              drawSeqs(t, "seqs"),
				Attempt:           rapid.Int().Draw(t, "attempt"),
			},
			NotBefore: drawTime(t, "notBefore"),
		}}
	case 18:
		return relay.DeletePush{ID: rapid.SampledFrom([]uint64{1, 2, 3, 1 << 63}).Draw(t, "pushID")}
	case 19:
		return relay.PutCounter{Name: rapid.SampledFrom([]string{"messages", "pushes", ""}).Draw(t, "counter"), Value: rapid.Uint64().Draw(t, "value")}
	default:
		panic(fmt.Sprintf("kind %d", kind))
	}
}

// TestPropertyMatchesMemoryStore applies random records, in random batches, to a MemoryStore and a
// fresh sqlite store, and requires them to load the same State after every batch.
func TestPropertyMatchesMemoryStore(t *testing.T) {
	dir := t.TempDir()
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		run++
		db, err := Open(filepath.Join(dir, fmt.Sprintf("run%d.db", run)))
		require.NoError(rt, err)
		defer func() { require.NoError(rt, db.Close()) }()
		mem := relay.NewMemoryStore()
		u := &universe{next: map[relay.UserKey]uint64{}}
		batches := rapid.IntRange(1, 12).Draw(rt, "batches")
		for b := range batches {
			var records []relay.Record
			for range rapid.IntRange(0, 8).Draw(rt, "batchSize") {
				records = append(records, u.drawRecord(rt))
			}
			require.NoError(rt, mem.Apply(ctx, records))
			require.NoError(rt, db.Apply(ctx, records), "batch %d", b)
			requireSameState(rt, ctx, mem, db, "after batch %d", b)
		}
	})
}

// TestRecordFieldsKnown fails when a type the store persists field by field gains or loses a
// field: the store (and the generator of the property test) must learn about it.
func TestRecordFieldsKnown(t *testing.T) {
	known := map[reflect.Type][]string{
		reflect.TypeFor[relay.AppConfig]():    {"SDKAppID", "Name", "SecretKey", "LoginPolicy", "Caps"},
		reflect.TypeFor[relay.Caps]():         {"PerMinute", "PerHour", "Burst", "Refill"},
		reflect.TypeFor[relay.Certificate]():  {"ID", "SDKAppID", "Platform", "PackageName", "SenderID", "ServiceAccount", "ServerKey", "Endpoint", "Status", "Check"},
		reflect.TypeFor[relay.CertStatus]():   {"Misconfigured", "Reason", "Since"},
		reflect.TypeFor[relay.CertCheck]():    {"Status", "Error", "CheckedAt"},
		reflect.TypeFor[relay.SessionState](): {"Key", "Platform", "LoginAt", "Unread", "Held", "Caps", "LoggedOut"},
		reflect.TypeFor[relay.CapsState]():    {"PerMinute", "PerHour", "BucketFull"},
		reflect.TypeFor[relay.DeviceKey]():    {"SDKAppID", "UserID", "DeviceID"},
		reflect.TypeFor[relay.UserKey]():      {"SDKAppID", "UserID"},
		reflect.TypeFor[relay.Binding]():      {"Key", "CertificateID", "Token"},
		reflect.TypeFor[relay.StoredMsg]():    {"Seq", "ID", "From", "FromDevice", "Conv", "Group", "Text", "Time", "Push"},
		reflect.TypeFor[relay.OfflinePush]():  {"Title", "Desc", "Ext", "Disable"},
		reflect.TypeFor[relay.Group]():        {"SDKAppID", "ID", "Members"},
		reflect.TypeFor[relay.PushState]():    {"Push", "NotBefore"},
		reflect.TypeFor[relay.Push](): {"ID", "Device", "CertificateID", "Token", "Title", "Body", "Data", "CollapseKey", "TTL",
			"NotificationCount", "Seqs", "Attempt"},
		reflect.TypeFor[relay.TrimInbox]():     {"User", "Through"},
		reflect.TypeFor[relay.PutReceiveOpt](): {"User", "Conv", "Opt"},
		reflect.TypeFor[relay.PutCounter]():    {"Name", "Value"},
	}
	for typ, want := range known {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		require.Equal(t, want, got, "fields of %v: persist the new ones in sqlitestore and draw them in the property test", typ)
	}
}
