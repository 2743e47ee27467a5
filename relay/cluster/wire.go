package cluster

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pushlab/pushlab/relay"
)

// WireVersion is the version of the messages between nodes. Every encoded message carries it;
// a node refuses (ErrWireVersion) a message of another version rather than guess at its meaning,
// so a change that is not backward compatible raises it.
const WireVersion = 1

// Kind names a wire message's type in its envelope.
type Kind string

// The kinds of wire messages. Gateway → owner: ConnOpened, ConnFrame, ConnClosed. Owner →
// gateway: Deliver, Close. Owner → owner: SendRequest, answered by SendAnswer. Owner → every node:
// PartitionMoved, Catalog, TokenMoved.
const (
	KindConnOpened     Kind = "connOpened"
	KindConnFrame      Kind = "connFrame"
	KindConnClosed     Kind = "connClosed"
	KindDeliver        Kind = "deliver"
	KindClose          Kind = "close"
	KindSendRequest    Kind = "sendRequest"
	KindSendAnswer     Kind = "sendAnswer"
	KindPartitionMoved Kind = "partitionMoved"
	KindCatalog        Kind = "catalog"
	KindTokenMoved     Kind = "tokenMoved"
)

// Message is one wire message: one of the types of this file.
type Message interface {
	// Kind is the message's type, as its envelope names it.
	Kind() Kind
}

// ConnOpened tells a partition's owner that an app connection on Gateway now belongs to it: the
// gateway learns the user (and so the partition) from the connection's login frame, and sends
// ConnOpened just before that frame. A connection is named by (Gateway, Conn) across the cluster:
// Conn is the gateway's own number for it.
type ConnOpened struct {
	Partition int          `json:"partition"`
	Gateway   string       `json:"gateway"`
	Conn      relay.ConnID `json:"conn"`
}

// ConnFrame is one frame an app sent on a connection, as the gateway read it. Frame holds the
// bytes undecoded (base64 in JSON): the owner's core decodes them and answers a frame that is not
// valid JSON with its refusal code, so the gateway must not judge or re-encode them.
type ConnFrame struct {
	Partition int          `json:"partition"`
	Gateway   string       `json:"gateway"`
	Conn      relay.ConnID `json:"conn"`
	Frame     []byte       `json:"frame"`
}

// ConnClosed tells the owner that a connection ended at the gateway (the app left, the socket
// broke, or the gateway closed it on the owner's Close).
type ConnClosed struct {
	Partition int          `json:"partition"`
	Gateway   string       `json:"gateway"`
	Conn      relay.ConnID `json:"conn"`
}

// Deliver asks a gateway to write a frame to one of its connections. Epoch is the lease epoch of
// the owner that sent it: the gateway remembers it per connection, so that a PartitionMoved of
// the same epoch (the owner's own announcement, arriving late) does not close the connection.
type Deliver struct {
	Conn  relay.ConnID      `json:"conn"`
	Epoch uint64            `json:"epoch"`
	Frame relay.ServerFrame `json:"frame"`
}

// Close asks a gateway to close one of its connections with a WebSocket close code (relay's
// CloseNormal, ClosePolicy, …) and reason. The gateway answers with ConnClosed.
type Close struct {
	Conn   relay.ConnID `json:"conn"`
	Code   int          `json:"code"`
	Reason string       `json:"reason,omitempty"`
}

// SendRequest asks the owner of the recipients' partition to take a message (relay.RemoteMsg):
// assign each recipient its next sequence number, store the message, deliver it to their online
// devices and decide their pushes, then answer with a SendAnswer. The sender's owner has checked
// the send (sizes, group membership) and named the message; a group message is one request per
// partition holding members. FromPartition and Epoch name the sender's core, for the logs: the
// recipients' owner fences its own writes, not the sender's.
type SendRequest struct {
	FromPartition int             `json:"fromPartition"`
	Epoch         uint64          `json:"epoch"`
	Msg           relay.RemoteMsg `json:"msg"`
}

// SendAnswer is the recipients' owner's answer to a SendRequest. Code is relay.OK when the
// message is stored for every recipient, and then Seqs holds each recipient's sequence number
// (none for an online-only message); otherwise Code is the refusal (CodeUnavailable when the
// node no longer owns the partition, CodeInternal when the store failed) and Error says why.
type SendAnswer struct {
	Code  relay.Code        `json:"code"`
	Error string            `json:"error,omitempty"`
	Seqs  map[string]uint64 `json:"seqs,omitempty"`
}

