package relay

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestWarmChangesNothing: the same sends, with or without Warm's hints before each (naming the
// users, users the core has never seen, and an app it does not have), give the same frames,
// pushes, trace and user records, and a hint makes no record of its own.
func TestWarmChangesNothing(t *testing.T) {
	type outcome struct {
		Frames map[ConnID][]ServerFrame
		Pushes []Push
		Trace  []TraceEntry
		Users  []UserView
		Stats  Stats
		Known  int
	}
	run := func(warm bool) outcome {
		w := newWorld(t, Config{DefaultCaps: tinyCaps, Seed: 9})
		alice := w.login("alice", "alice-phone")
		bob := w.login("bob", "bob-phone")
		carol := w.login("carol", "carol-phone")
		alice.kill()
		carol.kill()
		for i := range 12 {
			if warm {
				w.core.Warm([]SendHint{{testApp, "bob", "alice"}, {testApp, "bob", "carol"}, {testApp, "bob", "nobody"},
					{testApp, "nobody", "alice"}, {testApp + 1, "bob", "alice"}, {testApp, "", ""}})
			}
			bob.send([]string{"alice", "carol", "bob"}[i%3], fmt.Sprint(i))
			if i%4 == 0 {
				ps := w.pushes
				w.core.PushResult(w.now, PushResult{ID: ps[len(ps)-1].ID, Err: &PushError{Code: "UNAVAILABLE"}})
				w.settle()
			}
			w.advance(7 * time.Second)
		}
		w.advance(time.Hour)
		var out outcome
		for _, id := range []string{"alice", "bob", "carol", "nobody"} {
			if u, ok := w.core.User(testApp, id); ok {
				out.Users = append(out.Users, u)
			}
		}
		out.Frames, out.Pushes, out.Stats, out.Known = w.frames, w.pushes, w.core.Stats(), len(w.core.users)
		out.Trace = w.core.PushTrace(TraceQuery{SDKAppID: testApp})
		return out
	}
	cold, warm := run(false), run(true)
	require.Len(t, cold.Users, 3, "nobody, whom only hints named, has no record")
	require.Equal(t, 3, cold.Known)
	require.NotEmpty(t, cold.Pushes)
	require.Empty(t, cmp.Diff(cold, warm))
}
