package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/jsonappend"
	"github.com/pushlab/pushlab/internal/wsmessage"
)

// Client talks to a fakefcm's control API.
type Client struct {
	// BaseURL is the fakefcm's address, such as "http://127.0.0.1:4000".
	BaseURL string
	// HTTP is the client used for requests; nil means http.DefaultClient.
	HTTP *http.Client
	// Dialer opens device channels; nil means a dialer with a 10-second handshake timeout.
	Dialer *websocket.Dialer
}

// APIError is a control API refusal.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("fakefcm: %d: %s", e.Status, e.Message) }

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// do sends a JSON request and decodes a JSON answer into out (when out is not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var st fakefcm.StatusBody
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &st) == nil && st.Error.Message != "" {
			msg = st.Error.Message
		}
		return &APIError{Status: resp.StatusCode, Message: msg}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// CreateProject creates a project and returns its credentials.
func (c *Client) CreateProject(ctx context.Context, req CreateProjectRequest) (ProjectCredentials, error) {
	var out ProjectCredentials
	err := c.do(ctx, http.MethodPost, "/fakefcm/v1/projects", req, &out)
	return out, err
}

// RegisterDevice issues a registration token, as an app's getToken does.
func (c *Client) RegisterDevice(ctx context.Context, senderID, packageName string) (string, error) {
	var out TokenResponse
	err := c.do(ctx, http.MethodPost, "/fakefcm/v1/devices", RegisterDeviceRequest{SenderID: senderID, PackageName: packageName}, &out)
	return out.Token, err
}

// Uninstall unregisters a token.
func (c *Client) Uninstall(ctx context.Context, token string) error {
	return c.do(ctx, http.MethodDelete, "/fakefcm/v1/devices/"+url.PathEscape(token), nil, nil)
}

// ForceStop marks the app behind a token as force-stopped.
func (c *Client) ForceStop(ctx context.Context, token string) error {
	return c.do(ctx, http.MethodPost, "/fakefcm/v1/devices/"+url.PathEscape(token)+":forceStop", nil, nil)
}

// RefreshToken replaces a token with a new one; the old one becomes UNREGISTERED.
func (c *Client) RefreshToken(ctx context.Context, token string) (string, error) {
	var out TokenResponse
	err := c.do(ctx, http.MethodPost, "/fakefcm/v1/devices/"+url.PathEscape(token)+":refresh", nil, &out)
	return out.Token, err
}

// Device describes a token.
func (c *Client) Device(ctx context.Context, token string) (fakefcm.DeviceInfo, error) {
	var out fakefcm.DeviceInfo
	err := c.do(ctx, http.MethodGet, "/fakefcm/v1/devices/"+url.PathEscape(token), nil, &out)
	return out, err
}

// Messages lists message records; empty filter fields match everything.
func (c *Client) Messages(ctx context.Context, f fakefcm.RecordFilter) ([]fakefcm.Record, error) {
	q := url.Values{}
	if f.Token != "" {
		q.Set("token", f.Token)
	}
	if f.Project != "" {
		q.Set("project", f.Project)
	}
	if f.After > 0 {
		q.Set("after", strconv.FormatInt(f.After, 10))
	}
	var out MessageList
	err := c.do(ctx, http.MethodGet, "/fakefcm/v1/messages?"+q.Encode(), nil, &out)
	return out.Messages, err
}

// SetFaults replaces the fault rules.
func (c *Client) SetFaults(ctx context.Context, rules []fakefcm.FaultRule) error {
	return c.do(ctx, http.MethodPut, "/fakefcm/v1/faults", FaultRules{Rules: rules}, nil)
}

// AddFaults adds rules after those in force, which keep what they have matched so far.
func (c *Client) AddFaults(ctx context.Context, rules []fakefcm.FaultRule) error {
	return c.do(ctx, http.MethodPost, "/fakefcm/v1/faults", FaultRules{Rules: rules}, nil)
}

// Faults returns the fault rules in force: rules whose count is spent are gone, and each says
// how many sends it has matched.
func (c *Client) Faults(ctx context.Context) ([]fakefcm.FaultRule, error) {
	var out FaultRules
	err := c.do(ctx, http.MethodGet, "/fakefcm/v1/faults", nil, &out)
	return out.Rules, err
}

// ClearFaults removes every fault rule.
func (c *Client) ClearFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/fakefcm/v1/faults", nil, nil)
}

// SetBehaviour replaces fakefcm's delivery behaviour (latency, loss, throttles).
func (c *Client) SetBehaviour(ctx context.Context, b fakefcm.Behaviour) error {
	return c.do(ctx, http.MethodPut, "/fakefcm/v1/behaviour", b, nil)
}

// DeviceChannel is a device's open connection to fakefcm: what its FCM SDK receives on.
type DeviceChannel struct {
	conn    *websocket.Conn
	readBuf []byte // the frame Receive read last; its array is reused for the next
}

// ErrChannelClosed is returned by Receive once fakefcm has closed the channel (the token was
// unregistered, or another connection took it over).
var ErrChannelClosed = errors.New("fakefcm: device channel closed")

// Connect opens the device channel of a token.
func (c *Client) Connect(ctx context.Context, token string) (*DeviceChannel, error) {
	u := strings.TrimSuffix(c.BaseURL, "/") + "/fakefcm/v1/devices/" + url.PathEscape(token) + "/connect"
	u = "ws" + strings.TrimPrefix(u, "http")
	dialer := c.Dialer
	if dialer == nil {
		dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	}
	conn, resp, err := dialer.DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			return nil, fmt.Errorf("connect device channel: %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
		}
		return nil, fmt.Errorf("connect device channel: %w", err)
	}
	return &DeviceChannel{conn: conn}, nil
}

// Receive waits for the next frame: a message, or the news that messages were deleted. One
// goroutine at a time receives, as on any WebSocket.
func (ch *DeviceChannel) Receive() (fakefcm.DeviceFrame, error) {
	var f fakefcm.DeviceFrame
	// One frame is one JSON value: read whole and unmarshalled, without the json.Decoder
	// ReadJSON builds for each frame (a third of the bytes allocated per push, when measured),
	// into the channel's own array rather than a fresh one per frame (unmarshalling copies what
	// the frame keeps).
	data, err := wsmessage.ReadInto(ch.conn, ch.readBuf)
	ch.readBuf = data
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return f, fmt.Errorf("%w: %s", ErrChannelClosed, ce.Text)
		}
		return f, err
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("device channel frame: %w", err)
	}
	return f, nil
}

// Ack acknowledges a message; unacknowledged messages are delivered again after a reconnection.
func (ch *DeviceChannel) Ack(messageID string) error {
	if text, ok := ackText(messageID); ok {
		return ch.conn.WriteMessage(websocket.TextMessage, text)
	}
	return ch.conn.WriteJSON(fakefcm.DeviceAck{Ack: messageID})
}

// ackText is an acknowledgement as a json.Encoder writes it, written by hand (a device writes
// one per push); false for an ID that is not valid UTF-8, which the Encoder then writes.
func ackText(messageID string) ([]byte, bool) {
	b, ok := jsonappend.String(append(make([]byte, 0, len(messageID)+16), `{"ack":`...), messageID)
	return append(b, "}\n"...), ok
}

// Close closes the channel.
func (ch *DeviceChannel) Close() error {
	_ = ch.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return ch.conn.Close()
}
