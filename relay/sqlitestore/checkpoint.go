package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// checkpointEvery is how often the checkpointer copies the write-ahead log into the database.
// Under load the log grows by a few megabytes a second; a checkpoint every half second keeps it
// to about that, and costs one query when there is nothing to copy.
const checkpointEvery = 500 * time.Millisecond

// checkpointer moves the write-ahead log into the database file on a connection and goroutine
// of its own, so that the relay's loop never waits for it. SQLite's automatic checkpoint runs
// inside the commit that passes its threshold, with an fsync of the database file: on the
// bench machine that stalled the loop for tens of milliseconds every few seconds and was the
// kill→push p99 at 1,000 msg/s (68–85 ms with it, 9–11 ms without). The store's own connection
// runs with wal_autocheckpoint(0).
//
// Checkpoints are PASSIVE: they copy what no reader still needs and never wait for, nor block,
// the store's writes. They change nothing about durability: a committed transaction is in the
// log (synchronous=NORMAL) whether or not it has been copied yet.
type checkpointer struct {
	db     *sql.DB
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// startCheckpointer opens its own connection to the database at dsn and starts checkpointing.
func startCheckpointer(dsn string) (*checkpointer, error) {
	db, err := openPool(dsn, 1)
	if err != nil {
		return nil, fmt.Errorf("open the checkpointer's connection: %w", err)
	}
	if err := db.PingContext(context.Background()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open the checkpointer's connection: %w", err)
	}
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			// A failed checkpoint leaves the log longer; the next tick tries again, and
			// nothing committed is at stake.
			_, _ = c.checkpoint(context.Background())
		}
	}
}

// checkpoint copies what it can of the log into the database and reports how many of the
// log's frames are now in the database.
func (c *checkpointer) checkpoint(ctx context.Context) (copied int, err error) {
	var busy, logFrames int
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied); err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	return copied, nil
}

// close stops checkpointing and closes the connection; it may be called more than once.
func (c *checkpointer) close() (err error) {
	c.closed.Do(func() {
		close(c.stop)
		<-c.done
		err = c.db.Close()
	})
	return err
}
