package relay

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// InputKind names one kind of input of the core. Each kind is one of the core's methods that
// change its state; Step applies an Input through that method.
type InputKind uint8

// The inputs of the core. The comment of each says which fields of Input it reads.
const (
	InputOpen               InputKind = iota + 1 // a transport connection opened: Conn
	InputReceive                                 // a decoded frame from a connection: Conn, Frame
	InputRefuse                                  // a frame that could not be decoded: Conn, Refusal
	InputClosed                                  // a connection is gone: Conn
	InputPushResult                              // FCM's answer to a push: Result
	InputTick                                    // time passed: timers due now run
	InputPutApp                                  // admin: create (Create) or replace an app: AppConfig
	InputDeleteApp                               // admin: delete an app: App
	InputPutCertificate                          // admin: create (Create) or replace a certificate: Cert
	InputDeleteCertificate                       // admin: delete a certificate: App, CertID
	InputPutGroup                                // admin: create or replace a group: Group
	InputKick                                    // admin: end every login of a user: App, User, Reason
	InputAdminSend                               // admin: a server-side send: App, Send
	InputCertificateChecked                      // a certificate check's result: Check
	InputTestPush                                // admin: a test push to a device: App, User, Device, Title, Body
	InputRemoteAnswer                            // a partition's answer to a RemoteSend: Answer
	InputRemoteMsg                               // a message from another partition's core: Reply, Remote
	InputTokenMoved                              // another partition's device bound a token: App, User, Device, Token
	InputSetPushSettings                         // admin: set a user's push settings: App, User, PushSettings
	InputPutProfile                              // admin: set a user's profile: Profile
)

var inputKindNames = [...]string{
	InputOpen:               "open",
	InputReceive:            "receive",
	InputRefuse:             "refuse",
	InputClosed:             "closed",
	InputPushResult:         "push-result",
	InputTick:               "tick",
	InputPutApp:             "put-app",
	InputDeleteApp:          "delete-app",
	InputPutCertificate:     "put-certificate",
	InputDeleteCertificate:  "delete-certificate",
	InputPutGroup:           "put-group",
	InputKick:               "kick",
	InputAdminSend:          "admin-send",
	InputCertificateChecked: "certificate-checked",
	InputTestPush:           "test-push",
	InputRemoteAnswer:       "remote-answer",
	InputRemoteMsg:          "remote-msg",
	InputTokenMoved:         "token-moved",
	InputSetPushSettings:    "set-push-settings",
	InputPutProfile:         "put-profile",
}

// String names the kind as Input.String prints it.
func (k InputKind) String() string {
	if int(k) < len(inputKindNames) && inputKindNames[k] != "" {
		return inputKindNames[k]
	}
	return fmt.Sprintf("input-kind-%d", uint8(k))
}

// Input is one input of the core: everything that changes its state comes as one of these
// (the core's methods of the same names take the same inputs one field at a time). Which fields
// are read depends on Kind; the others are ignored.
type Input struct {
	Kind InputKind

	Conn    ConnID      // open, receive, refuse, closed
	Frame   ClientFrame // receive
	Refusal *FrameError // refuse
	Result  PushResult  // push-result
	Check   CheckResult // certificate-checked

	App    uint64      // kick, admin-send, delete-app, delete-certificate, test-push: the app's SDKAppID
	User   string      // kick, test-push
	Device string      // test-push: the device's ID
	Title  string      // test-push; empty means DefaultTestPushTitle
	Body   string      // test-push; empty means DefaultTestPushBody
	Reason string      // kick; empty means the default reason
	Send   SendRequest // admin-send
	CertID int64       // delete-certificate

	Answer RemoteAnswer // remote-answer
	Reply  uint64       // remote-msg: the driver's name for the request, echoed in the RemoteReply
	Remote RemoteMsg    // remote-msg
	Token  string       // token-moved

	AppConfig AppConfig   // put-app
	Cert      Certificate // put-certificate
	Group     Group       // put-group
	// PushSettings are set-push-settings' settings.
	PushSettings PushSettings
	Profile      Profile // put-profile
	// Create asks put-app and put-certificate to create (ErrExists if it exists) rather than
	// replace (ErrNotFound if it does not).
	Create bool
}

