package relay

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/transcript"
)

// TestTranscript runs the relay core's transcripts, testdata/*.txt: each command is one input
// (or, for tick, the timers due in a span of virtual time), and its output is the input as
// Input.String prints it, after "> ", then the Ready it caused as Ready.Format prints it, times
// relative to the start of the file. `go test ./relay/ -run Transcript -rewrite` rewrites the
// expected outputs; read the diff before committing it.
//
// Commands (app defaults to 1400000001, cert to 6768; durations are Go's):
//
//	config [seed=N] [heartbeat=D] [attempts=N] [base=D] [max=D] [max-wait=D] [ttl=D]  (before any other)
//	       [partition=I partitions=N]   the core is partition I of N
//	remote-answer token=N partition=P [code=C] [desc=S]   a partition's answer to a remote line
//	remote-msg reply=N from=U to=(U,…) text=S [id=S] [group=G] [app=N] [online-only]
//	app [id=N] [name=S] [policy=multi|single-platform|single] [per-minute=N] [per-hour=N] [burst=N] [refill=D] [update]
//	cert [id=N] [app=N] [legacy] [endpoint=URL] [update]
//	checked [id=N] (ok | error=S) [stale]   a check's result; stale: for credentials replaced since
//	group id=G members=(U,…) [app=N]
//	open conn=N
//	recv conn=N op=OP [id=N] [app=N] [user=U] [device=D] [platform=P] [sig=valid|expired|forged]
//	     [cert=N] [token=T] [to=U] [group=G] [text=S] [client-msg-id=S] [online-only] [no-push]
//	     [title=S] [desc=S] [since=N] [seq=N] [unread=N] [conv=C] [opt=O] [enabled=true|false]
//	close conn=N
//	tick [+D]                       advance the clock, running each timer at its own time
//	result push=N ok [name=S] | result push=N code=C [retry-after=D] [token-invalid] [message=S]
//	kick user=U [app=N] [reason=S]
//	admin-send from=U (to=U | group=G) text=S [app=N]
//	test-push user=U device=D [app=N] [title=S] [body=S]
//	push-settings user=U enabled=true|false [app=N]   the administrator sets a user's push settings
//
// recv numbers its requests per connection from 1 unless id is given (ack and ping carry no id),
// and signs the login's UserSig with the app's secret, valid for a day.
func TestTranscript(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			tr := &relayTranscript{clock: transcript.Clock{Start: epoch, Now: epoch}, ids: map[ConnID]int64{}}
			datadriven.RunTest(t, path, tr.run)
		})
	}
}

// relayTranscript is one file's relay core on a virtual clock.
type relayTranscript struct {
	core  *Core
	clock transcript.Clock
	ids   map[ConnID]int64 // the last request id sent on each connection
}

func (tr *relayTranscript) run(t *testing.T, td *datadriven.TestData) string {
	a := transcript.NewArgs(t, td)
	defer a.Done()
	if td.Cmd == "config" {
		require.Nil(t, tr.core, "%s: config must come before every other command", td.Pos)
		tr.start(t, a)
		return "ok\n"
	}
	if tr.core == nil {
		tr.start(t, nil)
	}
	if td.Cmd == "tick" {
		return tr.tick(t, a)
	}
	in := tr.input(t, td, a)
	out := "> " + in.String() + "\n"
	if err := tr.core.Step(tr.clock.Now, in); err != nil {
		out += "error: " + err.Error() + "\n"
	}
	rd := tr.core.TakeReady()
	return out + rd.Format(epoch)
}

// start builds the core from a config command (nil: the defaults, seed 1).
func (tr *relayTranscript) start(t *testing.T, a *transcript.Args) {
	cfg := Config{Seed: 1}
	if a != nil {
		cfg.Seed = uint64(a.Int("seed", 1))
		cfg.HeartbeatDeadline = duration.Of(a.Dur("heartbeat", 0))
		cfg.Retry.MaxAttempts = a.Int("attempts", 0)
		cfg.Retry.Base = duration.Of(a.Dur("base", 0))
		cfg.Retry.Max = duration.Of(a.Dur("max", 0))
		cfg.Retry.MaxWait = duration.Of(a.Dur("max-wait", 0))
		cfg.PushTTL = duration.Of(a.Dur("ttl", 0))
		cfg.Partition = Partition{Index: a.Int("partition", 0), Count: a.Int("partitions", 0)}
	}
	c, err := New(cfg, nil)
	require.NoError(t, err)
	tr.core = c
}

