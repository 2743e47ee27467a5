package sqlitestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// writeCalls is how many write system calls this process has made so far, from /proc/self/io,
// or -1 where there is no such file.
func writeCalls() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// BenchmarkApplyPushTraffic writes what the relay's loop writes under the throughput load
// (pushsim load --kill-ratio 1): batches of 16, 64 and 256 messages, each from a random sender
// among 300 (online) to a random killed device among 5,000, with the message in both users'
// inboxes (a one-to-one message's two copies), the recipient's session with its new badge
// count, the push, and the trace entries "pushed" for the recipient and "online" for the
// sender's device; and the answers to the last batch's pushes (their deletion and "fcm-ok"
// entries). Message IDs are the relay's, its app and a counter. It reports the CPU time per push,
// which a busy machine disturbs less than the wall time, and the write system calls per push (on
// Linux): two for each page a commit writes to the log, a frame's header and its page.
func BenchmarkApplyPushTraffic(b *testing.B) {
	for _, batch := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchmarkPushTraffic(b, batch) })
	}
}

func benchmarkPushTraffic(b *testing.B, batch int) {
	s := openStore(b, filepath.Join(b.TempDir(), "relay.db"))
	ctx := context.Background()
	load := newPushTraffic()
	start, writes := cpuTime(b), writeCalls()
	for b.Loop() {
		if err := s.Apply(ctx, load.batch(batch)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/float64(load.pushID), "cpu-µs/push")
	if writes >= 0 {
		b.ReportMetric(float64(writeCalls()-writes)/float64(load.pushID), "writes/push")
	}
}

// pushTraffic makes the batches of BenchmarkApplyPushTraffic.
type pushTraffic struct {
	at               time.Time
	seqs, senderSeqs []uint64
	unread           []int
	pushID, msgs     uint64
	last             []relay.Push // the last batch's pushes, answered in the next
	rng              uint64
}

const trafficDevices, trafficSenders, trafficApp = 5000, 300, 1400000001

func newPushTraffic() *pushTraffic {
	return &pushTraffic{at: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), seqs: make([]uint64, trafficDevices),
		senderSeqs: make([]uint64, trafficSenders), unread: make([]int, trafficDevices), rng: 1}
}

// batch is the records of the next batch: n messages and the answers to the last batch's pushes.
func (t *pushTraffic) batch(n int) []relay.Record {
	var recs []relay.Record
	var trace []relay.TraceEntry
	for _, p := range t.last {
		recs = append(recs, relay.DeletePush{ID: p.ID})
		trace = append(trace, relay.TraceEntry{Time: t.at, SDKAppID: p.Device.SDKAppID, UserID: p.Device.UserID,
			DeviceID: p.Device.DeviceID, CertificateID: p.CertificateID, Seq: p.Seqs[0], MsgID: p.Data[relay.PushDataMsgID],
			Reason: "fcm-ok", PushID: p.ID, Attempt: 1, FCMName: fmt.Sprintf("projects/demo/messages/%d", p.ID)})
	}
	t.last = t.last[:0]
	for range n {
		t.rng = t.rng*6364136223846793005 + 1442695040888963407
		d, from := int(t.rng>>33)%trafficDevices, int(t.rng>>17)%trafficSenders
		user, sender := fmt.Sprintf("load-u%d", d), fmt.Sprintf("load-s%d", from)
		dev := relay.DeviceKey{SDKAppID: trafficApp, UserID: user, DeviceID: "phone"}
		t.seqs[d]++
		t.senderSeqs[from]++
		t.unread[d]++
		t.msgs++
		t.pushID++
		t.at = t.at.Add(250 * time.Microsecond)
		id := fmt.Sprintf("%d-%d", trafficApp, t.msgs)
		msg := relay.StoredMsg{Seq: t.seqs[d], ID: id, From: sender, FromDevice: "phone", Conv: "c2c_" + sender,
			Text: "a message of some fifty bytes, as chats have them", Time: t.at}
		own := msg
		own.Seq, own.Conv = t.senderSeqs[from], "c2c_"+user
		recs = append(recs,
			relay.PutMessage{User: relay.UserKey{SDKAppID: trafficApp, UserID: user}, Msg: msg},
			relay.PutMessage{User: relay.UserKey{SDKAppID: trafficApp, UserID: sender}, Msg: own},
			relay.PutSession{Session: relay.SessionState{Key: dev, Platform: "android", LoginAt: t.at, Unread: t.unread[d],
				Caps: &relay.CapsState{BucketFull: t.at}}})
		p := relay.Push{ID: t.pushID, Device: dev, CertificateID: 6768, Token: "tok-" + user, Title: sender,
			Body: msg.Text, Data: map[string]string{"msgId": id, "conv": msg.Conv},
			NotificationCount: t.unread[d], Seqs: []uint64{t.seqs[d]}, Attempt: 1}
		recs = append(recs, relay.PutPush{Push: relay.PushState{Push: p}})
		trace = append(trace,
			relay.TraceEntry{Time: t.at, SDKAppID: trafficApp, UserID: user, DeviceID: dev.DeviceID,
				CertificateID: 6768, Seq: t.seqs[d], MsgID: id, Reason: "pushed", PushID: t.pushID, Attempt: 1},
			relay.TraceEntry{Time: t.at, SDKAppID: trafficApp, UserID: sender, DeviceID: "phone",
				CertificateID: 6768, Seq: t.senderSeqs[from], MsgID: id, Reason: "online"})
		t.last = append(t.last, p)
	}
	return append(recs, relay.PutCounter{Name: "messages", Value: t.msgs}, relay.PutCounter{Name: "pushes", Value: t.pushID},
		relay.AppendTrace{Entries: trace})
}