// Step applies one input at now. Its work collects in the next Ready. Only admin inputs can
// fail (the error is the one their method reports); the others always succeed.
func (c *Core) Step(now time.Time, in Input) error {
	var err error
	switch in.Kind {
	case InputOpen:
		c.Open(now, in.Conn)
	case InputReceive:
		c.Receive(now, in.Conn, in.Frame)
	case InputRefuse:
		if in.Refusal == nil {
			return fmt.Errorf("%w: refuse input without its refusal", ErrInvalid)
		}
		c.Refuse(now, in.Conn, in.Refusal)
	case InputClosed:
		c.Closed(now, in.Conn)
	case InputPushResult:
		c.PushResult(now, in.Result)
	case InputTick:
		c.Tick(now)
	case InputPutApp:
		_, err = c.PutApp(now, in.AppConfig, in.Create)
	case InputDeleteApp:
		err = c.DeleteApp(now, in.App)
	case InputPutCertificate:
		_, err = c.PutCertificate(now, in.Cert, in.Create)
	case InputDeleteCertificate:
		err = c.DeleteCertificate(now, in.App, in.CertID)
	case InputPutGroup:
		_, err = c.PutGroup(now, in.Group)
	case InputKick:
		_, err = c.Kick(now, in.App, in.User, in.Reason)
	case InputAdminSend:
		_, err = c.AdminSend(now, in.App, in.Send)
	case InputCertificateChecked:
		_, err = c.CertificateChecked(now, in.Check)
	case InputTestPush:
		_, err = c.TestPush(now, DeviceKey{SDKAppID: in.App, UserID: in.User, DeviceID: in.Device}, in.Title, in.Body)
	case InputRemoteAnswer:
		c.RemoteAnswer(now, in.Answer)
	case InputRemoteMsg:
		c.RemoteMsg(now, in.Reply, in.Remote)
	case InputTokenMoved:
		c.TokenMoved(now, in.App, in.Token, DeviceKey{SDKAppID: in.App, UserID: in.User, DeviceID: in.Device})
	case InputSetPushSettings:
		_, err = c.SetPushSettings(now, in.App, in.User, in.PushSettings)
	case InputPutProfile:
		_, err = c.SetProfile(now, in.Profile)
	default:
		return fmt.Errorf("%w: unknown input kind %d", ErrInvalid, uint8(in.Kind))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", in.Kind, err)
	}
	return nil
}

// String prints the input on one line: its kind, then the fields its kind reads as key=value
// pairs in a fixed order, zero values left out. Secrets (app secret keys, certificate
// credentials, UserSigs) are never printed; a UserSig shows as userSig=(set).
func (in Input) String() string {
	var p fields
	p.word(in.Kind.String())
	switch in.Kind {
	case InputOpen, InputClosed:
		p.num("conn", uint64(in.Conn))
	case InputReceive:
		p.num("conn", uint64(in.Conn))
		p.clientFrame(in.Frame)
	case InputRefuse:
		p.num("conn", uint64(in.Conn))
		if r := in.Refusal; r != nil {
			p.int("id", r.ID)
			p.int("code", int64(r.Code))
			p.str("desc", r.Desc)
		}
	case InputPushResult:
		p.pushResult(in.Result)
	case InputPutApp:
		a := in.AppConfig
		p.num("app", a.SDKAppID)
		p.str("name", a.Name)
		p.str("policy", string(a.LoginPolicy))
		p.caps(a.Caps)
		p.str("defaultLocale", a.DefaultLocale)
		if len(a.PushTemplates) > 0 {
			locs := slices.Sorted(maps.Keys(a.PushTemplates))
			p.raw("pushTemplates", strings.Join(locs, ","))
		}
		p.flag("create", in.Create)
	case InputDeleteApp:
		p.num("app", in.App)
	case InputPutCertificate:
		p.certificate(in.Cert)
		p.flag("create", in.Create)
	case InputDeleteCertificate:
		p.num("app", in.App)
		p.int("cert", in.CertID)
	case InputPutGroup:
		p.num("app", in.Group.SDKAppID)
		p.str("group", in.Group.ID)
		p.str("name", in.Group.Name)
		p.str("members", strings.Join(in.Group.Members, ","))
	case InputPutProfile:
		p.num("app", in.Profile.SDKAppID)
		p.str("user", in.Profile.UserID)
		p.str("nickname", in.Profile.Nickname)
	case InputKick:
		p.num("app", in.App)
		p.str("user", in.User)
		p.str("reason", in.Reason)
	case InputAdminSend:
		p.num("app", in.App)
		s := in.Send
		p.str("from", s.From)
		p.str("to", s.To)
		p.str("group", s.Group)
		p.str("text", s.Text)
		p.str("clientMsgId", s.ClientMsgID)
		p.flag("onlineOnly", s.OnlineOnly)
		p.offlinePush(s.OfflinePush)
	case InputTestPush:
		p.num("app", in.App)
		p.str("user", in.User)
		p.str("device", in.Device)
		p.str("title", in.Title)
		p.str("body", in.Body)
	case InputRemoteAnswer:
		a := in.Answer
		p.num("token", a.Token)
		p.raw("partition", strconv.Itoa(a.Partition))
		p.int("code", int64(a.Code))
		p.str("desc", a.Desc)
	case InputRemoteMsg:
		m := in.Remote
		p.num("reply", in.Reply)
		p.num("app", m.App)
		p.str("id", m.ID)
		p.str("from", m.From)
		p.str("fromDevice", m.FromDevice)
		p.str("to", strings.Join(m.To, ","))
		p.str("group", m.Group)
		p.str("text", m.Text)
		p.flag("onlineOnly", m.OnlineOnly)
		p.offlinePush(m.OfflinePush)
		p.str("nickname", m.Nickname)
	case InputTokenMoved:
		p.num("app", in.App)
		p.str("user", in.User)
		p.str("device", in.Device)
		p.str("token", in.Token)
	case InputSetPushSettings:
		p.num("app", in.App)
		p.str("user", in.User)
		p.raw("enabled", strconv.FormatBool(in.PushSettings.Enabled))
	case InputCertificateChecked:
		p.int("cert", in.Check.CertID)
		if in.Check.OK {
			p.word("ok")
		} else {
			p.word("failed")
			p.str("error", in.Check.Error)
		}
	}
	return p.String()
}

