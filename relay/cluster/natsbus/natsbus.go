// Package natsbus is the cluster's Bus on core NATS (github.com/nats-io/nats.go): one connection
// per node, reconnecting forever, its status logged through slog. Durability is the store's, so
// nothing here uses JetStream.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pushlab/pushlab/relay/cluster"
)

// Defaults of Config.
const (
	DefaultReconnectWait  = time.Second
	DefaultConnectTimeout = 5 * time.Second
	DefaultFlushTimeout   = 5 * time.Second
)

// Config says how to reach NATS.
type Config struct {
	// URL is the NATS server, nats://[user:password@]host:port; several, comma-separated, for a
	// NATS cluster. Credentials in it are never logged.
	URL string
	// Name names the connection on the server (monitoring shows it): the node's name.
	Name string
	// ReconnectWait is the pause between reconnect attempts to one server (plus up to 10% of it
	// as jitter); zero means DefaultReconnectWait. Attempts never stop while the Bus is open.
	ReconnectWait time.Duration
	// ConnectTimeout bounds the first connection's dial and handshake; zero means
	// DefaultConnectTimeout. Connect fails when no server answers in time.
	ConnectTimeout time.Duration
	// FlushTimeout bounds Subscribe's wait for the server to confirm a subscription; zero means
	// DefaultFlushTimeout.
	FlushTimeout time.Duration
	// Logger receives the connection's status (connected, disconnected, reconnected, closed) and
	// asynchronous errors; nil means slog.Default().
	Logger *slog.Logger
}

// Bus is a cluster.Bus on one NATS connection. Its methods may be called from any goroutine.
type Bus struct {
	nc           *nats.Conn
	log          *slog.Logger
	flushTimeout time.Duration
}

var _ cluster.Bus = (*Bus)(nil)

// Connect connects to cfg.URL. It fails when no server can be reached now; once connected, the
// Bus reconnects by itself after any loss, for as long as it is open. Close it when done.
func Connect(cfg Config) (*Bus, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	wait := orDefault(cfg.ReconnectWait, DefaultReconnectWait)
	redacted := RedactURL(cfg.URL)
	log = log.With("component", "natsbus", "name", cfg.Name)
	nc, err := nats.Connect(cfg.URL,
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.ReconnectJitter(wait/10, wait/10),
		nats.Timeout(orDefault(cfg.ConnectTimeout, DefaultConnectTimeout)),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected; reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Debug("nats reconnect attempt failed", "err", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			log.Info("nats connection closed")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("nats error", "subject", subject, "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redacted, err)
	}
	log.Info("nats connected", "url", nc.ConnectedUrlRedacted())
	return &Bus{nc: nc, log: log, flushTimeout: orDefault(cfg.FlushTimeout, DefaultFlushTimeout)}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// RedactURL is a NATS URL (or a comma-separated list of them) fit for a log: any password, or a
// user name alone (a token), is replaced by "xxxxx". What does not parse is replaced whole.
func RedactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		switch {
		case err != nil:
			parts[i] = "(unparsable URL)"
		case u.User == nil:
			parts[i] = p
		default:
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				u.User = url.User("xxxxx")
			}
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// Close closes the connection: subscriptions end and requests in flight fail.
func (b *Bus) Close() { b.nc.Close() }

// Connected reports whether the Bus reaches its NATS server now (false while it reconnects).
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

// Flush waits until the server has processed everything sent so far (a PING's PONG).
func (b *Bus) Flush(ctx context.Context) error {
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("flush NATS: %w", err)
	}
	return nil
}

// Publish sends data to subject. While the connection is down, it is buffered (nats.go's
// reconnect buffer) and sent on reconnect.
func (b *Bus) Publish(ctx context.Context, subject string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	if err := b.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}

// Request sends data to subject and waits for the first reply until ctx ends. NATS's "no
// responders" answer is cluster.ErrUnavailable; the deadline passing is an error wrapping ctx's.
// StartRequest publishes the request with a reply inbox of its own, subscribed first, and waits
// for the reply in wait. With no responders the NATS server answers at once with a 503 status
// message, which wait turns into cluster.ErrUnavailable.
func (b *Bus) StartRequest(ctx context.Context, subject string, data []byte) (func() ([]byte, error), error) {
	inbox := b.nc.NewInbox()
	sub, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("request %s: reply inbox: %w", subject, err)
	}
	if err := b.nc.PublishRequest(subject, inbox, data); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("request %s: %w", subject, err)
	}
	return func() ([]byte, error) {
		defer func() { _ = sub.Unsubscribe() }()
		m, err := sub.NextMsgWithContext(ctx)
		switch {
		case errors.Is(err, nats.ErrNoResponders), err == nil && len(m.Data) == 0 && m.Header.Get(statusHeader) == noResponders:
			return nil, fmt.Errorf("request %s: %w", subject, cluster.ErrUnavailable)
		case err == nil:
			return m.Data, nil
		case ctx.Err() != nil:
			return nil, fmt.Errorf("request %s: no reply: %w", subject, ctx.Err())
		default:
			return nil, fmt.Errorf("request %s: %w", subject, err)
		}
	}, nil
}

// A NATS server answers a request nobody listens to with a header-only message whose Status
// header is 503; NextMsg reports it as nats.ErrNoResponders, and these names (which nats.go keeps
// unexported) recognise it should a version hand the message over instead.
const (
	statusHeader = "Status"
	noResponders = "503"
)

func (b *Bus) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	m, err := b.nc.RequestWithContext(ctx, subject, data)
	switch {
	case err == nil:
		return m.Data, nil
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("request %s: %w", subject, cluster.ErrUnavailable)
	case ctx.Err() != nil && (errors.Is(err, ctx.Err()) || errors.Is(err, nats.ErrTimeout)):
		return nil, fmt.Errorf("request %s: no reply: %w", subject, ctx.Err())
	default:
		return nil, fmt.Errorf("request %s: %w", subject, err)
	}
}

// Subscribe calls h for each message on subject, one message at a time, on a goroutine of the
// subscription's own. It returns once the server has confirmed the subscription (or fails after
// Config.FlushTimeout, the subscription undone).
func (b *Bus) Subscribe(subject string, h cluster.Handler) (func() error, error) {
	if h == nil {
		return nil, fmt.Errorf("subscribe %s: nil handler", subject)
	}
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		msg := cluster.Msg{Subject: m.Subject, Data: m.Data}
		if m.Reply != "" {
			msg.Reply = func(data []byte) error {
				if err := m.Respond(data); err != nil {
					return fmt.Errorf("reply on %s: %w", subject, err)
				}
				return nil
			}
		}
		h(msg)
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", subject, err)
	}
	if err := b.nc.FlushTimeout(b.flushTimeout); err != nil {
		_ = sub.Unsubscribe() // the subscription failed; undoing it cannot fail in a way that matters more
		return nil, fmt.Errorf("subscribe %s: the server did not confirm: %w", subject, err)
	}
	return func() error {
		// A subscription already gone, or gone with its closed connection, is unsubscribed.
		err := sub.Unsubscribe()
		switch {
		case errors.Is(err, nats.ErrBadSubscription), errors.Is(err, nats.ErrConnectionClosed):
			return nil
		case err != nil:
			return fmt.Errorf("unsubscribe %s: %w", subject, err)
		}
		// Wait for the server to have dropped the interest, as Subscribe waits for it to have
		// it: until then a request on another connection is still routed here, and answered by
		// no one instead of refused as unavailable.
		if err := b.nc.FlushTimeout(b.flushTimeout); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("unsubscribe %s: the server did not confirm: %w", subject, err)
		}
		return nil
	}, nil
}
