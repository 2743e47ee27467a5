package relay

import (
	"sort"
	"time"
)

// msgBody is what every copy of one message shares: the message itself, without the seq and the
// conversation that differ from one inbox to the next. A message goes to two inboxes at least
// (the recipient's and the sender's own) and a StoredMsg takes about 150 bytes, so an inbox holds
// a pointer to the body its copies share, not a StoredMsg per copy.
type msgBody struct {
	ID         string
	From       string
	FromDevice string
	Text       string
	Nickname   string
	Time       time.Time
	// rare is the group and the push options, nil when the message has neither: most messages
	// are one-to-one and without options, and a body is 112 bytes, plus a 24-byte msgRare for
	// those that have them.
	rare *msgRare
}

// msgRare is the part of a message most messages leave empty.
type msgRare struct {
	Group string
	Push  *OfflinePush
}

// newBody is the body of m, shared by the copies of m filed in inboxes.
func newBody(m *StoredMsg) *msgBody {
	b := &msgBody{ID: m.ID, From: m.From, FromDevice: m.FromDevice, Text: m.Text, Nickname: m.Nickname, Time: m.Time}
	if m.Group != "" || m.Push != nil {
		b.rare = &msgRare{Group: m.Group, Push: m.Push}
	}
	return b
}

// inboxEntry is one message in one user's inbox: its seq there, the conversation it is filed
// under there, and the body all its copies share. conv is shared too where it can be (see
// user.c2cConv): a user's inbox files hundreds of messages under the same few conversations.
type inboxEntry struct {
	seq  uint64
	body *msgBody
	conv string
}

// msg is the entry as the StoredMsg it stands for.
func (e *inboxEntry) msg() StoredMsg {
	b := e.body
	m := StoredMsg{Seq: e.seq, ID: b.ID, From: b.From, FromDevice: b.FromDevice, Conv: e.conv, Text: b.Text, Time: b.Time,
		Nickname: b.Nickname}
	if b.rare != nil {
		m.Group, m.Push = b.rare.Group, b.rare.Push
	}
	return m
}

// restoring shares what the copies of a message have in common while a core is rebuilt from a
// store, which holds each copy on its own, so that a restored inbox takes the room a running one
// does: bodies by message ID (shared only between copies whose bodies are the same) and
// conversation strings.
type restoring struct {
	bodies map[string]*msgBody
	convs  map[string]string
}

func newRestoring() *restoring {
	return &restoring{bodies: map[string]*msgBody{}, convs: map[string]string{}}
}

// inbox is the entries for msgs, in their order.
func (r *restoring) inbox(msgs []StoredMsg) []inboxEntry {
	if len(msgs) == 0 {
		return nil
	}
	out := make([]inboxEntry, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		b := newBody(m)
		if old, ok := r.bodies[m.ID]; ok && sameBody(old, b) {
			b = old
		} else {
			r.bodies[m.ID] = b
		}
		conv, ok := r.convs[m.Conv]
		if !ok {
			conv = m.Conv
			r.convs[conv] = conv
		}
		out[i] = inboxEntry{seq: m.Seq, body: b, conv: conv}
	}
	return out
}

// sameBody reports whether a and b hold the same message.
func sameBody(a, b *msgBody) bool {
	if a.ID != b.ID || a.From != b.From || a.FromDevice != b.FromDevice || a.Text != b.Text ||
		a.Nickname != b.Nickname || a.Time != b.Time || (a.rare == nil) != (b.rare == nil) {
		return false
	}
	if a.rare == nil {
		return true
	}
	if a.rare.Group != b.rare.Group || (a.rare.Push == nil) != (b.rare.Push == nil) {
		return false
	}
	return a.rare.Push == nil || *a.rare.Push == *b.rare.Push
}

// between returns the inbox entries with from < seq <= to.
func (u *user) between(from, to uint64) []inboxEntry {
	if to <= from {
		return nil
	}
	i := sort.Search(len(u.inbox), func(i int) bool { return u.inbox[i].seq > from })
	j := sort.Search(len(u.inbox), func(i int) bool { return u.inbox[i].seq > to })
	return u.inbox[i:j]
}

// c2cConv is the conversation "c2c_<user>" that the user's one-to-one messages are filed under
// in their peers' inboxes, made once per user rather than once per message.
func (u *user) c2cConv() string {
	if u.conv == "" {
		u.conv = c2cConvID(u.key.UserID)
	}
	return u.conv
}

// c2cConvID is the conversation "c2c_<userID>" (c2cConv), made afresh: for a user whose record
// is not at hand.
func c2cConvID(userID string) string { return "c2c_" + userID }
