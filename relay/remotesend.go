package relay

import (
	"fmt"
	"slices"
	"time"
)

// RemoteMsg is a message for users of another partition: what the sending partition's core
// hands its driver (in a RemoteSend), and what the recipients' core takes (InputRemoteMsg).
type RemoteMsg struct {
	App        uint64    `json:"app"`
	ID         string    `json:"id"`   // named by the sending core
	Time       time.Time `json:"time"` // the sending core's time for it
	From       string    `json:"from"`
	FromDevice string    `json:"fromDevice,omitempty"`
	// To are the recipients, all of the target partition, in the order the sender listed them.
	To          []string     `json:"to"`
	Group       string       `json:"group,omitempty"`
	Text        string       `json:"text"`
	OnlineOnly  bool         `json:"onlineOnly,omitempty"`
	OfflinePush *OfflinePush `json:"offlinePush,omitempty"`
	// Nickname is the sender's nickname (its partition holds the profile).
	Nickname string `json:"nickname,omitempty"`
}

// RemoteSend asks the core of Partition to take Msg. The driver sends it once the Ready's records
// are durable and answers it with InputRemoteAnswer (same Token and Partition): the other core's
// RemoteReply, or, when it could not be reached in time, CodeUnavailable. Every RemoteSend must be
// answered once: the sender's reply waits for it.
type RemoteSend struct {
	Token     uint64
	Partition int
	Msg       RemoteMsg
}

// RemoteAnswer is a partition's answer to a RemoteSend, as the driver hands it back.
type RemoteAnswer struct {
	Token     uint64
	Partition int
	Code      Code
	Desc      string
}

// RemoteReply is this core's answer to an InputRemoteMsg: the driver sends it to the asking
// partition once the Ready's records are durable. Code is OK when the message is stored for every
// recipient; Seqs holds each recipient's sequence number (none for an online-only message).
type RemoteReply struct {
	Reply uint64 // the driver's name for the request, from InputRemoteMsg
	Code  Code
	Desc  string
	Seqs  map[string]uint64
}

// SendDone is the outcome of an admin send that waited for other partitions (AdminSendAsync).
type SendDone struct {
	MsgID string
	Code  Code
	Desc  string
}

// clientSendKey names a client send by its sender and clientMsgId, while it waits.
type clientSendKey struct {
	from        UserKey
	clientMsgID string
}

// sendOrigin is who waits for a send's answer: a client's frame, or an admin call.
type sendOrigin struct {
	conn  ConnID
	frame int64
	admin bool
}

// pendingSend is a send waiting for other partitions' answers.
type pendingSend struct {
	app        uint64
	req        SendRequest
	msg        StoredMsg
	local      []sendTarget
	origins    []sendOrigin // the send, then its resends (same clientMsgId) made while it waited
	waiting    map[int]bool
	refusal    *sendError
	clientFrom UserKey
}

// splitTargets separates the targets this core holds from those of other partitions, grouped by
// partition (in the order they first appear). local takes the front of targets' array, in order:
// a send's targets cost no second slice.
func (c *Core) splitTargets(targets []sendTarget) (local []sendTarget, remote map[int][]string) {
	local = targets[:0]
	for _, t := range targets {
		if c.cfg.Partition.Holds(t.user) {
			local = append(local, t)
			continue
		}
		if remote == nil {
			remote = map[int][]string{}
		}
		p := PartitionOf(t.user.SDKAppID, t.user.UserID, c.cfg.Partition.Count)
		remote[p] = append(remote[p], t.user.UserID)
	}
	return local, remote
}

