package relay

import (
	"fmt"
	"slices"
	"strconv"
)

// maxClientMsgIDs is how many recent client message IDs per user are remembered for dedup.
const maxClientMsgIDs = 256

// SendRequest is a message to send: one-to-one (To) or to a group (Group).
type SendRequest struct {
	From        string       `json:"from"`
	To          string       `json:"to,omitempty"`
	Group       string       `json:"group,omitempty"`
	Text        string       `json:"text"`
	ClientMsgID string       `json:"clientMsgId,omitempty"`
	OnlineOnly  bool         `json:"onlineOnly,omitempty"`
	OfflinePush *OfflinePush `json:"offlinePush,omitempty"`
}

// sendError is a refused send: the code and desc of its reply.
type sendError struct {
	code Code
	desc string
}

func (e *sendError) Error() string { return e.desc }

func (c *Core) clientSend(cn *conn, d *device, f ClientFrame) {
	req := SendRequest{From: d.key.UserID, To: f.To, Group: f.Group, Text: f.Text, ClientMsgID: f.ClientMsgID, OnlineOnly: f.OnlineOnly, OfflinePush: f.OfflinePush}
	id, pending, err := c.send(d.key.SDKAppID, d.key.DeviceID, d.user, req, sendOrigin{conn: cn.id, frame: f.ID})
	switch {
	case err != nil:
		c.reply(cn, f.ID, err.code, err.desc)
	case !pending:
		c.frame(cn.id, ServerFrame{Op: OpReply, ID: f.ID, Code: OK, MsgID: id})
	}
}

// sendTarget is one inbox a message goes to, with the conversation it is filed under there.
type sendTarget struct {
	user UserKey
	conv string
	// u is the user's record when the send found it already, so that delivering does not look
	// it up again; nil: look it up (made if new). Only a send that delivers at once sets it: a
	// send parked for other partitions clears it (the record may be gone by its answer).
	u *user
}

