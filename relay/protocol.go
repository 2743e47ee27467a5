package relay

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Code is a reply code of the app protocol. Codes are stable: clients may switch on them.
type Code int

// Reply codes. Each refusal's desc says what to fix.
const (
	OK Code = 0

	// Frame problems.
	CodeBadFrame    Code = 1001 // not a JSON object, or a field of the wrong type
	CodeUnknownOp   Code = 1002 // op is not one the relay knows
	CodeBadField    Code = 1003 // a required field is missing or a value is out of range
	CodeRateLimited Code = 1004 // too many frames on this connection

	// Login problems.
	CodeUnknownApp      Code = 2001 // no app with this SDKAppID
	CodeBadSignature    Code = 2002 // the UserSig is malformed or its HMAC does not match
	CodeSigExpired      Code = 2003 // the UserSig's expire time has passed
	CodeSigMismatch     Code = 2004 // the UserSig was made for another app or user
	CodeNotLoggedIn     Code = 2005 // the op needs a login on this connection
	CodeLoginsPerSecond Code = 2006 // the relay is refusing logins above its rate

	// Push binding problems.
	CodeUnknownCertificate Code = 3001 // no certificate with this ID
	CodeForeignCertificate Code = 3002 // the certificate belongs to another app
	CodeEmptyToken         Code = 3003 // the token is empty or too long

	// Messaging problems.
	CodeUnknownGroup Code = 4002 // no group with this ID in the app
	CodeNotMember    Code = 4003 // the sender is not a member of the group
	CodeTextTooLong  Code = 4004 // the text, or an offlinePush field, is over its limit

	// Relay problems.
	CodeInternal    Code = 5001 // the relay could not store the change; try again
	CodeUnavailable Code = 5002 // the user's partition has no owner right now (a node failed over); retry after a short backoff
	CodeBusy        Code = 5003 // the relay is over capacity and did not take this send: retry it with the same clientMsgId after a short backoff
)

// Limits of the app protocol.
const (
	MaxFrameBytes = 64 << 10 // a bigger frame closes the connection with 1009
	MaxTextBytes  = 16 << 10
	MaxTokenBytes = 4096
	MaxIDBytes    = 128 // user, device, group and conversation IDs
	MaxSyncBatch  = 200 // messages in one sync reply; "more" says there are others
	// MaxPushFieldBytes bounds offlinePush title, desc and ext, so that a push stays under FCM's
	// 4 KiB payload limit.
	MaxPushFieldBytes = 1024
	// MaxChannelIDBytes, MaxSoundBytes and MaxClickActionBytes bound offlinePush.android's fields
	// (and a certificate's channelId).
	MaxChannelIDBytes   = 128
	MaxSoundBytes       = 64
	MaxClickActionBytes = 512
)

// Ops a client sends.
const (
	OpLogin         = "login"
	OpSetPushToken  = "setPushToken"
	OpSend          = "send"
	OpSync          = "sync"
	OpAck           = "ack"
	OpBackground    = "background"
	OpForeground    = "foreground"
	OpSetReceiveOpt = "setReceiveOpt"
	OpLogout        = "logout"
	OpPing          = "ping"
	// OpSetPushSettings turns the user's pushes on or off (enabled); OpGetPushSettings reads
	// them. Both are answered with a reply carrying pushSettings.
	OpSetPushSettings = "setPushSettings"
	OpGetPushSettings = "getPushSettings"
)

// Ops the relay sends.
const (
	OpReply  = "reply"
	OpMsg    = "msg"
	OpKicked = "kicked"
	OpPong   = "pong"
)

// Receive options a user can set per conversation.
const (
	ReceiveAll       = "receive"   // receive and notify (the default)
	ReceiveNotNotify = "notNotify" // receive online and by sync, but never push
)

// PushSettings are a user's push settings in an app, kept per user (every device of the user
// follows them) and across restarts.
type PushSettings struct {
	// Enabled is false while the user has turned pushes off: messages are still stored, delivered
	// live and synced, but no push is decided for any device of the user (trace: user-disabled).
	Enabled bool `json:"enabled"`
}

// IsDefault reports whether s are the settings a user has until they change them: pushes on.
func (s PushSettings) IsDefault() bool { return s.Enabled }

