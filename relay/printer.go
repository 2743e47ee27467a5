package relay

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushlab/pushlab/internal/ratelimit"
)

// String prints the Ready as Format does with absolute times.
func (rd *Ready) String() string { return rd.Format(time.Time{}) }

// Format prints the Ready one line per item, in the order the driver carries it out: records,
// frames, closes, pushes, cancelled pushes, trace entries, then a partitioned core's remote
// sends, answers and finished admin sends, each in the Ready's own order. A line starts with what
// the item is (record, frame, close, push, cancelled, trace, remote, answer, send-done) and goes on with
// key=value pairs in a fixed order, zero values left out; values that are not plain words are
// quoted. Times are printed relative to origin (+1m30s) when origin is set, else in RFC 3339.
// Trace entries are printed without their time, which is the core's present when it made them.
// Secrets (app secret keys, certificate credentials) are never printed. An empty Ready prints
// as the empty string; every other ends with a newline.
func (rd *Ready) Format(origin time.Time) string {
	pr := printer{origin: origin}
	var b strings.Builder
	line := func(f fields) {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	for _, r := range rd.Records {
		line(pr.record(r))
	}
	for _, f := range rd.Frames {
		line(pr.frame(f))
	}
	for _, cl := range rd.Closes {
		var f fields
		f.word("close")
		f.num("conn", uint64(cl.Conn))
		f.int("code", int64(cl.Code))
		f.str("reason", cl.Reason)
		line(f)
	}
	for _, p := range rd.Pushes {
		line(pr.push(p))
	}
	for _, id := range rd.Cancelled {
		var f fields
		f.word("cancelled")
		f.num("push", id)
		line(f)
	}
	for _, e := range rd.Trace {
		line(pr.trace(e))
	}
	for _, rs := range rd.Remote {
		line(pr.remote(rs))
	}
	for _, a := range rd.Answers {
		line(answer(a))
	}
	for _, d := range rd.SendsDone {
		var f fields
		f.word("send-done")
		f.str("msg", d.MsgID)
		f.raw("code", fmt.Sprint(int(d.Code)))
		f.str("desc", d.Desc)
		line(f)
	}
	return b.String()
}

// remote prints a message for another partition.
func (pr printer) remote(rs RemoteSend) fields {
	var f fields
	f.word("remote")
	f.num("token", rs.Token)
	f.raw("partition", strconv.Itoa(rs.Partition))
	m := rs.Msg
	f.num("app", m.App)
	f.str("id", m.ID)
	f.str("from", m.From)
	f.str("fromDevice", m.FromDevice)
	f.str("to", strings.Join(m.To, ","))
	f.str("group", m.Group)
	f.str("text", m.Text)
	pr.at(&f, "time", m.Time)
	f.flag("onlineOnly", m.OnlineOnly)
	f.offlinePush(m.OfflinePush)
	return f
}

// answer prints this core's answer to another partition, its recipients' seqs by user.
func answer(a RemoteReply) fields {
	var f fields
	f.word("answer")
	f.num("reply", a.Reply)
	f.raw("code", fmt.Sprint(int(a.Code)))
	f.str("desc", a.Desc)
	users := make([]string, 0, len(a.Seqs))
	for u := range a.Seqs {
		users = append(users, u)
	}
	slices.Sort(users)
	var seqs fields
	for _, u := range users {
		seqs.raw(quote(u), fmt.Sprint(a.Seqs[u]))
	}
	if len(users) > 0 {
		f.raw("seqs", "("+seqs.String()+")")
	}
	return f
}

// printer formats the items of a Ready, times relative to origin.
type printer struct{ origin time.Time }

func (pr printer) time(t time.Time) string {
	if pr.origin.IsZero() {
		return t.UTC().Format(time.RFC3339Nano)
	}
	d := t.Sub(pr.origin)
	if d < 0 {
		return d.String()
	}
	return "+" + d.String()
}

func (pr printer) at(f *fields, k string, t time.Time) {
	if !t.IsZero() {
		f.raw(k, pr.time(t))
	}
}

func deviceKey(k DeviceKey) string {
	return fmt.Sprintf("%d/%s/%s", k.SDKAppID, quote(k.UserID), quote(k.DeviceID))
}

func userKey(k UserKey) string { return fmt.Sprintf("%d/%s", k.SDKAppID, quote(k.UserID)) }

func (pr printer) record(r Record) fields {
	var f fields
	f.word("record")
	switch r := r.(type) {
	case PutApp:
		f.word("put-app")
		a := r.App
		f.num("app", a.SDKAppID)
		f.str("name", a.Name)
		f.str("policy", string(a.LoginPolicy))
		f.caps(a.Caps)
	case DeleteApp:
		f.word("delete-app")
		f.num("app", r.SDKAppID)
	case PutCertificate:
		f.word("put-certificate")
		f.certificate(r.Cert)
		pr.at(&f, "since", r.Cert.Status.Since)
	case DeleteCertificate:
		f.word("delete-certificate")
		f.int("cert", r.ID)
	case PutSession:
		s := r.Session
		f.word("put-session")
		f.word(deviceKey(s.Key))
		f.str("platform", s.Platform)
		pr.at(&f, "login", s.LoginAt)
		f.raw("unread", fmt.Sprint(s.Unread))
		f.seqs("held", s.Held)
		if s.Caps != nil {
			f.raw("caps", fmt.Sprintf("(minute=%d hour=%d full=%s)",
				windowCount(s.Caps.PerMinute), windowCount(s.Caps.PerHour), pr.time(s.Caps.BucketFull)))
		}
		f.flag("logged-out", s.LoggedOut)
		f.str("locale", s.Locale)
	case DeleteSession:
		f.word("delete-session")
		f.word(deviceKey(r.Key))
	case PutBinding:
		f.word("put-binding")
		f.word(deviceKey(r.Binding.Key))
		f.int("cert", r.Binding.CertificateID)
		f.str("token", r.Binding.Token)
	case DeleteBinding:
		f.word("delete-binding")
		f.word(deviceKey(r.Key))
	case PutMessage:
		m := r.Msg
		f.word("put-message")
		f.word(userKey(r.User))
		f.num("seq", m.Seq)
		f.str("id", m.ID)
		f.str("from", m.From)
		f.str("fromDevice", m.FromDevice)
		f.str("conv", m.Conv)
		f.str("group", m.Group)
		f.str("text", m.Text)
		pr.at(&f, "time", m.Time)
		if m.Push != nil {
			f.offlinePush(m.Push)
		}
		f.str("nickname", m.Nickname)
	case TrimInbox:
		f.word("trim-inbox")
		f.word(userKey(r.User))
		f.num("through", r.Through)
	case PutGroup:
		f.word("put-group")
		f.num("app", r.Group.SDKAppID)
		f.str("group", r.Group.ID)
		f.str("name", r.Group.Name)
		f.str("members", strings.Join(r.Group.Members, ","))
	case PutReceiveOpt:
		f.word("put-receive-opt")
		f.word(userKey(r.User))
		f.str("conv", r.Conv)
		f.str("opt", r.Opt)
	case PutPush:
		p := r.Push.Push
		f.word("put-push")
		f.num("push", p.ID)
		f.word(deviceKey(p.Device))
		f.int("attempt", int64(p.Attempt))
		pr.at(&f, "notBefore", r.Push.NotBefore)
	case DeletePush:
		f.word("delete-push")
		f.num("push", r.ID)
	case PutCounter:
		f.word("put-counter")
		f.raw(quote(r.Name), fmt.Sprint(r.Value))
	case PutPushSettings:
		f.word("put-push-settings")
		f.word(userKey(r.User))
		f.raw("enabled", strconv.FormatBool(r.Settings.Enabled))
	case PutProfile:
		f.word("put-profile")
		f.word(userKey(UserKey{r.Profile.SDKAppID, r.Profile.UserID}))
		f.str("nickname", r.Profile.Nickname)
	default:
		f.word(fmt.Sprintf("%T", r))
	}
	return f
}

// windowCount is how many events a window's state holds.
func windowCount(s ratelimit.WindowState) int {
	n := 0
	for _, sc := range s.Slots {
		n += int(sc.Count)
	}
	return n
}

func (pr printer) frame(of OutFrame) fields {
	var f fields
	f.word("frame")
	f.num("conn", uint64(of.Conn))
	fr := of.Frame
	f.word(fr.Op)
	switch fr.Op {
	case OpReply:
		f.raw("id", fmt.Sprint(fr.ID))
		f.raw("code", fmt.Sprint(int(fr.Code)))
		f.str("desc", fr.Desc)
		f.str("msgId", fr.MsgID)
		if fr.Msgs != nil {
			var msgs []string
			for _, m := range fr.Msgs {
				msgs = append(msgs, fmt.Sprintf("%d:%s", m.Seq, quote(m.Text)))
			}
			f.raw("msgs", "["+strings.Join(msgs, " ")+"]")
		}
		f.flag("more", fr.More)
		if ps := fr.PushSettings; ps != nil {
			f.raw("pushSettings", "(enabled="+strconv.FormatBool(ps.Enabled)+")")
		}
	case OpMsg:
		if m := fr.Msg; m != nil {
			f.raw("seq", fmt.Sprint(m.Seq))
			f.str("id", m.ID)
			f.str("from", m.From)
			f.str("conv", m.Conv)
			f.str("group", m.Group)
			f.str("text", m.Text)
			f.raw("time", pr.time(time.UnixMilli(m.Time)))
		}
	default:
		f.str("reason", fr.Reason)
	}
	return f
}

func (pr printer) push(p Push) fields {
	var f fields
	f.word("push")
	f.num("push", p.ID)
	f.word(deviceKey(p.Device))
	f.flag("test", p.Test)
	f.int("attempt", int64(p.Attempt))
	f.int("cert", p.CertificateID)
	f.str("token", p.Token)
	f.str("title", p.Title)
	f.str("body", p.Body)
	f.str("collapse", p.CollapseKey)
	f.raw("badge", fmt.Sprint(p.NotificationCount))
	f.str("channel", p.ChannelID)
	f.str("sound", p.Sound)
	f.str("click", p.ClickAction)
	f.flag("silent", p.Silent)
	f.seqs("seqs", p.Seqs)
	f.dur("ttl", p.TTL.D())
	keys := make([]string, 0, len(p.Data))
	for k := range p.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var data fields
	for _, k := range keys {
		data.raw(quote(k), quote(p.Data[k]))
	}
	if len(keys) > 0 {
		f.raw("data", "("+data.String()+")")
	}
	return f
}

func (pr printer) trace(e TraceEntry) fields {
	var f fields
	f.word("trace")
	if e.UserID == "" && e.DeviceID == "" {
		f.word(strconv.FormatUint(e.SDKAppID, 10)) // a certificate event: no device
	} else {
		f.word(deviceKey(DeviceKey{e.SDKAppID, e.UserID, e.DeviceID}))
	}
	f.word(e.Reason)
	f.num("seq", e.Seq)
	f.seqs("seqs", e.Seqs)
	f.str("msg", e.MsgID)
	f.int("cert", e.CertificateID)
	f.num("push", e.PushID)
	f.int("attempt", int64(e.Attempt))
	f.str("fcm", e.FCMName)
	f.str("detail", e.Detail)
	return f
}