// send stores a message in every recipient's inbox (the sender's own included, for its other
// devices) and delivers it: a frame to online devices, the push rule for the others.
//
// In a partitioned core, recipients of other partitions are asked for through RemoteSends, and the
// send finishes (pending is true) when every partition has answered: only then are the local
// copies stored and the sender answered, so that a send refused anywhere leaves nothing behind
// here and its retry is a new send.
//
// from is the sender's record when the caller holds it — a client's send: its device's user,
// whose ID was checked at login —, and then must be the record of {sdkAppID, req.From}; nil:
// req.From is checked and looked up. At 100,000 phones a lookup in the users map is a few cache
// misses a message.
func (c *Core) send(sdkAppID uint64, fromDevice string, from *user, req SendRequest, origin sendOrigin) (id string, pending bool, _ *sendError) {
	if len(req.Text) > MaxTextBytes {
		return "", false, &sendError{CodeTextTooLong, fmt.Sprintf("text is %d bytes; the limit is %d", len(req.Text), MaxTextBytes)}
	}
	if op := req.OfflinePush; op != nil && (len(op.Title) > MaxPushFieldBytes || len(op.Desc) > MaxPushFieldBytes || len(op.Ext) > MaxPushFieldBytes) {
		return "", false, &sendError{CodeTextTooLong, fmt.Sprintf("offlinePush title, desc and ext must each be at most %d bytes: FCM refuses payloads over 4 KiB", MaxPushFieldBytes)}
	}
	if op := req.OfflinePush; op != nil {
		if bad := checkAndroidPush(op.Android); bad != "" {
			return "", false, &sendError{CodeBadField, bad}
		}
	}
	if (req.To == "") == (req.Group == "") {
		return "", false, &sendError{CodeBadField, `set exactly one of "to" (a user ID) or "group" (a group ID)`}
	}
	ids := []string{req.To, req.Group}
	if from == nil { // else the sender's record, whose ID was checked when it logged in
		ids = []string{req.From, req.To, req.Group}
	}
	for _, id := range ids {
		if id != "" && !validID(id) {
			return "", false, &sendError{CodeBadField, fmt.Sprintf("%q is not a valid ID: 1 to 128 letters, digits or _.@:+-", id)}
		}
	}
	if err := c.checkPushBound(sdkAppID, req); err != nil {
		return "", false, err
	}
	if from == nil {
		from = c.user(UserKey{sdkAppID, req.From})
	}
	if req.ClientMsgID != "" {
		if id, ok := from.clientMsgIDs[req.ClientMsgID]; ok {
			return id, false, nil // a resend of a message already sent
		}
		if tok, ok := c.sendsByClientID[clientSendKey{from.key, req.ClientMsgID}]; ok {
			// A resend of a message still waiting for other partitions: answered with it.
			ps := c.sends[tok]
			ps.origins = append(ps.origins, origin)
			return ps.msg.ID, true, nil
		}
	}
	var one [2]sendTarget // a one-to-one message's two inboxes, without a slice of their own
	targets := one[:0]
	if req.Group != "" {
		g, ok := c.groups[groupKey{sdkAppID, req.Group}]
		if !ok {
			return "", false, &sendError{CodeUnknownGroup, fmt.Sprintf("no group %q in app %d: create it first", req.Group, sdkAppID)}
		}
		if !slices.Contains(g.Members, req.From) {
			return "", false, &sendError{CodeNotMember, fmt.Sprintf("%q is not a member of group %q", req.From, req.Group)}
		}
		conv := "group_" + req.Group // one string for every member's copy
		targets = make([]sendTarget, 0, len(g.Members))
		for _, m := range g.Members {
			targets = append(targets, sendTarget{user: UserKey{sdkAppID, m}, conv: conv})
		}
	} else if req.To == req.From {
		targets = append(targets, sendTarget{user: from.key, conv: from.c2cConv(), u: from})
	} else {
		// The recipient's copy under the sender's conversation, the sender's under the recipient's.
		to := UserKey{sdkAppID, req.To}
		toU := c.users[to] // nil if this core has no record of the user
		conv := c2cConvID(req.To)
		if toU != nil {
			conv = toU.c2cConv() // made once per user
		}
		targets = append(targets, sendTarget{user: to, conv: from.c2cConv(), u: toU},
			sendTarget{user: from.key, conv: conv, u: from})
	}
	c.msgCounter++
	if c.recording() {
		c.record(PutCounter{Name: c.cfg.Partition.counter(counterMessages), Value: c.msgCounter})
	}
	id = c.cfg.Partition.messageID(sdkAppID, c.msgCounter)
	m := StoredMsg{ID: id, From: req.From, FromDevice: fromDevice, Group: req.Group, Text: req.Text, Time: c.now, Nickname: from.nickname}
	if req.OfflinePush != nil {
		m = m.WithPushOptions(*req.OfflinePush)
	}
	local, remote := c.splitTargets(targets)
	if len(remote) > 0 {
		c.startRemote(sdkAppID, req, m, local, remote, origin)
		return id, true, nil
	}
	if req.ClientMsgID != "" {
		from.rememberClientMsgID(req.ClientMsgID, id)
	}
	c.deliverLocal(m, local, req.OnlineOnly, nil)
	return id, false, nil
}

// deliverLocal files m in the inbox of each target (all of this core's users) under the target's
// conversation and delivers it: a frame to their online devices, the push rule for the others. An
// online-only message is never stored. seqs, if not nil, is given each recipient's sequence
// number (only a remote partition's answer needs them: a map per message is not made for nothing).
func (c *Core) deliverLocal(m StoredMsg, targets []sendTarget, onlineOnly bool, seqs map[string]uint64) {
	var body *msgBody // shared by the copies, made with the first
	for _, t := range targets {
		u := t.u
		if u == nil {
			u = c.user(t.user)
		}
		m := m
		m.Conv = t.conv
		if onlineOnly {
			// Never stored, never pushed: it has no place in the sequence.
			for _, d := range u.devices {
				c.decide(d, m, true)
			}
			continue
		}
		u.seq++
		m.Seq = u.seq
		if seqs != nil {
			seqs[t.user.UserID] = m.Seq
		}
		if body == nil {
			body = newBody(&m)
		}
		u.inbox = append(u.inbox, inboxEntry{seq: m.Seq, body: body, conv: m.Conv})
		if c.recording() {
			c.record(PutMessage{User: u.key, Msg: m})
		}
		// Trim in steps of a tenth of the limit, so that a full inbox is not shifted per message.
		if over := len(u.inbox) - c.cfg.InboxLimit; over > c.cfg.InboxLimit/10 {
			c.record(TrimInbox{User: u.key, Through: u.inbox[over-1].seq})
			u.inbox = slices.Clone(u.inbox[over:])
		}
		for _, d := range u.devices {
			c.decide(d, m, false)
		}
	}
}

