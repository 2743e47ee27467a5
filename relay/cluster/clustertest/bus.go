package clustertest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
)

// RunBus runs the Bus behaviour suite. open returns two handles on one fresh bus, as two nodes
// see it (two connections to one NATS server; the same MemBus twice), cleaned up through t.
func RunBus(t *testing.T, open func(t *testing.T) (a, b cluster.Bus)) {
	const subject = "pushlab.test.p.1"
	ctx := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("every wire message survives encode, publish, decode", func(t *testing.T) {
		a, b := open(t)
		got := make(chan cluster.Message, len(WireSamples()))
		unsub, err := b.Subscribe(cluster.GatewaySubject("test", "node-b"), func(m cluster.Msg) {
			require.Nil(t, m.Reply, "a published message has nobody to reply to")
			dm, err := cluster.Decode(m.Data)
			if err != nil {
				t.Errorf("decode: %v", err)
				return
			}
			got <- dm
		})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, unsub()) })
		for _, want := range WireSamples() {
			data, err := cluster.Encode(want)
			require.NoError(t, err)
			require.NoError(t, a.Publish(ctx(t), cluster.GatewaySubject("test", "node-b"), data))
			select {
			case m := <-got:
				require.Empty(t, cmp.Diff(want, m), "%s changed on the way", want.Kind())
			case <-ctx(t).Done():
				require.FailNow(t, "no message", "%s was not delivered", want.Kind())
			}
		}
	})

	t.Run("a request is answered by its subscriber", func(t *testing.T) {
		a, b := open(t)
		req := WireSamples()[6].(cluster.SendRequest)
		answer := cluster.SendAnswer{Code: relay.OK, Seqs: map[string]uint64{"bob": 1, "carol": 2}}
		unsub, err := b.Subscribe(subject, func(m cluster.Msg) {
			dm, err := cluster.Decode(m.Data)
			if err != nil || m.Reply == nil {
				t.Errorf("request %v without a reply function, or undecodable: %v", dm, err)
				return
			}
			if d := cmp.Diff(req, dm); d != "" {
				t.Errorf("request changed on the way:\n%s", d)
			}
			data, err := cluster.Encode(answer)
			if err == nil {
				err = m.Reply(data)
			}
			if err != nil {
				t.Errorf("reply: %v", err)
			}
		})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, unsub()) })
		data, err := cluster.Encode(req)
		require.NoError(t, err)
		back, err := a.Request(ctx(t), subject, data)
		require.NoError(t, err)
		got, err := cluster.Decode(back)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(cluster.Message(answer), got))
	})

	t.Run("a request nobody listens to is unavailable, not lost", func(t *testing.T) {
		a, b := open(t)
		_, err := a.Request(ctx(t), subject, []byte("x"))
		require.ErrorIs(t, err, cluster.ErrUnavailable)

		unsub, err := b.Subscribe(subject, func(m cluster.Msg) { _ = m.Reply([]byte("here")) })
		require.NoError(t, err)
		back, err := a.Request(ctx(t), subject, []byte("x"))
		require.NoError(t, err)
		require.Equal(t, "here", string(back))

		require.NoError(t, unsub())
		_, err = a.Request(ctx(t), subject, []byte("x"))
		require.ErrorIs(t, err, cluster.ErrUnavailable, "after the owner unsubscribed")
		require.NoError(t, a.Publish(ctx(t), subject, []byte("x")), "a publish nobody hears is no error")
	})

	t.Run("a request nobody answers ends at its deadline", func(t *testing.T) {
		a, b := open(t)
		heard := make(chan struct{}, 1)
		unsub, err := b.Subscribe(subject, func(cluster.Msg) { heard <- struct{}{} }) // never replies
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, unsub()) })
		short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err = a.Request(short, subject, []byte("x"))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NotErrorIs(t, err, cluster.ErrUnavailable, "someone listened")
		select {
		case <-heard:
		case <-ctx(t).Done():
			require.FailNow(t, "the subscriber never got the request")
		}

		done, cancelDone := context.WithCancel(context.Background())
		cancelDone()
		_, err = a.Request(done, subject, []byte("x"))
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("a started request goes out in order with publishes, and is waited for later", func(t *testing.T) {
		a, b := open(t)
		got := make(chan string, 3)
		unsub, err := b.Subscribe(subject, func(m cluster.Msg) {
			got <- string(m.Data)
			if m.Reply != nil {
				_ = m.Reply([]byte("ack:" + string(m.Data)))
			}
		})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, unsub()) })
		require.NoError(t, a.Publish(ctx(t), subject, []byte("before")))
		wait, err := a.StartRequest(ctx(t), subject, []byte("open"))
		require.NoError(t, err)
		require.NoError(t, a.Publish(ctx(t), subject, []byte("after")))
		back, err := wait()
		require.NoError(t, err)
		require.Equal(t, "ack:open", string(back))
		for _, want := range []string{"before", "open", "after"} {
			select {
			case m := <-got:
				require.Equal(t, want, m, "messages arrive in the order they were sent")
			case <-ctx(t).Done():
				require.FailNow(t, "no message", "%q was not delivered", want)
			}
		}

		wait, err = a.StartRequest(ctx(t), "pushlab.test.p.2", []byte("x"))
		require.NoError(t, err)
		_, err = wait()
		require.ErrorIs(t, err, cluster.ErrUnavailable, "nobody listens on partition 2")
	})

	t.Run("only the first reply counts", func(t *testing.T) {
		a, b := open(t)
		for _, answer := range []string{"first", "second"} {
			unsub, err := b.Subscribe(subject, func(m cluster.Msg) { _ = m.Reply([]byte(answer)) })
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, unsub()) })
		}
		back, err := a.Request(ctx(t), subject, []byte("x"))
		require.NoError(t, err)
		require.Contains(t, []string{"first", "second"}, string(back))
	})
}
