package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestBucketBurstThenOnePerInterval(t *testing.T) {
	b := MustBucket(20, 3*time.Minute)
	for i := range 20 {
		require.True(t, b.Take(epoch), "token %d", i)
	}
	require.Equal(t, 0, b.Tokens(epoch))
	require.False(t, b.Take(epoch.Add(3*time.Minute-time.Nanosecond)))
	require.Equal(t, epoch.Add(3*time.Minute), b.Next(epoch))
	require.True(t, b.Take(epoch.Add(3*time.Minute)))
	require.Equal(t, 20, b.Tokens(epoch.Add(24*time.Hour)))
}

// TestBucketInitInPlace: a refused Init leaves the bucket as it was; an accepted one fills it.
func TestBucketInitInPlace(t *testing.T) {
	var b Bucket
	require.NoError(t, b.Init(2, time.Minute))
	require.True(t, b.Take(epoch))
	require.ErrorContains(t, b.Init(0, time.Minute), "both must be positive")
	require.Equal(t, 1, b.Tokens(epoch))
	require.NoError(t, b.Init(3, time.Minute))
	require.Equal(t, 3, b.Tokens(epoch))
}

// TestPropertyBucketBound checks the token-bucket bound against a brute-force count: in any
// interval [a, b], at most burst + floor((b-a)/interval) takes succeed.
func TestPropertyBucketBound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		burst := rapid.IntRange(1, 5).Draw(t, "burst")
		interval := time.Duration(rapid.IntRange(1, 10).Draw(t, "interval")) * time.Second
		b := MustBucket(burst, interval)
		now := epoch
		var taken []time.Time
		for range rapid.IntRange(1, 50).Draw(t, "events") {
			now = now.Add(time.Duration(rapid.Int64Range(0, int64(2*interval)).Draw(t, "gap")))
			if next := b.Next(now); next.After(now) && b.Allow(now) {
				t.Fatalf("Next(%v) = %v but Allow is true", now, next)
			}
			if b.Take(now) {
				taken = append(taken, now)
			}
		}
		for i := range taken {
			for j := i; j < len(taken); j++ {
				allowed := burst + int(taken[j].Sub(taken[i])/interval)
				if j-i+1 > allowed {
					t.Fatalf("%d takes in [%v, %v], at most %d allowed", j-i+1, taken[i], taken[j], allowed)
				}
			}
		}
	})
}
