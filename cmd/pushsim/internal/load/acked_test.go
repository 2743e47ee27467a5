package load

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// A send's reply is counted by its code: 0 acknowledged (and kept for the check when sends are
// tracked), "busy, retry" busy — neither acknowledged nor an error — and any other code an error.
func TestRepliesAreCountedByCode(t *testing.T) {
	m := newMeter(time.Unix(0, 0))
	m.pending = map[int64]sentMsg{}
	m.track(1, 7, "a")
	m.track(2, 7, "b")
	m.track(3, 8, "c")
	m.track(4, 9, "d")
	at := time.Unix(1, 0)
	m.reply(1, relay.OK, "", at)
	m.reply(2, relay.CodeBusy, "busy, retry", at)
	m.reply(3, relay.OK, "", at)
	m.reply(4, relay.CodeInternal, "could not store", at)
	m.reply(5, relay.OK, "", at) // a send not tracked: counted, not kept
	res := m.result(Config{}, time.Second, 0)
	require.Equal(t, 3, res.Messages)
	require.Equal(t, 1, res.Busy)
	require.Equal(t, 1, res.Errors)
	require.Contains(t, res.FirstError, "5001")
	require.Equal(t, map[int][]string{7: {"a"}, 8: {"c"}}, m.ackedByRecipient())
	require.Empty(t, m.pending, "every reply ends its send's wait")

	untracked := newMeter(time.Unix(0, 0))
	untracked.track(1, 7, "a")
	untracked.reply(1, relay.OK, "", at)
	require.Empty(t, untracked.ackedByRecipient(), "sends are kept only when the run checks them")
}

// The check counts every acknowledged text missing from what the relay keeps for its
// recipient; stored texts that were never acknowledged (a busy reply's message kept after all)
// do not count.
func TestCheckAckedCountsWhatTheRelayDidNotKeep(t *testing.T) {
	acked := map[int][]string{1: {"a", "b"}, 2: {"c"}, 3: {"d", "e", "f"}}
	kept := map[int]map[string]bool{1: {"a": true, "b": true, "x": true}, 2: {}, 3: {"d": true, "f": true}}
	res, err := checkAcked(t.Context(), acked, 2, func(_ context.Context, to int) (map[string]bool, error) { return kept[to], nil })
	require.NoError(t, err)
	require.Equal(t, 6, res.checked)
	require.Equal(t, 2, res.lost)
	require.Contains(t, []string{`"c" to load-u2`, `"e" to load-u3`}, res.firstLost)

	all, err := checkAcked(t.Context(), map[int][]string{1: {"a", "b"}}, 4, func(_ context.Context, to int) (map[string]bool, error) { return kept[to], nil })
	require.NoError(t, err)
	require.Equal(t, ackedCheck{checked: 2}, all)
}

// A recipient whose stored messages cannot be read fails the check rather than passing for
// one that lost nothing.
func TestCheckAckedFailsOnAnUnreadableRecipient(t *testing.T) {
	_, err := checkAcked(t.Context(), map[int][]string{1: {"a"}, 2: {"b"}}, 1, func(_ context.Context, to int) (map[string]bool, error) {
		if to == 2 {
			return nil, errors.New("sync refused")
		}
		return map[string]bool{"a": true}, nil
	})
	require.ErrorContains(t, err, "load-u2: sync refused")
}

// The acknowledged sends are checked only with every phone in this process: a run spread over
// worker processes is refused before anything starts.
func TestCheckAckedNeedsOneLoadProcess(t *testing.T) {
	_, err := RunLive(t.Context(), Config{Devices: 10, Procs: 2, CheckAcked: true, RelayURL: "http://127.0.0.1:1", FCMURL: "http://127.0.0.1:1"})
	require.ErrorContains(t, err, "checked with the phones in one process")
}
