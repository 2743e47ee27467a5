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

// The kinds of wire messages. Gateway → owner: ConnOpened, ConnFrame, ConnClosed, ConnAlive,
// Reannounce. Owner → gateway: Deliver, Close. Owner → owner: SendRequest, answered by SendAnswer.
const (
	KindConnOpened  Kind = "connOpened"
	KindConnFrame   Kind = "connFrame"
	KindConnClosed  Kind = "connClosed"
	KindConnAlive   Kind = "connAlive"
	KindReannounce  Kind = "reannounce"
	KindDeliver     Kind = "deliver"
	KindClose       Kind = "close"
	KindSendRequest Kind = "sendRequest"
	KindSendAnswer  Kind = "sendAnswer"
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
	Gateway string       `json:"gateway"`
	Conn    relay.ConnID `json:"conn"`
}

// ConnFrame is one frame an app sent on a connection, as the gateway read it. Frame holds the
// bytes undecoded (base64 in JSON): the owner's core decodes them and answers a frame that is not
// valid JSON with its refusal code, so the gateway must not judge or re-encode them.
type ConnFrame struct {
	Gateway string       `json:"gateway"`
	Conn    relay.ConnID `json:"conn"`
	Frame   []byte       `json:"frame"`
}

// ConnClosed tells the owner that a connection ended at the gateway (the app left, the socket
// broke, or the gateway closed it on the owner's Close).
type ConnClosed struct {
	Gateway string       `json:"gateway"`
	Conn    relay.ConnID `json:"conn"`
}

// ConnAlive is a gateway's periodic word that its connections of one partition are still open:
// an owner that stops hearing it for a connection treats the connection as closed, so that a
// gateway that dies (and never sends ConnClosed) does not leave devices online forever.
type ConnAlive struct {
	Gateway   string         `json:"gateway"`
	Partition int            `json:"partition"`
	Conns     []relay.ConnID `json:"conns"`
}

// Reannounce is a gateway's list of its live connections of one partition, sent to the
// partition's new owner after a failover (a new owner starts from the store and knows no
// connection). Conns is sorted.
type Reannounce struct {
	Gateway   string         `json:"gateway"`
	Partition int            `json:"partition"`
	Conns     []relay.ConnID `json:"conns"`
}

// Deliver asks a gateway to write a frame to one of its connections. Frame is a relay.ServerFrame
// as the owner encoded it; the gateway writes it as it is.
type Deliver struct {
	Conn  relay.ConnID    `json:"conn"`
	Frame json.RawMessage `json:"frame"`
}

// Close asks a gateway to close one of its connections with a WebSocket close code (relay's
// CloseNormal, ClosePolicy, …) and reason. The gateway answers with ConnClosed.
type Close struct {
	Conn   relay.ConnID `json:"conn"`
	Code   int          `json:"code"`
	Reason string       `json:"reason,omitempty"`
}

// SendRequest asks the owner of the recipients' partition to take a message: assign each
// recipient its next sequence number, store the message, deliver it to their online devices and
// decide their pushes, then answer with a SendAnswer. The sender's owner has checked the send
// (sizes, group membership) and named the message (MsgID, Time); a group message is one request
// per partition holding members. Epoch is the sender's owner's lease epoch on FromPartition, for
// the logs: the recipients' owner fences its own writes, not the sender's.
type SendRequest struct {
	App           uint64             `json:"app"`
	MsgID         string             `json:"msgId"`
	Time          int64              `json:"time"` // Unix milliseconds
	FromPartition int                `json:"fromPartition"`
	Epoch         uint64             `json:"epoch"`
	From          string             `json:"from"`
	FromDevice    string             `json:"fromDevice,omitempty"`
	To            []string           `json:"to"`              // recipients, all in the target partition, sorted
	Group         string             `json:"group,omitempty"` // set for a group message
	Text          string             `json:"text"`
	OnlineOnly    bool               `json:"onlineOnly,omitempty"`
	OfflinePush   *relay.OfflinePush `json:"offlinePush,omitempty"`
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

func (ConnOpened) Kind() Kind  { return KindConnOpened }
func (ConnFrame) Kind() Kind   { return KindConnFrame }
func (ConnClosed) Kind() Kind  { return KindConnClosed }
func (ConnAlive) Kind() Kind   { return KindConnAlive }
func (Reannounce) Kind() Kind  { return KindReannounce }
func (Deliver) Kind() Kind     { return KindDeliver }
func (Close) Kind() Kind       { return KindClose }
func (SendRequest) Kind() Kind { return KindSendRequest }
func (SendAnswer) Kind() Kind  { return KindSendAnswer }

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
	case KindConnAlive:
		m, err = decodeBody[ConnAlive](env.Body)
	case KindReannounce:
		m, err = decodeBody[Reannounce](env.Body)
	case KindDeliver:
		m, err = decodeBody[Deliver](env.Body)
	case KindClose:
		m, err = decodeBody[Close](env.Body)
	case KindSendRequest:
		m, err = decodeBody[SendRequest](env.Body)
	case KindSendAnswer:
		m, err = decodeBody[SendAnswer](env.Body)
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
