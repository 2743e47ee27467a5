package timerq

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
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

// TestPropertyQueueOrder pushes and pops at random and checks every pop against a sorted model.
func TestPropertyQueueOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var q Queue[int]
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		type item struct {
			at  time.Time
			seq int
		}
		var model []item
		n := 0
		for range rapid.IntRange(1, 200).Draw(t, "ops") {
			if len(model) == 0 || rapid.Bool().Draw(t, "push") {
				at := t0.Add(time.Duration(rapid.IntRange(0, 20).Draw(t, "at")) * time.Second)
				n++
				q.Push(at, n)
				model = append(model, item{at, n})
				continue
			}
			if rapid.IntRange(0, 9).Draw(t, "filter") == 0 {
				q.Filter(func(v int) bool { return v%3 != 0 })
				model = slices.DeleteFunc(model, func(it item) bool { return it.seq%3 == 0 })
				continue
			}
			best := 0
			for i, it := range model {
				if it.at.Before(model[best].at) || (it.at.Equal(model[best].at) && it.seq < model[best].seq) {
					best = i
				}
			}
			at, v, ok := q.Pop()
			if !ok || v != model[best].seq || !at.Equal(model[best].at) {
				t.Fatalf("popped %v %d %v, want %v %d", at, v, ok, model[best].at, model[best].seq)
			}
			model = slices.Delete(model, best, best+1)
		}
		if q.Len() != len(model) {
			t.Fatalf("len %d, want %d", q.Len(), len(model))
		}
	})
}

func TestZeroTimeComesFirst(t *testing.T) {
	var q Queue[string]
	q.Push(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "later")
	q.Push(time.Time{}, "asap")
	_, v, ok := q.PopDue(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	require.True(t, ok)
	require.Equal(t, "asap", v)
}