// tick advances the clock by the command's +DURATION, through the timers due on the way.
func (tr *relayTranscript) tick(t *testing.T, a *transcript.Args) string {
	return tr.clock.Advance(a.By(), tr.core.NextWake, func(now time.Time) string {
		require.NoError(t, tr.core.Step(now, Input{Kind: InputTick}))
		rd := tr.core.TakeReady()
		return rd.Format(epoch)
	})
}

// input builds the Input a command stands for.
func (tr *relayTranscript) input(t *testing.T, td *datadriven.TestData, a *transcript.Args) Input {
	switch td.Cmd {
	case "app":
		caps := Caps{PerMinute: a.Int("per-minute", 0), PerHour: a.Int("per-hour", 0), Burst: a.Int("burst", 0),
			Refill: duration.Of(a.Dur("refill", 0))}
		return Input{Kind: InputPutApp, Create: !a.Flag("update"), AppConfig: AppConfig{
			SDKAppID: a.Uint("id", testApp), Name: a.Str("name", ""), SecretKey: secret.New(testSecret),
			LoginPolicy: LoginPolicy(a.Str("policy", "")), Caps: caps}}
	case "cert":
		cert := Certificate{ID: int64(a.Int("id", int(testCert))), SDKAppID: a.Uint("app", testApp), Platform: "google",
			PackageName: "com.example.im"}
		if a.Flag("legacy") {
			cert.ServerKey = secret.New("AAAA-transcript-server-key-0123456789")
		} else {
			cert.ServiceAccount = secret.New(`{"type":"service_account","project_id":"demo","private_key":"k","client_email":"a@b.c","private_key_id":"abcdef"}`)
		}
		cert.Endpoint = a.Str("endpoint", "")
		return Input{Kind: InputPutCertificate, Cert: cert, Create: !a.Flag("update")}
	case "checked":
		id := int64(a.Int("id", int(testCert)))
		cert, _ := tr.core.Certificate(id)
		r := CheckResult{CertID: id, Digest: cert.CredentialsDigest(), OK: a.Flag("ok"), Error: a.Str("error", "")}
		if a.Flag("stale") {
			r.Digest = "credentials replaced since"
		}
		return Input{Kind: InputCertificateChecked, Check: r}
	case "group":
		return Input{Kind: InputPutGroup, Group: Group{SDKAppID: a.Uint("app", testApp), ID: a.Str("id", ""), Members: a.List("members")}}
	case "open":
		return Input{Kind: InputOpen, Conn: connArg(t, a)}
	case "close":
		return Input{Kind: InputClosed, Conn: connArg(t, a)}
	case "recv":
		return tr.recv(t, a)
	case "result":
		r := PushResult{ID: a.Uint("push", 0)}
		if a.Flag("ok") {
			r.Name = a.Str("name", fmt.Sprintf("projects/demo/messages/%d", r.ID))
		} else {
			r.Err = &PushError{Code: a.Str("code", ""), RetryAfter: a.Dur("retry-after", 0), TokenInvalid: a.Flag("token-invalid"),
				Message: a.Str("message", "")}
			require.NotEmpty(t, r.Err.Code, "%s: result needs ok or code=", td.Pos)
		}
		return Input{Kind: InputPushResult, Result: r}
	case "kick":
		return Input{Kind: InputKick, App: a.Uint("app", testApp), User: a.Str("user", ""), Reason: a.Str("reason", "")}
	case "test-push":
		return Input{Kind: InputTestPush, App: a.Uint("app", testApp), User: a.Str("user", ""), Device: a.Str("device", ""),
			Title: a.Str("title", ""), Body: a.Str("body", "")}
	case "remote-answer":
		return Input{Kind: InputRemoteAnswer, Answer: RemoteAnswer{Token: a.Uint("token", 0), Partition: a.Int("partition", 0),
			Code: Code(a.Int("code", 0)), Desc: a.Str("desc", "")}}
	case "remote-msg":
		return Input{Kind: InputRemoteMsg, Reply: a.Uint("reply", 0), Remote: RemoteMsg{App: a.Uint("app", testApp),
			ID: a.Str("id", "1400000001-p9-1"), Time: tr.clock.Now, From: a.Str("from", ""), To: a.List("to"), Group: a.Str("group", ""),
			Text: a.Str("text", ""), OnlineOnly: a.Flag("online-only")}}
	case "push-settings":
		return Input{Kind: InputSetPushSettings, App: a.Uint("app", testApp), User: a.Str("user", ""),
			PushSettings: PushSettings{Enabled: boolArg(t, a, "enabled")}}
	case "admin-send":
		return Input{Kind: InputAdminSend, App: a.Uint("app", testApp), Send: SendRequest{From: a.Str("from", ""), To: a.Str("to", ""),
			Group: a.Str("group", ""), Text: a.Str("text", "")}}
	}
	t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	return Input{}
}

