package timerq

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestQueueOrdersByTimeThenPushOrder(t *testing.T) {
	var q Queue[string]
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q.Push(t0.Add(2*time.Second), "c")
	q.Push(t0.Add(time.Second), "a")
	q.Push(t0.Add(time.Second), "b")
	q.Push(t0, "first")
	var got []string
	for {
		_, v, ok := q.PopDue(t0.Add(time.Second))
		if !ok {
			break
		}
		got = append(got, v)
	}
	require.Equal(t, []string{"first", "a", "b"}, got)
	at, v, ok := q.Peek()
	require.True(t, ok)
	require.Equal(t, "c", v)
	require.Equal(t, t0.Add(2*time.Second), at)
	require.Equal(t, 1, q.Len())
}

func TestFilterKeepsOrder(t *testing.T) {
	var q Queue[int]
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		q.Push(t0.Add(time.Duration(10-i)*time.Second), i)
	}
	q.Filter(func(v int) bool { return v%2 == 0 })
	var got []int
	for q.Len() > 0 {
		_, v, _ := q.Pop()
		got = append(got, v)
	}
	require.Equal(t, []int{8, 6, 4, 2, 0}, got)
}
