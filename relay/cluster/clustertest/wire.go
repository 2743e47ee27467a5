package clustertest

import (
	"time"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
)

// WireSamples is one message of every wire kind, with every field set, for round-trip tests.
// ConnFrame's frame is not valid JSON on purpose: the gateway forwards what the app sent.
func WireSamples() []cluster.Message {
	return []cluster.Message{
		cluster.ConnOpened{Partition: 3, Gateway: "node-a", Conn: 7},
		cluster.ConnFrame{Partition: 3, Gateway: "node-a", Conn: 7, Frame: []byte(`{"op":"login","id":1,"sdkAppId":1400000001,"userId":"alice"}`)},
		cluster.ConnFrame{Partition: 3, Gateway: "node-a", Conn: 8, Frame: []byte("{\"op\":\xff not json")},
		cluster.ConnClosed{Partition: 63, Gateway: "node-b", Conn: 9},
		cluster.Deliver{Conn: 7, Epoch: 4, Frame: relay.ServerFrame{Op: relay.OpMsg,
			Msg: &relay.MsgFrame{Seq: 2, ID: "1-p3-2", From: "bob", Conv: "c2c_bob", Text: "hi", Time: 1700}}},
		cluster.Close{Conn: 7, Code: relay.ClosePolicy, Reason: "kicked: login elsewhere"},
		cluster.SendRequest{FromPartition: 5, Epoch: 3, Msg: relay.RemoteMsg{App: 1400000001, ID: "1400000001-p5-42",
			Time: time.UnixMilli(1_800_000_000_123).UTC(), From: "alice", FromDevice: "phone", To: []string{"bob", "carol"},
			Group: "team", Text: "hi", OnlineOnly: true, OfflinePush: &relay.OfflinePush{Title: "T", Desc: "D", Ext: "E", Disable: true,
				Android: relay.AndroidPush{ChannelID: "calls", Sound: "ring", ClickAction: "com.example.im.OPEN_CALL"}, Silent: true}}},
		cluster.SendAnswer{Code: relay.OK, Seqs: map[string]uint64{"bob": 4, "carol": 9}},
		cluster.SendAnswer{Code: relay.CodeUnavailable, Error: "partition 5 has no owner; retry"},
		cluster.PartitionMoved{Partition: 12, Node: "node-c", Epoch: 7},
		cluster.TokenMoved{Device: relay.DeviceKey{SDKAppID: 1400000001, UserID: "bob", DeviceID: "phone"}, Token: "fcm-token-1"},
		cluster.Catalog{Input: relay.Input{Kind: relay.InputPutApp, Create: true, AppConfig: relay.AppConfig{
			SDKAppID: 1400000001, Name: "demo", SecretKey: secret.New("0123456789abcdef0123"), LoginPolicy: relay.LoginPolicy("single")}}},
		cluster.Catalog{Input: relay.Input{Kind: relay.InputPutCertificate, Cert: relay.Certificate{ID: 9, SDKAppID: 1400000001,
			Platform: "google", PackageName: "com.example", ServerKey: secret.New("AAAA-legacy-key"), ChannelID: "chat_messages"}}},
		cluster.Catalog{Input: relay.Input{Kind: relay.InputDeleteCertificate, App: 1400000001, CertID: 9}},
		cluster.Catalog{Input: relay.Input{Kind: relay.InputPutGroup, Group: relay.Group{SDKAppID: 1400000001, ID: "team", Members: []string{"alice", "bob"}}}},
		cluster.Catalog{Input: relay.Input{Kind: relay.InputCertificateChecked, Check: relay.CheckResult{CertID: 9, Digest: "d1", Error: "bad key"}}},
	}
}
