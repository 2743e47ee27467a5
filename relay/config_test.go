package relay

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
)

// TestConfigValidateNamesEachBadSetting: every setting out of range is refused with its name,
// and New returns that error (it does not panic).
func TestConfigValidateNamesEachBadSetting(t *testing.T) {
	neg := duration.Of(-time.Second)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative heartbeatDeadline", Config{HeartbeatDeadline: neg}, "heartbeatDeadline"},
		{"negative heartbeatInterval", Config{HeartbeatInterval: neg}, "heartbeatInterval"},
		{"heartbeatDeadline not longer than the default interval", Config{HeartbeatDeadline: duration.Of(30 * time.Second)}, "heartbeatDeadline 30s must be longer than heartbeatInterval 30s"},
		{"heartbeatInterval not shorter than the default deadline", Config{HeartbeatInterval: duration.Of(90 * time.Second)}, "heartbeatDeadline 1m30s must be longer than heartbeatInterval 1m30s"},
		{"negative pushTTL", Config{PushTTL: neg}, "pushTTL"},
		{"pushTTL over 28 days", Config{PushTTL: duration.Of(28*24*time.Hour + time.Nanosecond)}, "pushTTL"},
		{"negative retry.base", Config{Retry: RetryPolicy{Base: neg}}, "retry.base"},
		{"negative retry.max", Config{Retry: RetryPolicy{Max: neg}}, "retry.max"},
		{"negative retry.maxWait", Config{Retry: RetryPolicy{MaxWait: neg}}, "retry.maxWait"},
		{"negative retry.maxAttempts", Config{Retry: RetryPolicy{MaxAttempts: -1}}, "retry.maxAttempts"},
		{"retry.maxAttempts over 100", Config{Retry: RetryPolicy{MaxAttempts: 101}}, "retry.maxAttempts"},
		{"negative framesPerSecond", Config{FramesPerSecond: -1}, "framesPerSecond"},
		{"framesPerSecond too high", Config{FramesPerSecond: 1_000_001}, "framesPerSecond"},
		{"negative frameBurst", Config{FrameBurst: -1}, "frameBurst"},
		{"frameBurst too high", Config{FrameBurst: 1_000_001}, "frameBurst"},
		{"negative loginsPerSecond", Config{LoginsPerSecond: -1}, "loginsPerSecond"},
		{"loginsPerSecond too high", Config{LoginsPerSecond: 1_000_001}, "loginsPerSecond"},
		{"negative inboxLimit", Config{InboxLimit: -1}, "inboxLimit"},
		{"inboxLimit too high", Config{InboxLimit: 10_000_001}, "inboxLimit"},
		{"negative traceLimit", Config{TraceLimit: -1}, "traceLimit"},
		{"traceLimit too high", Config{TraceLimit: 100_000_001}, "traceLimit"},
		{"negative trace.maxAge", Config{Trace: TraceRetention{MaxAge: neg}}, "trace.maxAge"},
		{"trace.maxAge under a minute", Config{Trace: TraceRetention{MaxAge: duration.Of(59 * time.Second)}}, "trace.maxAge 59s: must be between 1m0s"},
		{"trace.maxAge over ten years", Config{Trace: TraceRetention{MaxAge: duration.Of(87601 * time.Hour)}}, "trace.maxAge"},
		{"negative trace.maxEntries", Config{Trace: TraceRetention{MaxEntries: -1}}, "trace.maxEntries -1"},
		{"trace.maxEntries too high", Config{Trace: TraceRetention{MaxEntries: 1_000_000_001}}, "trace.maxEntries"},
		{"negative defaultCaps.perMinute", Config{DefaultCaps: Caps{PerMinute: -1}}, "caps"},
		{"negative defaultCaps.perHour", Config{DefaultCaps: Caps{PerHour: -1}}, "caps"},
		{"negative defaultCaps.burst", Config{DefaultCaps: Caps{Burst: -1}}, "caps"},
		{"negative defaultCaps.refill", Config{DefaultCaps: Caps{Refill: neg}}, "caps"},
		{"defaultCaps.burst too high", Config{DefaultCaps: Caps{Burst: 3_000_000, Refill: duration.Of(time.Hour)}}, "caps"},
		{"defaultCaps.refill too long", Config{DefaultCaps: Caps{Refill: duration.Of(25 * time.Hour)}}, "caps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			require.ErrorContains(t, err, tc.want)
			var c *Core
			require.NotPanics(t, func() { c, err = New(tc.cfg, nil) })
			require.Nil(t, c)
			require.ErrorContains(t, err, "relay config: "+tc.want)
		})
	}
}

// TestConfigLimitsAreInclusive: the largest values allowed build a working core.
func TestConfigLimitsAreInclusive(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Retry: RetryPolicy{MaxAttempts: 100}},
		{HeartbeatDeadline: duration.Of(30*time.Second + time.Nanosecond)},
		{PushTTL: duration.Of(28 * 24 * time.Hour)},
		{FramesPerSecond: 1_000_000, FrameBurst: 1_000_000, LoginsPerSecond: 1_000_000},
		{InboxLimit: 10_000_000, TraceLimit: 100_000_000},
		{Trace: TraceRetention{MaxAge: duration.Of(time.Minute), MaxEntries: 1}},
		{Trace: TraceRetention{MaxAge: duration.Of(87600 * time.Hour), MaxEntries: 1_000_000_000}},
	} {
		require.NoError(t, cfg.Validate(), "%+v", cfg)
		_, err := New(cfg, nil)
		require.NoError(t, err, "%+v", cfg)
	}
}
