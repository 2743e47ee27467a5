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
	const devices, senders, app = 5000, 300, 1400000001
	s := openStore(b, filepath.Join(b.TempDir(), "relay.db"))
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	seqs := make([]uint64, devices)
	senderSeqs := make([]uint64, senders)
	unread := make([]int, devices)
	var pushID, msgs uint64
	var last []relay.Push
	rng := uint64(1)
	start, writes := cpuTime(b), writeCalls()
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
			d, from := int(rng>>33)%devices, int(rng>>17)%senders
			user, sender := fmt.Sprintf("load-u%d", d), fmt.Sprintf("load-s%d", from)
			dev := relay.DeviceKey{SDKAppID: app, UserID: user, DeviceID: "phone"}
			seqs[d]++
			senderSeqs[from]++
			unread[d]++
			msgs++
			pushID++
			at = at.Add(250 * time.Microsecond)
			id := fmt.Sprintf("%d-%d", app, msgs)
			msg := relay.StoredMsg{Seq: seqs[d], ID: id, From: sender, FromDevice: "phone", Conv: "c2c_" + sender,
				Text: "a message of some fifty bytes, as chats have them", Time: at}
			own := msg
			own.Seq, own.Conv = senderSeqs[from], "c2c_"+user
			recs = append(recs,
				relay.PutMessage{User: relay.UserKey{SDKAppID: app, UserID: user}, Msg: msg},
				relay.PutMessage{User: relay.UserKey{SDKAppID: app, UserID: sender}, Msg: own},
				relay.PutSession{Session: relay.SessionState{Key: dev, Platform: "android", LoginAt: at, Unread: unread[d],
					Caps: &relay.CapsState{BucketFull: at}}})
			p := relay.Push{ID: pushID, Device: dev, CertificateID: 6768, Token: "tok-" + user, Title: sender,
				Body: msg.Text, Data: map[string]string{"msgId": id, "conv": msg.Conv},
				NotificationCount: unread[d], Seqs: []uint64{seqs[d]}, Attempt: 1}
			recs = append(recs, relay.PutPush{Push: relay.PushState{Push: p}})
			trace = append(trace,
				relay.TraceEntry{Time: at, SDKAppID: app, UserID: user, DeviceID: dev.DeviceID,
					CertificateID: 6768, Seq: seqs[d], MsgID: id, Reason: "pushed", PushID: pushID, Attempt: 1},
				relay.TraceEntry{Time: at, SDKAppID: app, UserID: sender, DeviceID: "phone",
					CertificateID: 6768, Seq: senderSeqs[from], MsgID: id, Reason: "online"})
			last = append(last, p)
		}
		recs = append(recs, relay.PutCounter{Name: "messages", Value: msgs}, relay.PutCounter{Name: "pushes", Value: pushID},
			relay.AppendTrace{Entries: trace})
		if err := s.Apply(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/float64(pushID), "cpu-µs/push")
	if writes >= 0 {
		b.ReportMetric(float64(writeCalls()-writes)/float64(pushID), "writes/push")
	}
}
