package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pushlab/pushlab/internal/proccpu"
	"github.com/pushlab/pushlab/relay"
)

// cpuTime is this process's CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	d, err := proccpu.Self()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// BenchmarkApplyPushTraffic writes what the relay's loop writes under the throughput load
// (pushsim load --kill-ratio 1): batches of 16, 64 and 256 messages to random killed devices among 5,000,
// each with its session's new badge count, its push and the push's trace entry, and the answers
// to the last batch's pushes (their deletion and trace entries). It reports the CPU time per
// push, which a busy machine disturbs less than the wall time.
func BenchmarkApplyPushTraffic(b *testing.B) {
	for _, batch := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkPushTraffic(b, batch) })
	}
}

func benchmarkPushTraffic(b *testing.B, batch int) {
	const devices = 5000
	s := openStore(b, filepath.Join(b.TempDir(), "relay.db"))
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	seqs := make([]uint64, devices)
	unread := make([]int, devices)
	var pushID, msgs uint64
	var last []relay.Push
	rng := uint64(1)
	start := cpuTime(b)
	for b.Loop() {
		var recs []relay.Record
		var trace []relay.TraceEntry
		for _, p := range last {
			recs = append(recs, relay.DeletePush{ID: p.ID})
			trace = append(trace, relay.TraceEntry{Time: at, SDKAppID: p.Device.SDKAppID, UserID: p.Device.UserID,
				DeviceID: p.Device.DeviceID, CertificateID: p.CertificateID, Seq: p.Seqs[0], MsgID: p.Data["msgId"],
				Reason: "fcm-ok", PushID: p.ID, Attempt: 1, FCMName: fmt.Sprintf("projects/demo/messages/%d", p.ID)})
		}
		last = last[:0]
		for range batch {
			rng = rng*6364136223846793005 + 1442695040888963407
			d := int(rng>>33) % devices
			user := fmt.Sprintf("user-%d", d)
			dev := relay.DeviceKey{SDKAppID: 1400000001, UserID: user, DeviceID: "phone-" + user}
			seqs[d]++
			unread[d]++
			msgs++
			pushID++
			at = at.Add(250 * time.Microsecond)
			id := fmt.Sprintf("msg-%d-%d", rng>>40, msgs)
			recs = append(recs,
				relay.PutMessage{User: relay.UserKey{SDKAppID: 1400000001, UserID: user}, Msg: relay.StoredMsg{Seq: seqs[d], ID: id,
					From: "sender-1", FromDevice: "sender-1-phone", Conv: "c2c_sender-1", Text: "a message of some fifty bytes, as chats have them", Time: at}},
				relay.PutSession{Session: relay.SessionState{Key: dev, Platform: "android", LoginAt: at, Unread: unread[d],
					Caps: &relay.CapsState{BucketFull: at}}})
			p := relay.Push{ID: pushID, Device: dev, CertificateID: 6768, Token: "tok-" + user, Title: "sender-1",
				Body: "a message of some fifty bytes, as chats have them", Data: map[string]string{"msgId": id, "conv": "c2c_sender-1"},
				NotificationCount: unread[d], Seqs: []uint64{seqs[d]}, Attempt: 1}
			recs = append(recs, relay.PutPush{Push: relay.PushState{Push: p}})
			trace = append(trace, relay.TraceEntry{Time: at, SDKAppID: 1400000001, UserID: user, DeviceID: dev.DeviceID,
				CertificateID: 6768, Seq: seqs[d], MsgID: id, Reason: "pushed", PushID: pushID, Attempt: 1})
			last = append(last, p)
		}
		recs = append(recs, relay.PutCounter{Name: "messages", Value: msgs}, relay.PutCounter{Name: "pushes", Value: pushID},
			relay.AppendTrace{Entries: trace})
		if err := s.Apply(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/float64(pushID), "cpu-µs/push")
}
