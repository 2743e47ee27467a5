package prefetch

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPrefetchChangesNothing: a prefetch of every byte of a buffer, of nil, of a string running
// over several lines, of an empty one and of the next slots of slices with and without room
// leaves the memory as it was and does not fault.
func TestPrefetchChangesNothing(t *testing.T) {
	buf := make([]byte, 64*lineSize)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	want := append([]byte(nil), buf...)
	for i := range buf {
		Of(&buf[i])
	}
	Of[int](nil)
	String(string(buf[3 : 3+5*lineSize]))
	String("")
	Append(buf[:10])
	Append(buf)
	Append([]int(nil))
	require.Equal(t, want, buf)
}

// BenchmarkChase measures what a prefetch is for: following a chain of records scattered over
// 256 MiB, one line each, where each record's address is also known ahead (as a simulator's
// plan knows the phones its next steps touch). "dependent" waits for each record in turn;
// "prefetched" starts the fetch of the record eight hops ahead at each hop.
func BenchmarkChase(b *testing.B) {
	const lines = 256 << 20 / lineSize
	next := make([]uint32, lines*lineSize/4) // a record's first word: the next record's index
	order := rand.New(rand.NewPCG(1, 2)).Perm(lines)
	for i, r := range order {
		next[r*lineSize/4] = uint32(order[(i+1)%lines])
	}
	for _, ahead := range []int{0, 8} {
		name := map[int]string{0: "dependent", 8: "prefetched"}[ahead]
		b.Run(name, func(b *testing.B) {
			cur, hop := uint32(order[0]), 0
			for b.Loop() {
				if ahead > 0 {
					Of(&next[order[(hop+ahead)%lines]*lineSize/4])
				}
				cur = next[cur*lineSize/4]
				hop++
			}
			if hop > 0 && cur != uint32(order[hop%lines]) {
				b.Fatalf("the chain went astray at hop %d", hop)
			}
		})
	}
}
