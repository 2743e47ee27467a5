package relay

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDecodeClientFrame(t *testing.T) {
	f, err := DecodeClientFrame([]byte(`{"op":"send","id":3,"to":"bob","text":"hi","offlinePush":{"title":"T","disable":true}}`))
	require.Nil(t, err)
	require.Equal(t, ClientFrame{Op: OpSend, ID: 3, To: "bob", Text: "hi", OfflinePush: &OfflinePush{Title: "T", Disable: true}}, f)

	for _, tc := range []struct {
		body string
		id   int64
		want string
	}{
		{`{`, 0, "frame is not valid"},
		{`[1]`, 0, "frame is not valid"},
		{`{"id":4}`, 4, `no "op"`},
		{`{"op":"send","id":5,"text":7}`, 5, "frame is not valid"},
		{`{"op":"ping","id":6,"bogus":1}`, 6, "unknown field"},
		{`{"op":"ping"} {}`, 0, "after its JSON object"},
	} {
		_, err := DecodeClientFrame([]byte(tc.body))
		require.NotNil(t, err, tc.body)
		require.Equal(t, CodeBadFrame, err.Code, tc.body)
		require.Equal(t, tc.id, err.ID, tc.body)
		require.Contains(t, err.Desc, tc.want, tc.body)
	}
}

func TestServerFramesEncodeAsTheProtocolSays(t *testing.T) {
	for _, tc := range []struct {
		f    ServerFrame
		want string
	}{
		{ServerFrame{Op: OpMsg, Msg: &MsgFrame{Seq: 2, ID: "1-2", From: "bob", Conv: "c2c_bob", Text: "hi", Time: 1700}},
			`{"op":"msg","seq":2,"msgId":"1-2","from":"bob","conv":"c2c_bob","text":"hi","time":1700}`},
		{ServerFrame{Op: OpKicked, Reason: "login elsewhere"}, `{"op":"kicked","reason":"login elsewhere"}`},
		{ServerFrame{Op: OpPong}, `{"op":"pong"}`},
		{ServerFrame{Op: OpReply, ID: 7, Code: CodeNotLoggedIn, Desc: "log in"}, `{"op":"reply","id":7,"code":2005,"desc":"log in"}`},
		{ServerFrame{Op: OpReply, ID: 8}, `{"op":"reply","id":8,"code":0}`},
	} {
		b, err := json.Marshal(tc.f)
		require.NoError(t, err)
		require.JSONEq(t, tc.want, string(b))
		var back ServerFrame
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, tc.f, back, "a client reads what the relay writes")
	}
}

func TestUserSig(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := MakeUserSig("secret-0123456789", UserSigClaims{SDKAppID: 1, UserID: "alice", Expire: now.Unix() + 60})
	require.NoError(t, VerifyUserSig("secret-0123456789", s, 1, "alice", now))
	require.ErrorIs(t, VerifyUserSig("secret-0123456789", s, 1, "alice", now.Add(61*time.Second)), ErrSigExpired)
	require.ErrorIs(t, VerifyUserSig("secret-0123456789", s, 1, "bob", now), ErrSigMismatch)
	require.ErrorIs(t, VerifyUserSig("secret-0123456789", s, 2, "alice", now), ErrSigMismatch)
	require.ErrorIs(t, VerifyUserSig("other-secret-abcdef", MakeUserSig("other-secret-abcdef", UserSigClaims{SDKAppID: 1, UserID: "alice", Expire: now.Unix() + 60}), 1, "alice", now), nil)
	require.ErrorIs(t, VerifyUserSig("wrong-secret-abcdef", s, 1, "alice", now), ErrSigForged)
	require.ErrorIs(t, VerifyUserSig("secret-0123456789", "abc", 1, "alice", now), ErrSigMalformed)
	require.ErrorIs(t, VerifyUserSig("secret-0123456789", s[:len(s)-2]+"zz", 1, "alice", now), ErrSigForged)
}

func FuzzDecodeClientFrame(f *testing.F) {
	f.Add([]byte(`{"op":"login","id":1,"sdkAppId":1400000001,"userId":"a","userSig":"x.y","deviceId":"d"}`))
	f.Add([]byte(`{"op":"send","id":2,"to":"b","text":"hi","offlinePush":{"disable":true}}`))
	f.Add([]byte(`{"op":"sync","since":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeClientFrame(data)
		if err != nil {
			if err.Code != CodeBadFrame || err.Desc == "" {
				t.Fatalf("refusal without code or desc: %+v", err)
			}
			return
		}
		if fr.Op == "" {
			t.Fatal("decoded a frame without an op")
		}
	})
}

func FuzzParseUserSig(f *testing.F) {
	f.Add(MakeUserSig("secret-0123456789", UserSigClaims{SDKAppID: 1, UserID: "alice", Expire: 99}))
	f.Add("a.b")
	f.Add(".")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseUserSig("secret-0123456789", s)
		if err == nil && MakeUserSig("secret-0123456789", c) == "" {
			t.Fatal("accepted a signature it cannot make")
		}
	})
}
