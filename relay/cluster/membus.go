package cluster

import (
	"bytes"
	"context"
	"fmt"
	"sync"
)

// MemBus is the in-memory Bus for tests and the simulator. It is synchronous: Publish and
// Request call the subject's handlers on the caller's goroutine, in the order they subscribed,
// before they return, so a run that drives it from one goroutine is deterministic and needs no
// pump. A Request whose handlers replied synchronously returns at once; if none did, it waits for
// a reply from another goroutine until ctx ends. Handlers may publish and request in turn
// (no lock is held while they run). The zero value is not usable: call NewMemBus. All nodes of a
// test share one MemBus, as they share one NATS server.
type MemBus struct {
	mu   sync.Mutex
	subs map[string][]*memSub
	next uint64
}

type memSub struct {
	id uint64
	h  Handler
}

// NewMemBus returns an empty bus.
func NewMemBus() *MemBus { return &MemBus{subs: map[string][]*memSub{}} }

var _ Bus = (*MemBus)(nil)

// handlers returns subject's subscriptions now, in subscription order.
func (b *MemBus) handlers(subject string) []*memSub {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*memSub(nil), b.subs[subject]...)
}

// Publish calls subject's handlers with a copy of data each.
func (b *MemBus) Publish(ctx context.Context, subject string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	for _, s := range b.handlers(subject) {
		s.h(Msg{Subject: subject, Data: bytes.Clone(data)})
	}
	return nil
}

// Request calls subject's handlers with a copy of data each and returns the first reply.
func (b *MemBus) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("request %s: %w", subject, err)
	}
	subs := b.handlers(subject)
	if len(subs) == 0 {
		return nil, fmt.Errorf("request %s: %w", subject, ErrUnavailable)
	}
	replies := make(chan []byte, 1)
	reply := func(data []byte) error {
		select {
		case replies <- bytes.Clone(data):
		default: // a reply came first
		}
		return nil
	}
	for _, s := range subs {
		s.h(Msg{Subject: subject, Data: bytes.Clone(data), Reply: reply})
	}
	select {
	case r := <-replies:
		return r, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("request %s: no reply: %w", subject, ctx.Err())
	}
}

// Subscribe adds h to subject's handlers.
// StartRequest runs the subscribers' handlers before it returns, as Request does; wait hands
// their reply back.
func (b *MemBus) StartRequest(ctx context.Context, subject string, data []byte) (func() ([]byte, error), error) {
	r, err := b.Request(ctx, subject, data)
	return func() ([]byte, error) { return r, err }, nil
}

func (b *MemBus) Subscribe(subject string, h Handler) (func() error, error) {
	if h == nil {
		return nil, fmt.Errorf("subscribe %s: nil handler", subject)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	id := b.next
	b.subs[subject] = append(b.subs[subject], &memSub{id: id, h: h})
	return func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		subs := b.subs[subject]
		for i, s := range subs {
			if s.id == id {
				b.subs[subject] = append(subs[:i:i], subs[i+1:]...)
				break
			}
		}
		if len(b.subs[subject]) == 0 {
			delete(b.subs, subject)
		}
		return nil
	}, nil
}
