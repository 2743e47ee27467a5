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
