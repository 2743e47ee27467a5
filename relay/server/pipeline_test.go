package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// gatedStore is a relay.StagedStore on a MemoryStore whose commits, once the test holds them,
// wait at a gate until the test lets them through one by one.
type gatedStore struct {
	relay.Store
	mu      sync.Mutex
	held    bool
	fail    error // what held commits return once let through; nil: they store their records
	gate    chan struct{}
	staged  int // batches staged
	waiting int // commits waiting at the gate
}

func newGatedStore(store relay.Store) *gatedStore {
	return &gatedStore{Store: store, gate: make(chan struct{})}
}

func (g *gatedStore) Stage(records []relay.Record) (relay.StagedBatch, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.staged++
	return gatedBatch{g: g, records: slices.Clone(records)}, nil
}

// hold makes the next commits wait at the gate, then fail with fail (nil: store their records).
func (g *gatedStore) hold(fail error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held, g.fail = true, fail
}

// release lets every commit through, held or to come.
func (g *gatedStore) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held {
		g.held = false
		close(g.gate)
	}
}

// counts are the batches staged and the commits waiting at the gate.
func (g *gatedStore) counts() (staged, waiting int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.staged, g.waiting
}

type gatedBatch struct {
	g       *gatedStore
	records []relay.Record
}

func (b gatedBatch) Commit(ctx context.Context) error {
	g := b.g
	g.mu.Lock()
	held := g.held
	if held {
		g.waiting++
	}
	g.mu.Unlock()
	if held {
		<-g.gate
		g.mu.Lock()
		g.waiting--
		fail := g.fail
		g.mu.Unlock()
		if fail != nil {
			return fail
		}
	}
	return g.Store.Apply(ctx, b.records)
}

// sendAsync sends a message without waiting for its reply, which comes on the channel returned.
func (a *app) sendAsync(to, text string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := a.conn.Do(context.Background(), relay.ClientFrame{Op: relay.OpSend, To: to, Text: text})
		done <- err
	}()
	return done
}

// On a StagedStore the loop takes in the next events while a batch commits, but what a batch
// asks beyond its records — the send's reply, the push — waits until the batch is stored, and
// batches commit one at a time, in order.
func TestTheLoopTakesInEventsWhileABatchCommitsAndAnswersOnlyOnceStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newGatedStore(relay.NewMemoryStore())
		b := startRelay(t, store, relay.Config{})
		t.Cleanup(store.release) // before the relay's Close, which lands the batch in flight
		require.NotNil(t, b.srv.staged, "the loop pipelines on a StagedStore")
		b.provision()
		alice := b.launch("alice", "alice-phone")
		require.NoError(t, alice.conn.Drop()) // killed: her messages become pushes
		bob := b.launch("bob", "bob-phone")
		synctest.Wait()

		store.hold(nil)
		first := bob.sendAsync("alice", "first")
		synctest.Wait()
		staged, waiting := store.counts()
		require.Equal(t, 1, waiting, "the first send's batch is committing")
		require.Empty(t, first, "no reply before the batch is stored")
		require.Empty(t, b.sender.sent(), "no push before the batch is stored")

		second := bob.sendAsync("alice", "second")
		synctest.Wait()
		require.Zero(t, len(b.srv.events), "the loop took the second send in while the first batch committed")
		again, waiting := store.counts()
		require.Equal(t, staged, again, "the second send waits for the first batch to land before it is staged")
		require.Equal(t, 1, waiting)

		store.gate <- struct{}{} // the first batch lands; the second is staged and held
		synctest.Wait()
		require.NoError(t, <-first)
		require.Empty(t, second, "the second send's batch is not stored yet")
		sent := b.sender.sent()
		require.Len(t, sent, 1)
		require.Equal(t, "first", sent[0].Body)
		_, waiting = store.counts()
		require.Equal(t, 1, waiting)

		store.gate <- struct{}{}
		synctest.Wait()
		require.NoError(t, <-second)
		sent = b.sender.sent()
		require.Len(t, sent, 2)
		require.Equal(t, "second", sent[1].Body)
		bob.conn.Close()
	})
}

// A batch that fails to commit stops the relay, as a failed Apply does: its send is not
// acknowledged, nor is one the loop took in behind it.
func TestAFailedPipelinedCommitStopsTheRelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newGatedStore(relay.NewMemoryStore())
		b := startRelay(t, store, relay.Config{})
		t.Cleanup(store.release)
		b.provision()
		bob := b.launch("bob", "bob-phone")
		synctest.Wait()

		store.hold(errors.New("disk full"))
		first := bob.sendAsync("alice", "first")
		synctest.Wait()
		second := bob.sendAsync("alice", "second")
		synctest.Wait()
		store.gate <- struct{}{}
		<-b.srv.Done()
		require.ErrorContains(t, b.srv.Err(), "disk full")
		require.Error(t, <-first, "a send whose batch was not stored is not acknowledged")
		require.Error(t, <-second, "nor one the loop took in behind it")
		bob.conn.Drop()
	})
}

// An admin call that changes the relay is answered only once its batch is stored, as a send is.
func TestAPipelinedAdminCallIsAnsweredOnlyOnceStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newGatedStore(relay.NewMemoryStore())
		b := startRelay(t, store, relay.Config{})
		t.Cleanup(store.release)
		store.hold(nil)
		answered := make(chan int, 1)
		go func() {
			status, _ := b.admin("POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"secretKey":%q,"name":"Demo"}`, appID, appSecret))
			answered <- status
		}()
		synctest.Wait()
		_, waiting := store.counts()
		require.Equal(t, 1, waiting, "the new app's batch is committing")
		require.Empty(t, answered, "no answer before the batch is stored")

		store.gate <- struct{}{}
		synctest.Wait()
		require.Equal(t, http.StatusCreated, <-answered)
	})
}
