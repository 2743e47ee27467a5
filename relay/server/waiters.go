package server

import (
	"strings"
	"sync"

	"github.com/pushlab/pushlab/relay"
)

// waiters hands values the loop produces to the admin calls waiting for them, by key: a test
// push's FCM answer, an admin send's outcome from other partitions. A call registers before the
// loop can produce its value, and forgets when it stops waiting.
type waiters[K comparable, V any] struct {
	mu      sync.Mutex
	waiting map[K]chan V
}

// wait registers a waiter for key.
func (w *waiters[K, V]) wait(key K) chan V {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting == nil {
		w.waiting = map[K]chan V{}
	}
	ch := make(chan V, 1)
	w.waiting[key] = ch
	return ch
}

// forget drops key's waiter.
func (w *waiters[K, V]) forget(key K) {
	w.mu.Lock()
	delete(w.waiting, key)
	w.mu.Unlock()
}

// deliver hands v to key's waiter, if any; it never blocks.
func (w *waiters[K, V]) deliver(key K, v V) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.waiting[key]; ok {
		delete(w.waiting, key)
		ch <- v
	}
}

// deliverTestPushAnswers hands each trace entry that records FCM's answer to a push to the test
// push call waiting for it.
func (s *Server) deliverTestPushAnswers(entries []relay.TraceEntry) {
	for _, e := range entries {
		if e.PushID != 0 && strings.HasPrefix(e.Reason, relay.ReasonFCMPrefix) {
			s.testPushes.deliver(e.PushID, e)
		}
	}
}