// startRemote asks the other partitions for their recipients' copies of m and parks the send
// until they have all answered (RemoteAnswer).
func (c *Core) startRemote(app uint64, req SendRequest, m StoredMsg, local []sendTarget, remote map[int][]string, origin sendOrigin) {
	c.sendToken++
	ps := &pendingSend{app: app, req: req, msg: m, local: slices.Clone(local), origins: []sendOrigin{origin}, waiting: map[int]bool{},
		clientFrom: UserKey{app, req.From}}
	for i := range ps.local {
		ps.local[i].u = nil // looked up again when the answers are in: the record may be gone by then
	}
	c.sends[c.sendToken] = ps
	if req.ClientMsgID != "" {
		c.sendsByClientID[clientSendKey{ps.clientFrom, req.ClientMsgID}] = c.sendToken
	}
	parts := make([]int, 0, len(remote))
	for p := range remote {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, p := range parts {
		ps.waiting[p] = true
		c.ready.Remote = append(c.ready.Remote, RemoteSend{Token: c.sendToken, Partition: p, Msg: RemoteMsg{
			App: app, ID: m.ID, Time: m.Time, From: m.From, FromDevice: m.FromDevice, To: remote[p],
			Group: req.Group, Text: req.Text, OnlineOnly: req.OnlineOnly, OfflinePush: req.OfflinePush, Nickname: m.Nickname,
		}})
	}
}

// RemoteAnswer takes a partition's answer to a RemoteSend. When the last of a send's partitions
// has answered, the send finishes: if all of them took the message, the local copies are stored
// and delivered and the sender is answered OK with the message's ID; otherwise the sender gets the
// first refusal (CodeUnavailable when a partition had no owner) and nothing is stored here.
func (c *Core) RemoteAnswer(now time.Time, a RemoteAnswer) {
	c.observe(now)
	ps, ok := c.sends[a.Token]
	if !ok || !ps.waiting[a.Partition] {
		return // an answer to a send already finished (a duplicate): nothing waits for it
	}
	delete(ps.waiting, a.Partition)
	if a.Code != OK && ps.refusal == nil {
		desc := a.Desc
		if desc == "" {
			desc = fmt.Sprintf("partition %d refused the message", a.Partition)
		}
		ps.refusal = &sendError{a.Code, desc}
	}
	if len(ps.waiting) > 0 {
		return
	}
	delete(c.sends, a.Token)
	if ps.req.ClientMsgID != "" {
		delete(c.sendsByClientID, clientSendKey{ps.clientFrom, ps.req.ClientMsgID})
	}
	if ps.refusal == nil && c.apps[ps.app] == nil {
		ps.refusal = &sendError{CodeUnknownApp, fmt.Sprintf("app %d was deleted while the message was on its way", ps.app)}
	}
	if ps.refusal == nil {
		if ps.req.ClientMsgID != "" {
			c.user(ps.clientFrom).rememberClientMsgID(ps.req.ClientMsgID, ps.msg.ID)
		}
		c.deliverLocal(ps.msg, ps.local, ps.req.OnlineOnly, nil)
	}
	for _, o := range ps.origins {
		c.answerSend(o, ps)
	}
}

// answerSend tells one who waited for a send how it ended.
func (c *Core) answerSend(o sendOrigin, ps *pendingSend) {
	if o.admin {
		done := SendDone{MsgID: ps.msg.ID, Code: OK}
		if ps.refusal != nil {
			done.Code, done.Desc = ps.refusal.code, ps.refusal.desc
		}
		c.ready.SendsDone = append(c.ready.SendsDone, done)
		return
	}
	cn, ok := c.conns[o.conn]
	if !ok {
		return // the sender's connection is gone; a resend with its clientMsgId finds the ID
	}
	if ps.refusal != nil {
		c.reply(cn, o.frame, ps.refusal.code, ps.refusal.desc)
		return
	}
	c.frame(cn.id, ServerFrame{Op: OpReply, ID: o.frame, Code: OK, MsgID: ps.msg.ID})
}

// RemoteMsg takes a message another partition's core sent to users of this one: it files the
// message in each recipient's inbox (under c2c_<sender> or group_<group>) and delivers it as any
// message, then answers with a RemoteReply under reply once the records are durable.
func (c *Core) RemoteMsg(now time.Time, reply uint64, m RemoteMsg) {
	c.observe(now)
	answer := RemoteReply{Reply: reply, Code: OK}
	switch {
	case !c.cfg.Partition.Enabled():
		answer.Code, answer.Desc = CodeInternal, "this relay is not partitioned"
	case c.apps[m.App] == nil:
		answer.Code, answer.Desc = CodeUnknownApp, fmt.Sprintf("no app %d", m.App)
	}
	conv := c2cConvID(m.From) // one string for every recipient's copy
	if m.Group != "" {
		conv = "group_" + m.Group
	}
	targets := make([]sendTarget, 0, len(m.To))
	for _, to := range m.To {
		k := UserKey{m.App, to}
		if answer.Code == OK && !c.cfg.Partition.Holds(k) {
			answer.Code, answer.Desc = CodeUnavailable, fmt.Sprintf("user %q is not in partition %d", to, c.cfg.Partition.Index)
		}
		targets = append(targets, sendTarget{user: k, conv: conv})
	}
	if answer.Code == OK {
		sm := StoredMsg{ID: m.ID, From: m.From, FromDevice: m.FromDevice, Group: m.Group, Text: m.Text, Time: m.Time, Nickname: m.Nickname}
		if m.OfflinePush != nil {
			sm = sm.WithPushOptions(*m.OfflinePush)
		}
		seqs := map[string]uint64{}
		c.deliverLocal(sm, targets, m.OnlineOnly, seqs)
		if len(seqs) > 0 {
			answer.Seqs = seqs
		}
	}
	c.ready.Answers = append(c.ready.Answers, answer)
}