// ClientFrame is a frame from an app, decoded. Which fields are set depends on Op.
type ClientFrame struct {
	Op string `json:"op"`
	ID int64  `json:"id"`

	// login
	SDKAppID uint64 `json:"sdkAppId,omitempty"`
	UserID   string `json:"userId,omitempty"`
	UserSig  string `json:"userSig,omitempty"`
	DeviceID string `json:"deviceId,omitempty"`
	Platform string `json:"platform,omitempty"`
	// Locale is the reader's language, a BCP 47 tag such as zh-CN (optional).
	Locale string `json:"locale,omitempty"`

	// setPushToken
	CertificateID int64  `json:"certificateId,omitempty"`
	Token         string `json:"token,omitempty"`

	// send
	To          string       `json:"to,omitempty"`
	Group       string       `json:"group,omitempty"`
	Text        string       `json:"text,omitempty"`
	ClientMsgID string       `json:"clientMsgId,omitempty"`
	OnlineOnly  bool         `json:"onlineOnly,omitempty"`
	OfflinePush *OfflinePush `json:"offlinePush,omitempty"`

	// sync (Since), ack (Seq), background (Unread)
	Since  uint64 `json:"since,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
	Unread int    `json:"unread,omitempty"`

	// setReceiveOpt
	Conv string `json:"conv,omitempty"`
	Opt  string `json:"opt,omitempty"`

	// setPushSettings: required, true or false.
	Enabled *bool `json:"enabled,omitempty"`
}

// OfflinePush is a message's push options: what the notification says, or that there is none.
type OfflinePush struct {
	Title   string `json:"title,omitempty" yaml:"title"`
	Desc    string `json:"desc,omitempty" yaml:"desc"`
	Ext     string `json:"ext,omitempty" yaml:"ext"`
	Disable bool   `json:"disable,omitempty" yaml:"disable"`
	// Android are the message's Android notification options; each one set wins over the
	// certificate's default.
	Android AndroidPush `json:"android,omitzero" yaml:"android,omitempty"`
	// Silent asks for a data-only push: no notification block, the title, body and badge in the
	// data for the app to render. It counts against the caps and the badge like any push.
	Silent bool `json:"silent,omitempty" yaml:"silent,omitempty"`
}

// AndroidPush is a message's Android notification options (FCM's AndroidNotification).
type AndroidPush struct {
	// ChannelID is the NotificationChannel (Android 8+) the notification is posted to; empty takes
	// the certificate's default channel.
	ChannelID string `json:"channelId,omitempty" yaml:"channelId,omitempty"`
	// Sound is "default" or a sound resource of the app (res/raw); Android 8+ plays the channel's.
	Sound string `json:"sound,omitempty" yaml:"sound,omitempty"`
	// ClickAction is what a tap opens: an intent action the app's activity filters for, or a URL
	// (https://… or the app's own scheme).
	ClickAction string `json:"clickAction,omitempty" yaml:"clickAction,omitempty"`
}

// ServerFrame is a frame the relay sends. Which fields are set depends on Op.
type ServerFrame struct {
	Op string `json:"op"`

	// reply
	ID   int64  `json:"id,omitempty"`
	Code Code   `json:"code"`
	Desc string `json:"desc,omitempty"`
	// reply to send: the message's sequence number in the sender's own inbox and its ID.
	MsgID string `json:"msgId,omitempty"`
	// reply to sync: the messages after since, in order, and whether more remain.
	Msgs []MsgFrame `json:"msgs,omitempty"`
	More bool       `json:"more,omitempty"`
	// reply to setPushSettings and getPushSettings: the user's settings now.
	PushSettings *PushSettings `json:"pushSettings,omitempty"`

	// msg
	Msg *MsgFrame `json:"msg,omitempty"`

	// kicked
	Reason string `json:"reason,omitempty"`
}

// MsgFrame is one message as a client receives it, live or by sync.
type MsgFrame struct {
	Seq   uint64 `json:"seq"`
	ID    string `json:"msgId"`
	From  string `json:"from"`
	Conv  string `json:"conv"`
	Text  string `json:"text"`
	Time  int64  `json:"time"` // Unix milliseconds
	Group string `json:"group,omitempty"`
}

// MarshalJSON writes a msg frame flat, as the protocol describes it: {"op":"msg","seq":…}.
func (f ServerFrame) MarshalJSON() ([]byte, error) {
	type plain ServerFrame
	switch f.Op {
	case OpMsg:
		if f.Msg == nil {
			return nil, fmt.Errorf("msg frame without a message")
		}
		return json.Marshal(struct {
			Op string `json:"op"`
			MsgFrame
		}{OpMsg, *f.Msg})
	case OpReply:
		return json.Marshal(plain(f))
	default:
		return json.Marshal(struct {
			Op     string `json:"op"`
			Reason string `json:"reason,omitempty"`
		}{f.Op, f.Reason})
	}
}

// UnmarshalJSON reads a frame as MarshalJSON writes it (clients and tests decode with it).
func (f *ServerFrame) UnmarshalJSON(b []byte) error {
	type plain ServerFrame
	var head struct {
		Op string `json:"op"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	if head.Op == OpMsg {
		var m MsgFrame
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		*f = ServerFrame{Op: OpMsg, Msg: &m}
		return nil
	}
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*f = ServerFrame(p)
	return nil
}

// FrameError is a frame the relay could not decode, with the code and desc of its refusal.
type FrameError struct {
	ID   int64 // the frame's id, if it could be read
	Code Code
	Desc string
}

func (e *FrameError) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Desc) }

// DecodeClientFrame decodes one text frame. It refuses what is not a JSON object with an op and
// fields of the right types; it does not check what an op needs (the core does).
func DecodeClientFrame(data []byte) (ClientFrame, *FrameError) {
	var f ClientFrame
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		// Recover the id if the frame has one, so that the refusal can be matched.
		var probe struct {
			ID int64 `json:"id"`
		}
		_ = json.Unmarshal(data, &probe)
		return f, &FrameError{ID: probe.ID, Code: CodeBadFrame, Desc: "frame is not valid: " + err.Error() + `; send one JSON object such as {"op":"ping","id":1}`}
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) > 0 {
		return f, &FrameError{ID: f.ID, Code: CodeBadFrame, Desc: "frame has data after its JSON object; send one object per frame"}
	}
	if f.Op == "" {
		return f, &FrameError{ID: f.ID, Code: CodeBadFrame, Desc: `frame has no "op"`}
	}
	return f, nil
}