// recv builds a frame from a connection.
func (tr *relayTranscript) recv(t *testing.T, a *transcript.Args) Input {
	conn := connArg(t, a)
	f := ClientFrame{Op: a.Str("op", "")}
	if a.Has("id") {
		f.ID = int64(a.Int("id", 0))
	} else if f.Op != OpAck && f.Op != OpPing {
		tr.ids[conn]++
		f.ID = tr.ids[conn]
	}
	app := a.Uint("app", testApp)
	if f.Op == OpLogin {
		f.SDKAppID, f.UserID, f.DeviceID, f.Platform = app, a.Str("user", ""), a.Str("device", ""), a.Str("platform", "")
		claims := UserSigClaims{SDKAppID: app, UserID: f.UserID, Expire: tr.clock.Now.Add(24 * time.Hour).Unix()}
		key := testSecret
		switch sig := a.Str("sig", "valid"); sig {
		case "valid":
		case "expired":
			claims.Expire = tr.clock.Now.Add(-time.Second).Unix()
		case "forged":
			key = "another-secret-0123456789"
		default:
			t.Fatalf("sig=%s: use valid, expired or forged", sig)
		}
		f.UserSig = MakeUserSig(key, claims)
	}
	f.CertificateID = int64(a.Int("cert", 0))
	f.Token = a.Str("token", "")
	f.To, f.Group, f.Text, f.ClientMsgID = a.Str("to", ""), a.Str("group", ""), a.Str("text", ""), a.Str("client-msg-id", "")
	f.OnlineOnly = a.Flag("online-only")
	if title, desc, off := a.Str("title", ""), a.Str("desc", ""), a.Flag("no-push"); title != "" || desc != "" || off {
		f.OfflinePush = &OfflinePush{Title: title, Desc: desc, Disable: off}
	}
	f.Since, f.Seq, f.Unread = a.Uint("since", 0), a.Uint("seq", 0), a.Int("unread", 0)
	f.Conv, f.Opt = a.Str("conv", ""), a.Str("opt", "")
	if a.Has("enabled") {
		on := boolArg(t, a, "enabled")
		f.Enabled = &on
	}
	return Input{Kind: InputReceive, Conn: conn, Frame: f}
}

// boolArg reads k=true or k=false.
func boolArg(t *testing.T, a *transcript.Args, k string) bool {
	switch v := a.Str(k, ""); v {
	case "true", "false":
		return v == "true"
	default:
		t.Fatalf("%s=%s: use %s=true or %s=false", k, v, k, k)
		return false
	}
}

// connArg reads conn=N.
func connArg(t *testing.T, a *transcript.Args) ConnID {
	n := a.Uint("conn", 0)
	require.NotZero(t, n, "conn=N is required")
	return ConnID(n)
}
