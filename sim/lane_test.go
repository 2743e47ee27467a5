package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLaneDeliversInOrderAndReusesItsArray: frames arrive in the order sent whatever their
// delays, and a lane that drained takes the next frames into the array it already has.
func TestLaneDeliversInOrderAndReusesItsArray(t *testing.T) {
	eng := NewEngine(Epoch)
	var got []int
	l := lane[int]{to: arriveFunc[int](func(f int) { got = append(got, f) })}
	for i, d := range []time.Duration{30, 10, 20} {
		l.send(eng, d*time.Millisecond, i)
	}
	eng.RunUntil(Epoch.Add(time.Second))
	require.Equal(t, []int{0, 1, 2}, got)
	require.Zero(t, l.head)
	require.Empty(t, l.q)
	array := &l.q[:1][0]
	l.send(eng, time.Millisecond, 3)
	l.send(eng, time.Millisecond, 4)
	require.Same(t, array, &l.q[0], "the drained lane's array is reused")
	eng.RunUntil(Epoch.Add(2 * time.Second))
	require.Equal(t, []int{0, 1, 2, 3, 4}, got)
}

// TestALaneThatNeverDrainsStaysSmall: a lane that always has a frame on its way, one sent for
// each delivered, keeps an array the size of its frames in flight, not of every frame it carried.
func TestALaneThatNeverDrainsStaysSmall(t *testing.T) {
	eng := NewEngine(Epoch)
	var l lane[int]
	var got []int
	l.to = arriveFunc[int](func(f int) {
		got = append(got, f)
		if f < 1000 {
			l.send(eng, time.Millisecond, f+2) // one more on its way before the lane drains
		}
	})
	l.send(eng, time.Millisecond, 0)
	l.send(eng, time.Millisecond, 1)
	eng.RunUntil(Epoch.Add(time.Hour))
	require.Len(t, got, 1002)
	for i, f := range got {
		require.Equal(t, i, f, "in order")
	}
	require.LessOrEqual(t, cap(l.q), 8, "the array holds the frames in flight, not every frame carried")
}

// arriveFunc is a function as a lane's end.
type arriveFunc[T any] func(T)

func (a arriveFunc[T]) arrive(f T) { a(f) }
