package clustertest

import (
	"encoding/json"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
)

// WireSamples is one message of every wire kind, with every field set, for round-trip tests.
// ConnFrame's frame is not valid JSON on purpose: the gateway forwards what the app sent.
func WireSamples() []cluster.Message {
	return []cluster.Message{
		cluster.ConnOpened{Gateway: "node-a", Conn: 7},
		cluster.ConnFrame{Gateway: "node-a", Conn: 7, Frame: []byte(`{"op":"login","id":1,"sdkAppId":1400000001,"userId":"alice"}`)},
		cluster.ConnFrame{Gateway: "node-a", Conn: 8, Frame: []byte("{\"op\":\xff not json")},
		cluster.ConnClosed{Gateway: "node-b", Conn: 9},
		cluster.ConnAlive{Gateway: "node-a", Partition: 3, Conns: []relay.ConnID{7, 8, 12}},
		cluster.Reannounce{Gateway: "node-c", Partition: 63, Conns: []relay.ConnID{1, 2}},
		cluster.Deliver{Conn: 7, Frame: json.RawMessage(`{"op":"msg","seq":2,"msgId":"1-2","from":"bob","conv":"c2c_bob","text":"hi","time":1700}`)},
		cluster.Close{Conn: 7, Code: relay.ClosePolicy, Reason: "kicked: login elsewhere"},
		cluster.SendRequest{App: 1400000001, MsgID: "1400000001-42", Time: 1_800_000_000_123, FromPartition: 5, Epoch: 3,
			From: "alice", FromDevice: "phone", To: []string{"bob", "carol"}, Group: "team", Text: "hi",
			OnlineOnly: true, OfflinePush: &relay.OfflinePush{Title: "T", Desc: "D", Ext: "E", Disable: true}},
		cluster.SendAnswer{Code: relay.OK, Seqs: map[string]uint64{"bob": 4, "carol": 9}},
		cluster.SendAnswer{Code: relay.CodeUnavailable, Error: "partition 5 has no owner; retry"},
	}
}
