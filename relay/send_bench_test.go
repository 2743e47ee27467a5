package relay

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
)

// BenchmarkSendAmongManyUsers is the core's one-to-one send as a day in the life makes it: a
// connected sender's message to a user picked at random, whose app is killed, so that the
// message is stored twice and pushed once. With many users the records a send reaches are
// seldom in the cache, which is what the per-send cost at 100,000 phones is mostly made of.
// "warm" gives the core the hints of the next eight sends (Warm) before every eighth, as the
// simulator does.
func BenchmarkSendAmongManyUsers(b *testing.B) {
	for _, users := range []int{1_000, 100_000} {
		for _, warm := range []bool{false, true} {
			b.Run(fmt.Sprintf("users=%d/warm=%v", users, warm), func(b *testing.B) {
				c, err := New(Config{FramesPerSecond: 1_000_000, FrameBurst: 1_000_000, InboxLimit: 100, TraceLimit: 1000}, nil)
				require.NoError(b, err)
				now := epoch
				_, err = c.PutApp(now, AppConfig{SDKAppID: testApp, SecretKey: secret.New(testSecret), LoginPolicy: PolicyMulti}, true)
				require.NoError(b, err)
				_, err = c.PutCertificate(now, Certificate{ID: testCert, SDKAppID: testApp, Platform: "google", PackageName: "com.example.im",
					ServiceAccount: secret.New(`{"type":"service_account","project_id":"demo","private_key":"k","client_email":"a@b.c","private_key_id":"abcdef"}`)}, true)
				require.NoError(b, err)
				// Every user logs in and binds a token; the even ones stay connected (the senders),
				// the odd ones swipe the app away (the recipients).
				ids := make([]string, users)
				for i := range users {
					ids[i] = fmt.Sprintf("u%d", i)
					id := ConnID(i + 1)
					c.Open(now, id)
					c.Receive(now, id, ClientFrame{Op: OpLogin, ID: 1, SDKAppID: testApp, UserID: ids[i], UserSig: sig(ids[i], now.Add(48*time.Hour)), DeviceID: "d" + ids[i]})
					c.Receive(now, id, ClientFrame{Op: OpSetPushToken, ID: 2, CertificateID: testCert, Token: "tok-" + ids[i]})
					c.Receive(now, id, ClientFrame{Op: OpSync, ID: 3})
					if i%2 == 1 {
						c.Closed(now, id)
					}
					c.TakeReady()
				}
				rng := rand.New(rand.NewPCG(1, 2))
				pairs := make([][2]int, b.N+warmBatch)
				for i := range pairs {
					pairs[i] = [2]int{2 * rng.IntN(users/2), 2*rng.IntN(users/2) + 1}
				}
				var hints [warmBatch]SendHint
				var pushes int
				b.ResetTimer()
				for i := range b.N {
					if warm && i%warmBatch == 0 {
						for j, p := range pairs[i : i+warmBatch] {
							hints[j] = SendHint{SDKAppID: testApp, From: ids[p[0]], To: ids[p[1]]}
						}
						c.Warm(hints[:])
					}
					now = now.Add(time.Millisecond)
					from, to := pairs[i][0], pairs[i][1]
					c.Receive(now, ConnID(from+1), ClientFrame{Op: OpSend, ID: int64(i), To: ids[to], Text: "hi"})
					for _, p := range c.TakeReady().Pushes {
						c.PushResult(now, PushResult{ID: p.ID, Name: "projects/demo/messages/1"})
						pushes++
					}
				}
				b.StopTimer()
				require.Positive(b, pushes, "the sends were pushed")
			})
		}
	}
}
