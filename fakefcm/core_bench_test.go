package fakefcm

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkCoreSend measures the core's Send alone: validation, quotas, record, queue and
// delivery to a connected device that acknowledges.
func BenchmarkCoreSend(b *testing.B) {
	c, err := New(Config{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	p, _ := c.CreateProject(ProjectSpec{ID: "bench", SenderID: "1"})
	now := epoch
	var toks []string
	for range 1000 {
		tok, _ := c.RegisterDevice(now, DeviceSpec{SenderID: p.SenderID, PackageName: "com.example.im"})
		_ = c.Connect(now, tok)
		toks = append(toks, tok)
	}
	msg := Message{Notification: &Notification{Title: "bob", Body: "hi"}, Data: map[string]string{"seq": "1"},
		Android: &AndroidConfig{Priority: "high", CollapseKey: "c2c_bob"}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Millisecond)
		msg.Token = toks[i%len(toks)]
		r := c.Send(now, SendRequest{API: APIV1, Project: "bench", Message: msg})
		for _, d := range c.TakeOutbox() {
			_ = c.Ack(now, d.Token, d.Message.MessageID)
		}
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkDecodeV1 compares the one-pass decoder with the precise one on an Admin SDK body.
func BenchmarkDecodeV1(b *testing.B) {
	body := []byte(`{"message":{"token":"t","notification":{"title":"bob","body":"hi alice"},"data":{"conv":"c2c_bob","seq":"42"},"android":{"priority":"high","collapse_key":"c2c_bob","notification":{"notification_count":3}}}}`)
	for _, d := range []struct {
		name string
		fn   func([]byte) (*V1Request, *SendError)
	}{{"fast", DecodeV1Request}, {"precise", decodeV1Precise}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.fn(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCoreSendAmongManyDevices is Send as a day in the life makes it: each push to a device
// picked at random among many, in counts-only mode, acknowledged at once. With many devices the
// records a push reaches (the token's device, its throttles, its queue) are seldom in the cache,
// which is what a push costs at 100,000 phones.
func BenchmarkCoreSendAmongManyDevices(b *testing.B) {
	for _, devices := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("devices=%d", devices), func(b *testing.B) {
			c, err := New(Config{Seed: 1, CountsOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			p, _ := c.CreateProject(ProjectSpec{ID: "bench", SenderID: "1"})
			now := epoch
			toks := make([]string, devices)
			for i := range toks {
				toks[i], _ = c.RegisterDevice(now, DeviceSpec{SenderID: p.SenderID, PackageName: "com.example.im"})
				_ = c.Connect(now, toks[i])
			}
			msg := Message{Notification: &Notification{Title: "bob", Body: "hi"}, Data: map[string]string{"seq": "1"},
				Android: &AndroidConfig{Priority: "high", CollapseKey: "c2c_bob"}}
			send := func(tok string) {
				now = now.Add(time.Millisecond)
				msg.Token = tok
				r := c.Send(now, SendRequest{API: APIV1, Project: "bench", Message: msg})
				for _, d := range c.TakeOutbox() {
					_ = c.Ack(now, d.Token, d.Message.MessageID)
				}
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
			for _, tok := range toks { // each device's first push builds its throttles: not measured
				send(tok)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			for b.Loop() {
				send(toks[rng.IntN(devices)])
			}
		})
	}
}