// PartitionMoved is a new owner's announcement, to every node, that it serves Partition from now
// on under Epoch. A gateway closes its connections of the partition that were served by another
// epoch (relay.CloseTryAgain): the new owner started from the store and knows neither them nor
// which frames the former owner had stored but not yet delivered, so the apps reconnect, log in
// again and sync, as after a restart.
type PartitionMoved struct {
	Partition int    `json:"partition"`
	Node      string `json:"node"`
	Epoch     uint64 `json:"epoch"`
}

// TokenMoved tells every node that Device bound Token of its app (after the binding was stored):
// a device of another partition still bound to the token loses its binding, as in a single relay
// when a phone changes users, so that one user's notifications never reach another's phone.
type TokenMoved struct {
	Device relay.DeviceKey `json:"device"`
	Token  string          `json:"token"`
}

func (TokenMoved) Kind() Kind     { return KindTokenMoved }
func (ConnOpened) Kind() Kind     { return KindConnOpened }
func (ConnFrame) Kind() Kind      { return KindConnFrame }
func (ConnClosed) Kind() Kind     { return KindConnClosed }
func (Deliver) Kind() Kind        { return KindDeliver }
func (Close) Kind() Kind          { return KindClose }
func (SendRequest) Kind() Kind    { return KindSendRequest }
func (SendAnswer) Kind() Kind     { return KindSendAnswer }
func (PartitionMoved) Kind() Kind { return KindPartitionMoved }
func (Catalog) Kind() Kind        { return KindCatalog }

// ErrWireVersion is Decode's answer to a message of a version this node does not speak: the
// cluster runs nodes of incompatible versions.
var ErrWireVersion = errors.New("cluster: wire message of another version")

// envelope is a wire message as encoded: {"v":1,"kind":"connFrame","body":{…}}.
type envelope struct {
	V    int             `json:"v"`
	Kind Kind            `json:"kind"`
	Body json.RawMessage `json:"body"`
}

// Encode encodes a wire message in its versioned envelope.
func Encode(m Message) ([]byte, error) {
	if m == nil {
		return nil, errors.New("cluster: encode a nil wire message")
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Kind(), err)
	}
	b, err := json.Marshal(envelope{V: WireVersion, Kind: m.Kind(), Body: body})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Kind(), err)
	}
	return b, nil
}

// Decode decodes what Encode wrote: the message as a value of its type (ConnFrame, not
// *ConnFrame). It refuses another version (ErrWireVersion), an unknown kind, and a body that does
// not fit its kind.
func Decode(b []byte) (Message, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("decode wire message: %w", err)
	}
	if env.V != WireVersion {
		return nil, fmt.Errorf("%w: version %d, this node speaks %d", ErrWireVersion, env.V, WireVersion)
	}
	var (
		m   Message
		err error
	)
	switch env.Kind {
	case KindConnOpened:
		m, err = decodeBody[ConnOpened](env.Body)
	case KindConnFrame:
		m, err = decodeBody[ConnFrame](env.Body)
	case KindConnClosed:
		m, err = decodeBody[ConnClosed](env.Body)
	case KindDeliver:
		m, err = decodeBody[Deliver](env.Body)
	case KindClose:
		m, err = decodeBody[Close](env.Body)
	case KindSendRequest:
		m, err = decodeBody[SendRequest](env.Body)
	case KindSendAnswer:
		m, err = decodeBody[SendAnswer](env.Body)
	case KindPartitionMoved:
		m, err = decodeBody[PartitionMoved](env.Body)
	case KindCatalog:
		m, err = decodeBody[Catalog](env.Body)
	case KindTokenMoved:
		m, err = decodeBody[TokenMoved](env.Body)
	default:
		return nil, fmt.Errorf("decode wire message: unknown kind %q", env.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", env.Kind, err)
	}
	return m, nil
}

func decodeBody[T Message](body json.RawMessage) (Message, error) {
	var m T
	if len(body) == 0 {
		return nil, errors.New("no body")
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	return m, nil
}
