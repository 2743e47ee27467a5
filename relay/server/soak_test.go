package server

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// soakSize is how many rounds of churn the soak test plays, and with how many phones: short in
// the normal suite, as long as PUSHLAB_SOAK_ROUNDS and PUSHLAB_SOAK_PHONES say under make soak.
func soakSize(t *testing.T) (rounds, phones int) {
	rounds, phones = 3, 30
	for name, v := range map[string]*int{"PUSHLAB_SOAK_ROUNDS": &rounds, "PUSHLAB_SOAK_PHONES": &phones} {
		if s := os.Getenv(name); s != "" {
			n, err := strconv.Atoi(s)
			require.NoError(t, err, "%s=%q: want a whole number", name, s)
			require.Positive(t, n, "%s must be at least 1", name)
			*v = n
		}
	}
	return rounds, phones
}

// heapAndGoroutines is the live heap after a full collection and the number of goroutines.
func heapAndGoroutines() (heap uint64, goroutines int) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, runtime.NumGoroutine()
}

// TestSoakChurnReturnsToBaseline plays rounds of the churn a relay lives with — phones connect,
// log in and report tokens, half are killed, every phone gets a message (the killed ones as a
// push), the killed ones relaunch and sync, everyone logs out and goes — and checks that once a
// round is over the relay is back where it started: the same number of goroutines, and a heap
// grown by no more than the messages and trace it keeps by design.
func TestSoakChurnReturnsToBaseline(t *testing.T) {
	rounds, phones := soakSize(t)
	synctest.Test(t, func(t *testing.T) {
		// The sender writes a message to every phone back to back: far over the 20 frames a
		// second one connection may send by default.
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{FramesPerSecond: 100_000, FrameBurst: 100_000})
		b.provision()
		user := func(i int) string { return fmt.Sprintf("u%d", i) }
		pushed := 0
		round := func(r int) {
			sender := b.launch("sender", "sender-phone")
			apps := make([]*app, phones)
			for i := range apps {
				apps[i] = b.launch(user(i), user(i)+"-phone")
			}
			for i := 0; i < phones; i += 2 {
				require.NoError(t, apps[i].conn.Drop()) // killed: still logged in
			}
			synctest.Wait()
			text := fmt.Sprintf("round %d", r)
			for i := range apps {
				sender.send(user(i), text)
			}
			synctest.Wait()
			pushed += (phones + 1) / 2
			require.Len(t, b.sender.sent(), pushed, "round %d: every killed phone is pushed once", r)
			for i := 0; i < phones; i += 2 {
				apps[i] = b.launch(user(i), user(i)+"-phone") // relaunch: login, token, sync
			}
			for i, a := range apps {
				_, err := a.conn.Do(context.Background(), relay.ClientFrame{Op: relay.OpLogout})
				require.NoError(t, err, "round %d: logout of %s", r, user(i))
				require.NoError(t, a.conn.Close())
			}
			require.NoError(t, sender.conn.Close())
			synctest.Wait()
			// Deadlines set on connections now gone (writes, heartbeats) keep their buffers until
			// they fire: let the fake clock run past all of them.
			time.Sleep(5 * time.Minute)
		}

		round(0) // warm-up: users, devices, bindings and the relay's pools now exist
		heap0, g0 := heapAndGoroutines()
		for r := 1; r <= rounds; r++ {
			round(r)
		}
		heap1, g1 := heapAndGoroutines()
		t.Logf("%d rounds of %d phones: goroutines %d → %d, heap %d KiB → %d KiB", rounds, phones, g0, g1, heap0>>10, heap1>>10)
		require.Equal(t, g0, g1, "goroutines after the churn")
		// What the relay keeps by design: each message (stored for sync) and its trace entries.
		// 4 KiB per message is several times what they take; a leak of a connection's buffers
		// or goroutine stacks (tens of KiB each) would break it.
		kept := uint64(rounds*phones) * 4 << 10
		require.LessOrEqual(t, heap1, heap0+kept+(1<<20), "heap after the churn: %d KiB over the baseline", (int64(heap1)-int64(heap0))>>10)
	})
}
