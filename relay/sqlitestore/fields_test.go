package sqlitestore

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// TestRecordFieldsKnown fails when a type the store persists field by field gains or loses a
// field: the store (and the generator of the property test) must learn about it.
func TestRecordFieldsKnown(t *testing.T) {
	known := map[reflect.Type][]string{
		reflect.TypeFor[relay.AppConfig]():    {"SDKAppID", "Name", "SecretKey", "LoginPolicy", "Caps", "DefaultLocale", "PushTemplates"},
		reflect.TypeFor[relay.PushTemplate](): {"SummaryTitle", "SummaryBody", "GroupTitle"},
		reflect.TypeFor[relay.Profile]():      {"SDKAppID", "UserID", "Nickname"},
		reflect.TypeFor[relay.PutProfile]():   {"Profile"},
		reflect.TypeFor[relay.Caps]():         {"PerMinute", "PerHour", "Burst", "Refill"},
		reflect.TypeFor[relay.Certificate]():  {"ID", "SDKAppID", "Platform", "PackageName", "SenderID", "ServiceAccount", "ServerKey", "Endpoint", "ChannelID", "Status", "Check"},
		reflect.TypeFor[relay.CertStatus]():   {"Misconfigured", "Reason", "Since"},
		reflect.TypeFor[relay.CertCheck]():    {"Status", "Error", "CheckedAt"},
		reflect.TypeFor[relay.SessionState](): {"Key", "Platform", "LoginAt", "Unread", "Held", "Caps", "LoggedOut", "Locale"},
		reflect.TypeFor[relay.CapsState]():    {"PerMinute", "PerHour", "BucketFull"},
		reflect.TypeFor[relay.DeviceKey]():    {"SDKAppID", "UserID", "DeviceID"},
		reflect.TypeFor[relay.UserKey]():      {"SDKAppID", "UserID"},
		reflect.TypeFor[relay.Binding]():      {"Key", "CertificateID", "Token"},
		reflect.TypeFor[relay.StoredMsg]():    {"Seq", "ID", "From", "FromDevice", "Conv", "Group", "Text", "Time", "Push", "Nickname"},
		reflect.TypeFor[relay.OfflinePush]():  {"Title", "Desc", "Ext", "Disable", "Android", "Silent"},
		reflect.TypeFor[relay.AndroidPush]():  {"ChannelID", "Sound", "ClickAction"},
		reflect.TypeFor[relay.Group]():        {"SDKAppID", "ID", "Members", "Name"},
		reflect.TypeFor[relay.PushState]():    {"Push", "NotBefore"},
		reflect.TypeFor[relay.Push](): {"ID", "Device", "CertificateID", "Token", "Title", "Body", "Data", "CollapseKey", "TTL",
			"NotificationCount", "Seqs", "Attempt", "Test", "ChannelID", "Sound", "ClickAction", "Silent"}, // Test: the core never stores a test push
		reflect.TypeFor[relay.TrimInbox]():       {"User", "Through"},
		reflect.TypeFor[relay.PutReceiveOpt]():   {"User", "Conv", "Opt"},
		reflect.TypeFor[relay.PutCounter]():      {"Name", "Value"},
		reflect.TypeFor[relay.PutPushSettings](): {"User", "Settings"},
		reflect.TypeFor[relay.PushSettings]():    {"Enabled"},
	}
	for typ, want := range known {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		require.Equal(t, want, got, "fields of %v: persist the new ones in sqlitestore and pgstore, and draw them in storetest's property", typ)
	}
}
