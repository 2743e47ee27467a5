package storecol

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/ratelimit"
	"github.com/pushlab/pushlab/relay"
)

func TestNanosRoundTrip(t *testing.T) {
	v, err := Nanos(time.Time{})
	require.NoError(t, err)
	require.Nil(t, v, "the zero time is NULL")
	require.True(t, Time(nil).IsZero())

	for _, at := range []time.Time{
		time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600)),
		time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64), time.Unix(0, 0),
	} {
		v, err := Nanos(at)
		require.NoError(t, err, at)
		ns := v.(int64)
		got := Time(&ns)
		require.True(t, got.Equal(at), "%v came back as %v", at, got)
		require.Equal(t, time.UTC, got.Location())
	}
}

func TestNanosRefusesOutOfRange(t *testing.T) {
	for _, at := range []time.Time{
		time.Unix(0, math.MaxInt64).Add(time.Nanosecond),
		time.Unix(0, math.MinInt64).Add(-time.Nanosecond),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
	} {
		_, err := Nanos(at)
		require.ErrorContains(t, err, "out of the range", at)
	}
}

func TestStringsRefusesInvalidUTF8(t *testing.T) {
	s, err := Strings([]string{"a", "b\x00c", "é"})
	require.NoError(t, err)
	require.Equal(t, `["a","b\u0000c","é"]`, s)
	_, err = Strings([]string{"a", "\xff"})
	require.ErrorContains(t, err, "not valid UTF-8")
}

func TestDataRefusesInvalidUTF8(t *testing.T) {
	s, err := Data(map[string]string{"msgId": "m1", "k": "v"})
	require.NoError(t, err)
	require.Equal(t, `{"k":"v","msgId":"m1"}`, s)
	_, err = Data(map[string]string{"\xff": "v"})
	require.ErrorContains(t, err, "not valid UTF-8", "key")
	_, err = Data(map[string]string{"k": "\xfe"})
	require.ErrorContains(t, err, "not valid UTF-8", "value")
}

func TestCapsRoundTrip(t *testing.T) {
	s, err := Caps(nil)
	require.NoError(t, err)
	require.Nil(t, s, "no caps state is NULL")
	c, err := ParseCaps(nil)
	require.NoError(t, err)
	require.Nil(t, c)

	want := &relay.CapsState{
		PerMinute:  ratelimit.WindowState{Head: 42, Slots: []ratelimit.SlotCount{{Index: 40, Count: 3}}},
		BucketFull: time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC),
	}
	s, err = Caps(want)
	require.NoError(t, err)
	got, err := ParseCaps(s)
	require.NoError(t, err)
	require.Empty(t, cmp.Diff(want, got))

	bad := "{"
	_, err = ParseCaps(&bad)
	require.Error(t, err)
}

func TestTraceSeqsRoundTrip(t *testing.T) {
	for _, none := range [][]uint64{nil, {}} {
		s, err := TraceSeqs(none)
		require.NoError(t, err)
		require.Equal(t, "", s, "no seqs is the empty string")
	}
	got, err := ParseTraceSeqs("")
	require.NoError(t, err)
	require.Nil(t, got)

	want := []uint64{1, 7, math.MaxUint64}
	s, err := TraceSeqs(want)
	require.NoError(t, err)
	got, err = ParseTraceSeqs(s)
	require.NoError(t, err)
	require.Equal(t, want, got)

	_, err = ParseTraceSeqs("[1,")
	require.Error(t, err)
}

func TestCheckSchemaVersion(t *testing.T) {
	tooNew := errors.New("too new")
	for v := range 4 {
		require.NoError(t, CheckSchemaVersion(v, 3, tooNew), v)
	}
	err := CheckSchemaVersion(4, 3, tooNew)
	require.ErrorIs(t, err, tooNew)
	require.ErrorContains(t, err, "schema version 4, this relay knows versions up to 3")
	require.ErrorContains(t, CheckSchemaVersion(-1, 3, tooNew), "schema_version -1 is not a version")
}