func (u *user) rememberClientMsgID(clientID, id string) {
	if u.clientMsgIDs == nil {
		u.clientMsgIDs = map[string]string{}
	}
	u.clientMsgIDs[clientID] = id
	u.clientMsgOrder = append(u.clientMsgOrder, clientID)
	if len(u.clientMsgOrder) > maxClientMsgIDs {
		delete(u.clientMsgIDs, u.clientMsgOrder[0])
		u.clientMsgOrder = u.clientMsgOrder[1:]
	}
}

// msgFrame is a stored message as a client receives it.
func msgFrame(m StoredMsg) *MsgFrame {
	return &MsgFrame{Seq: m.Seq, ID: m.ID, From: m.From, Conv: m.Conv, Text: m.Text, Time: m.Time.UnixMilli(), Group: m.Group}
}

// sync answers the messages after since, at most MaxSyncBatch of them. Live frames start once
// the device has caught up, so that it sees its inbox in order.
func (c *Core) sync(cn *conn, d *device, f ClientFrame) {
	u := d.user
	msgs := u.between(f.Since, u.seq)
	more := len(msgs) > MaxSyncBatch
	if more {
		msgs = msgs[:MaxSyncBatch]
	}
	out := make([]MsgFrame, 0, len(msgs))
	for i := range msgs {
		out = append(out, *msgFrame(msgs[i].msg()))
	}
	d.cursor = f.Since
	if len(msgs) > 0 {
		d.cursor = msgs[len(msgs)-1].seq
	}
	d.synced = !more
	if d.synced {
		d.cursor = max(d.cursor, u.seq)
		c.cancelHeld(d, ReasonOnline, "the device came back and synced what it missed")
	}
	// What a sync returns was pushed before if it had to be; only live frames written after it
	// are pushed again should the connection die unacknowledged.
	d.acked = d.cursor
	desc := ""
	if len(u.inbox) > 0 && f.Since+1 < u.inbox[0].seq {
		desc = fmt.Sprintf("messages before seq %d are no longer kept", u.inbox[0].seq)
	}
	c.frame(cn.id, ServerFrame{Op: OpReply, ID: f.ID, Code: OK, Desc: desc, Msgs: out, More: more})
}

// setReceiveOpt sets the user's receive option for a conversation.
func (c *Core) setReceiveOpt(cn *conn, d *device, f ClientFrame) {
	if !validID(f.Conv) {
		c.reply(cn, f.ID, CodeBadField, "conv is required: a conversation ID such as c2c_alice or group_team")
		return
	}
	u := d.user
	switch f.Opt {
	case ReceiveAll:
		delete(u.opts, f.Conv)
	case ReceiveNotNotify:
		u.setOpt(f.Conv, ReceiveNotNotify)
	default:
		c.reply(cn, f.ID, CodeBadField, fmt.Sprintf("opt %q: use %q or %q", f.Opt, ReceiveAll, ReceiveNotNotify))
		return
	}
	c.record(PutReceiveOpt{User: u.key, Conv: f.Conv, Opt: f.Opt})
	c.reply(cn, f.ID, OK, "")
}

// previewRunes is how many characters of a message's text a push's body shows.
const previewRunes = 100

// preview shortens a text for a notification body.
func preview(text string, limit int) string {
	r := []rune(text)
	if len(r) <= limit {
		return text
	}
	return string(r[:limit-1]) + "…"
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