// fields builds one printed line of space-separated words and key=value pairs.
type fields struct{ b strings.Builder }

func (p *fields) String() string { return p.b.String() }

func (p *fields) word(w string) {
	if p.b.Len() > 0 {
		p.b.WriteByte(' ')
	}
	p.b.WriteString(w)
}

// raw writes key=v with v as it is.
func (p *fields) raw(k, v string) { p.word(k + "=" + v) }

// str writes key=v, quoting v unless it is a plain word; nothing when v is empty.
func (p *fields) str(k, v string) {
	if v != "" {
		p.raw(k, quote(v))
	}
}

func (p *fields) num(k string, v uint64) {
	if v != 0 {
		p.raw(k, strconv.FormatUint(v, 10))
	}
}

func (p *fields) int(k string, v int64) {
	if v != 0 {
		p.raw(k, strconv.FormatInt(v, 10))
	}
}

func (p *fields) flag(k string, v bool) {
	if v {
		p.word(k)
	}
}

func (p *fields) dur(k string, d time.Duration) {
	if d != 0 {
		p.raw(k, d.String())
	}
}

func (p *fields) seqs(k string, seqs []uint64) {
	if len(seqs) == 0 {
		return
	}
	s := make([]string, len(seqs))
	for i, n := range seqs {
		s[i] = strconv.FormatUint(n, 10)
	}
	p.raw(k, strings.Join(s, ","))
}

func (p *fields) clientFrame(f ClientFrame) {
	p.str("op", f.Op)
	p.int("id", f.ID)
	p.num("sdkAppId", f.SDKAppID)
	p.str("userId", f.UserID)
	if f.UserSig != "" {
		p.raw("userSig", "(set)")
	}
	p.str("deviceId", f.DeviceID)
	p.str("platform", f.Platform)
	p.str("locale", f.Locale)
	p.int("certificateId", f.CertificateID)
	p.str("token", f.Token)
	p.str("to", f.To)
	p.str("group", f.Group)
	p.str("text", f.Text)
	p.str("clientMsgId", f.ClientMsgID)
	p.flag("onlineOnly", f.OnlineOnly)
	p.offlinePush(f.OfflinePush)
	p.num("since", f.Since)
	p.num("seq", f.Seq)
	p.int("unread", int64(f.Unread))
	p.str("conv", f.Conv)
	p.str("opt", f.Opt)
	if f.Enabled != nil {
		p.raw("enabled", strconv.FormatBool(*f.Enabled))
	}
}

func (p *fields) offlinePush(op *OfflinePush) {
	if op == nil {
		return
	}
	var q fields
	q.str("title", op.Title)
	q.str("desc", op.Desc)
	q.str("ext", op.Ext)
	q.flag("disable", op.Disable)
	q.str("channel", op.Android.ChannelID)
	q.str("sound", op.Android.Sound)
	q.str("click", op.Android.ClickAction)
	q.flag("silent", op.Silent)
	p.raw("offlinePush", "("+q.String()+")")
}

func (p *fields) pushResult(r PushResult) {
	p.num("push", r.ID)
	if r.Err == nil {
		p.word("ok")
		p.str("name", r.Name)
		return
	}
	p.str("code", r.Err.Code)
	p.flag("token-invalid", r.Err.TokenInvalid)
	p.dur("retry-after", r.Err.RetryAfter)
	p.str("message", r.Err.Message)
}

func (p *fields) caps(c Caps) {
	if c == (Caps{}) {
		return
	}
	var q fields
	q.int("perMinute", int64(c.PerMinute))
	q.int("perHour", int64(c.PerHour))
	q.int("burst", int64(c.Burst))
	q.dur("refill", c.Refill.D())
	p.raw("caps", "("+q.String()+")")
}

// certificate prints a certificate without its credentials: only which API they are for.
func (p *fields) certificate(c Certificate) {
	p.int("cert", c.ID)
	p.num("app", c.SDKAppID)
	p.str("platform", c.Platform)
	p.str("package", c.PackageName)
	p.str("sender", c.SenderID)
	p.str("api", c.API())
	p.str("endpoint", c.Endpoint)
	p.str("channel", c.ChannelID)
	if s := c.Status; s.Misconfigured {
		p.word("misconfigured")
		p.str("reason", s.Reason)
	}
	if c.Check.Status != CheckUnchecked {
		p.str("check", c.Check.Status)
	}
}

// quote leaves a plain word (letters, digits and _.@:+-/,%) as it is and quotes anything else,
// so that a printed line splits into fields at its spaces.
func quote(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		plain := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.@:+-/,%", r)
		if !plain {
			return strconv.Quote(s)
		}
	}
	return s
}
