// Package chunked holds Deque, a first-in first-out sequence kept in fixed-size chunks, for
// logs that grow to hundreds of thousands of entries and are trimmed from the front: appending
// never copies what is already held (a growing slice copies all of it at every doubling, and the
// garbage collector then scans both copies), and trimming frees whole chunks instead of shifting
// the rest down.
package chunked

import "iter"

// chunkSize is how many elements one chunk holds.
const chunkSize = 1024

// Deque is a FIFO sequence of T. The zero Deque is empty and ready to use. Every chunk but the
// last is full; the first element is chunks[0][front].
type Deque[T any] struct {
	chunks [][]T
	front  int
	n      int
	spare  []T // an emptied chunk kept for the next one needed, so a steady ring allocates none
}

// Len is how many elements the deque holds.
func (d *Deque[T]) Len() int { return d.n }

// PushBack appends v.
func (d *Deque[T]) PushBack(v T) {
	if len(d.chunks) == 0 || len(d.chunks[len(d.chunks)-1]) == chunkSize {
		c := d.spare
		d.spare = nil
		if c == nil {
			c = make([]T, 0, chunkSize)
		}
		d.chunks = append(d.chunks, c)
	}
	last := len(d.chunks) - 1
	d.chunks[last] = append(d.chunks[last], v)
	d.n++
}

// At is the element at index i (0 is the oldest); i must be below Len.
func (d *Deque[T]) At(i int) *T {
	if i < 0 || i >= d.n {
		panic("chunked: index out of range")
	}
	j := d.front + i
	return &d.chunks[j/chunkSize][j%chunkSize]
}

// All yields the elements from oldest to newest.
func (d *Deque[T]) All() iter.Seq[*T] {
	return func(yield func(*T) bool) {
		for ci, c := range d.chunks {
			from := 0
			if ci == 0 {
				from = d.front
			}
			for i := from; i < len(c); i++ {
				if !yield(&c[i]) {
					return
				}
			}
		}
	}
}

// DropFront removes the k oldest elements (all of them if k ≥ Len).
func (d *Deque[T]) DropFront(k int) {
	k = min(k, d.n)
	for k > 0 {
		c := d.chunks[0]
		take := min(k, len(c)-d.front)
		clear(c[d.front : d.front+take]) // let what they point to go
		d.front += take
		d.n -= take
		k -= take
		if d.front < len(c) {
			break
		}
		d.front = 0
		if len(d.chunks) == 1 {
			d.chunks[0] = c[:0]
			break
		}
		d.spare = c[:0]
		d.chunks[0] = nil
		d.chunks = d.chunks[1:]
	}
	if d.n == 0 {
		*d = Deque[T]{} // let the chunks go
	}
}

// DeleteFunc removes the elements del reports true for, keeping the others in order, and
// returns how many it removed.
func (d *Deque[T]) DeleteFunc(del func(*T) bool) int {
	w := 0
	for r := range d.n {
		e := d.At(r)
		if del(e) {
			continue
		}
		if w != r {
			*d.At(w) = *e
		}
		w++
	}
	removed := d.n - w
	d.truncate(w)
	return removed
}

// truncate keeps the first n elements.
func (d *Deque[T]) truncate(n int) {
	if n == 0 {
		*d = Deque[T]{}
		return
	}
	end := d.front + n // one past the last kept element, counted from chunks[0][0]
	keep := (end + chunkSize - 1) / chunkSize
	for ci := keep - 1; ci < len(d.chunks); ci++ {
		from := 0
		if ci == keep-1 {
			from = end - ci*chunkSize
		}
		clear(d.chunks[ci][from:])
		d.chunks[ci] = d.chunks[ci][:from]
	}
	clear(d.chunks[keep:])
	d.chunks = d.chunks[:keep]
	d.n = n
}
