package server

import (
	"context"

	"github.com/pushlab/pushlab/relay"
)

// commitPipe is the batch the loop's StagedStore is writing on a goroutine of its own while the
// loop steps the core through the next events: at most one at a time, so batches commit in the
// order the core made them. What the batch's Ready asks beyond its records (replies, frames,
// pushes) waits until the batch has landed, committed, so the durability promise is the
// unpipelined loop's: nothing is acknowledged before it is stored. The core's Ready meanwhile
// gathers the next events' work, which the loop takes as one batch once this one has landed:
// the slower the commits, the bigger the batches. Owned by the loop.
type commitPipe struct {
	done    chan struct{} // the batch's own, closed once its commit has returned; its error is then in err
	err     error         // written by the committing goroutine before it closes done
	rd      *relay.Ready  // the batch's Ready; nil when no batch is in flight
	replies []func(error) // of the batch's events: called once it has landed
	spare   []func(error) // the last landed batch's replies slice, for reuse
}

// pushes is how many pushes the batch in flight hands to the send workers once it has landed.
func (c *commitPipe) pushes() int {
	if c.rd == nil {
		return 0
	}
	return len(c.rd.Pushes)
}

// inFlight reports whether a batch is being written or has landed without being carried out.
func (c *commitPipe) inFlight() bool { return c.rd != nil }

// hasLanded reports whether the batch in flight has committed (or failed) and waits to be
// carried out.
func (c *commitPipe) hasLanded() bool {
	select {
	case <-c.landed():
		return true
	default:
		return false
	}
}

// landed is a channel that is closed once the batch in flight lands: nil (never ready) when no
// batch is in flight. The loop selects on it while it has nothing else to do.
func (c *commitPipe) landed() <-chan struct{} {
	if c.rd == nil {
		return nil
	}
	return c.done
}

// startCommit takes the core's Ready and starts committing its records on a goroutine of its
// own, with the replies of the events that made it; a Ready with nothing to store is carried
// out at once. It returns the slice for the next events' replies. It fails, with nothing
// written, when the store cannot encode the batch.
func (s *Server) startCommit(replies []func(error)) ([]func(error), error) {
	c := &s.committing
	rd := s.core.TakeReady()
	records := batchRecords(rd.Records, rd.Trace)
	if len(records) == 0 {
		s.carryOutStored(rd)
		answer(replies, nil)
		clear(replies)
		return replies[:0], nil
	}
	start := s.clock()
	b, err := s.staged.Stage(records)
	if err != nil {
		return nil, persistError(rd.Records, rd.Trace, err)
	}
	done := make(chan struct{})
	c.rd, c.replies, c.done = &rd, replies, done
	go func() {
		c.err = s.writeBatch(start, rd.Records, rd.Trace, func() error { return b.Commit(context.Background()) })
		close(done)
	}()
	next := c.spare[:0]
	c.spare = nil
	return next, nil
}

// landCommit waits for the batch in flight, if any, to commit, then carries out the rest of
// its Ready and answers its replies. A failed commit is answered to the replies and returned:
// the relay must stop, its core being ahead of its store.
func (s *Server) landCommit() error {
	c := &s.committing
	if c.rd == nil {
		return nil
	}
	<-c.done
	rd, replies, err := *c.rd, c.replies, c.err
	c.rd, c.replies, c.err, c.done = nil, nil, nil, nil
	if err == nil {
		s.carryOutStored(rd)
	}
	answer(replies, err)
	clear(replies)
	c.spare = replies[:0]
	return err
}
