package cluster

import (
	"context"
	"errors"
)

// ErrUnavailable is a Request's answer when nobody listens on the subject: for a partition's
// inbox, the partition has no owner right now (a node failed over and no other has taken it
// yet). The caller answers its app with relay.CodeUnavailable, which tells it to retry after a
// short backoff; nothing is dropped silently.
var ErrUnavailable = errors.New("cluster: no one listens on the subject (no owner right now)")

// Msg is a message a subscription receives.
type Msg struct {
	Subject string
	Data    []byte
	// Reply answers a request; it is nil for a published message, which nobody waits for. Only
	// the first reply to a request counts; replying after the requester gave up is not an error.
	Reply func(data []byte) error
}

// Handler is called for each message of a subscription. It must not block for long: a bus may
// hold the subscription's next message (or the publisher, on MemBus) until it returns.
type Handler func(Msg)

// Bus is the node-to-node bus the cluster's gateways and owners talk over (DESIGN.md §11): core
// NATS in production (package natsbus), MemBus in tests and the simulator. Delivery is at most
// once and unordered across publishers; durability is the store's. Subjects are those of
// PartitionSubject and GatewaySubject.
type Bus interface {
	// Publish sends data to every subscription of subject, if any: a message nobody listens to
	// is dropped without error, so a publisher that must know uses Request.
	Publish(ctx context.Context, subject string, data []byte) error
	// Request sends data to subject and waits for the first reply until ctx's deadline. It fails
	// with ErrUnavailable when nobody listens on subject, and with an error wrapping ctx's
	// (context.DeadlineExceeded, context.Canceled) when no reply came in time.
	Request(ctx context.Context, subject string, data []byte) ([]byte, error)
	// StartRequest is Request split in two: it sends the request before it returns — in order
	// with the caller's Publishes and StartRequests before and after it, as Publish is — and wait
	// waits for the first reply, with Request's errors. A loop that must not block uses it to
	// send a request among its messages and wait for the answer elsewhere. wait must be called
	// once (it frees what the request holds).
	StartRequest(ctx context.Context, subject string, data []byte) (wait func() ([]byte, error), err error)
	// Subscribe calls h for each message on subject (an exact subject, no wildcards) until
	// unsubscribe is called. When Subscribe returns, the subscription is in place: a Request
	// made after it, from any node, reaches h. When unsubscribe returns, it is gone: a Request
	// made after it, from any node, no longer reaches h (with no other listener, it is
	// ErrUnavailable).
	Subscribe(subject string, h Handler) (unsubscribe func() error, err error)
}
