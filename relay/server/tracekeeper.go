package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pushlab/pushlab/relay"
)

// traceKeeper holds the durable push trace to its retention bound. It prunes in batches, on its
// own goroutine, never per insert: at start, every traceCheckEvery, and when the loop has
// appended a tenth of maxEntries since the last pass. Each batch is a short transaction of its
// own, so the loop's writes wait at most one batch.
type traceKeeper struct {
	store relay.TraceStore
	ret   relay.TraceRetention
	clock func() time.Time
	log   *slog.Logger
	// nudgeAfter is how many appended entries call for a pass before the next check.
	nudgeAfter int

	pending int // entries appended since the last nudge (owned by the relay's loop)

	nudge chan struct{}
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// traceCheckEvery is how often the keeper prunes without being nudged (the age bound's grain).
const traceCheckEvery = time.Minute

// tracePruneBatch is how many entries one prune transaction deletes at most.
const tracePruneBatch = 2000

func newTraceKeeper(store relay.TraceStore, ret relay.TraceRetention, clock func() time.Time, log *slog.Logger) *traceKeeper {
	return &traceKeeper{store: store, ret: ret, clock: clock, log: log, nudgeAfter: max(ret.MaxEntries/10, 1),
		nudge: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// appended tells the keeper that the loop stored n more entries (from the loop goroutine).
func (k *traceKeeper) appended(n int) {
	if n == 0 {
		return
	}
	k.pending += n
	if k.pending >= k.nudgeAfter {
		k.pending = 0
		select {
		case k.nudge <- struct{}{}:
		default:
		}
	}
}

func (k *traceKeeper) run() {
	defer close(k.done)
	ticker := time.NewTicker(traceCheckEvery)
	defer ticker.Stop()
	for {
		k.prune()
		select {
		case <-k.stop:
			return
		case <-ticker.C:
		case <-k.nudge:
		}
	}
}

// prune deletes batches until nothing more is due or the relay stops.
func (k *traceKeeper) prune() {
	p := relay.TracePrune{Before: k.clock().Add(-k.ret.MaxAge.D()), Keep: k.ret.MaxEntries, Batch: tracePruneBatch}
	total := 0
	for {
		n, err := k.store.PruneTrace(context.Background(), p)
		total += n
		if err != nil {
			k.log.Warn("push trace not pruned", "err", err)
			return
		}
		if n < p.Batch {
			break
		}
		select {
		case <-k.stop:
			return
		default:
		}
	}
	if total > 0 {
		k.log.Info("push trace pruned", "entries", total, "maxAge", k.ret.MaxAge, "maxEntries", k.ret.MaxEntries)
	}
}

// close stops the keeper and waits for its pass to end.
func (k *traceKeeper) close() {
	k.once.Do(func() { close(k.stop) })
	<-k.done
}
