package chunked

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// contents is the deque's elements, oldest first, read both ways (All and At).
func contents(t *testing.T, d *Deque[int]) []int {
	t.Helper()
	var all []int
	for e := range d.All() {
		all = append(all, *e)
	}
	var at []int
	for i := range d.Len() {
		at = append(at, *d.At(i))
	}
	if !slices.Equal(all, at) {
		require.Equal(t, all, at, "All and At disagree")
	}
	require.Len(t, all, d.Len())
	return all
}

// A deque does what a slice appended to at the back and cut at the front does, across chunk
// boundaries, whatever the mix of appends, drops and deletes.
func TestDequeBehavesAsASlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var d Deque[int]
	var model []int
	next := 0
	for step := range 300 {
		switch op := rng.IntN(10); {
		case op < 6:
			for range rng.IntN(chunkSize) {
				d.PushBack(next)
				model = append(model, next)
				next++
			}
		case op < 8:
			k := rng.IntN(chunkSize * 2)
			d.DropFront(k)
			model = model[min(k, len(model)):]
		default:
			mod := 2 + rng.IntN(7)
			removed := d.DeleteFunc(func(v *int) bool { return *v%mod == 0 })
			before := len(model)
			model = slices.DeleteFunc(model, func(v int) bool { return v%mod == 0 })
			require.Equal(t, before-len(model), removed, "step %d", step)
		}
		if got := contents(t, &d); !slices.Equal(model, got) {
			require.Equal(t, model, got, "step %d", step)
		}
	}
}

// A deque used as a ring (drop one, push one) keeps reusing its chunks: it allocates nothing
// once it has filled, and elements it dropped are zeroed, not kept alive.
func TestDequeAsARingAllocatesNothingAndForgets(t *testing.T) {
	var d Deque[*int]
	const limit = 3*chunkSize + 7
	push := func() {
		if d.Len() == limit {
			d.DropFront(1)
		}
		d.PushBack(new(int))
	}
	for range 2 * limit {
		push()
	}
	require.Zero(t, testing.AllocsPerRun(2*chunkSize, func() {
		if d.Len() == limit {
			d.DropFront(1)
		}
		d.PushBack(nil)
	}))
	require.Equal(t, limit, d.Len())
	for ci, c := range d.chunks {
		from := 0
		if ci == 0 {
			from = d.front
		}
		for i := range from {
			require.Nil(t, c[:cap(c)][i], "chunk %d slot %d: a dropped element is still held", ci, i)
		}
	}
	d.DropFront(limit)
	require.Zero(t, d.Len())
	require.Nil(t, d.chunks, "an emptied deque lets its chunks go")
}
