package timerq

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestSplitRunsInTheOrderOfOneQueue: whatever mix of near and far items is pushed (many at the
// same instant, some in the past, some days away) and however the present moves, Split's two
// heaps pop items in the order one Queue does.
func TestSplitRunsInTheOrderOfOneQueue(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		q := NewSplit[int](time.Second)
		var ref Queue[int]
		var got, want []int
		var nearMax, farMax int
		now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC).UnixNano()
		draw := func() int64 {
			switch rng.IntN(4) {
			case 0:
				return now + rng.Int64N(int64(50*time.Millisecond))/int64(time.Millisecond)*int64(time.Millisecond)
			case 1:
				return now + rng.Int64N(int64(3*time.Second))
			case 2:
				return now + rng.Int64N(int64(24*time.Hour))
			}
			return now + int64(time.Second) - rng.Int64N(3) // at the split, either side of it
		}
		for n := 0; n < 3000; n++ {
			if rng.IntN(3) > 0 {
				at := draw()
				q.Push(now, at, n)
				ref.Push(time.Unix(0, at), n)
				nearMax, farMax = max(nearMax, q.near.Len()), max(farMax, q.far.Len())
				continue
			}
			deadline := now + rng.Int64N(int64(2*time.Second))
			for {
				at, v, ok := q.PopDue(deadline)
				rat, rv, rok := ref.PopDue(time.Unix(0, deadline))
				require.Equal(t, rok, ok, "seed %d", seed)
				if !ok {
					break
				}
				require.Equal(t, rat.UnixNano(), at, "seed %d", seed)
				got, want = append(got, v), append(want, rv)
				now = max(now, at)
			}
			now = max(now, deadline)
		}
		require.Equal(t, ref.Len(), q.Len())
		require.Empty(t, cmp.Diff(want, got), "seed %d", seed)
		require.Greater(t, nearMax, 3, "seed %d: the near heap was used", seed)
		require.Greater(t, farMax, 10, "seed %d: the far heap was used", seed)
	}
}

// BenchmarkSplit runs a mix of far and near items through Split and through one Queue: one entry
// per phone hours away (each phone's next planned action, as the simulator's day queued them
// before it followed a plan), and for each one popped eight frames crossing the network within
// moments. The one heap's cost per event grows with the phones.
func BenchmarkSplit(b *testing.B) {
	for _, phones := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("two-heaps/phones=%d", phones), func(b *testing.B) {
			q := NewSplit[struct{ fn, timer *int }](time.Second)
			runQueueMix(b, phones, func(now, at int64) { q.Push(now, at, struct{ fn, timer *int }{}) }, func() int64 {
				at, _, _ := q.PopDue(math.MaxInt64)
				return at
			})
		})
		b.Run(fmt.Sprintf("one-heap/phones=%d", phones), func(b *testing.B) {
			var q Queue[struct{ fn, timer *int }]
			runQueueMix(b, phones, func(_, at int64) { q.Push(time.Unix(0, at), struct{ fn, timer *int }{}) }, func() int64 {
				at, _, _ := q.Pop()
				return at.UnixNano()
			})
		})
	}
}

func runQueueMix(b *testing.B, phones int, push func(now, at int64), pop func() int64) {
	rng := rand.New(rand.NewPCG(1, 2))
	var now int64
	for range phones {
		push(now, rng.Int64N(int64(4*time.Hour)))
	}
	n := 0
	for b.Loop() {
		now = pop()
		if n++; n%9 == 0 {
			push(now, now+rng.Int64N(int64(4*time.Hour)))
		} else {
			push(now, now+int64(20*time.Millisecond)+rng.Int64N(int64(time.Millisecond)))
		}
	}
}
