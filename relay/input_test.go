package relay

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
)

// Every input kind is applied by Step and printed under its own name; the transcripts cover
// the common ones, this covers the rest: refusals, groups, deletions.
func TestStepEveryKind(t *testing.T) {
	c, err := New(Config{Seed: 1}, nil)
	require.NoError(t, err)
	app := AppConfig{SDKAppID: testApp, SecretKey: secret.New(testSecret)}
	cert := Certificate{ID: testCert, SDKAppID: testApp, Platform: "google", PackageName: "com.example.im", ServerKey: secret.New("server-key-0123456789")}
	steps := []Input{
		{Kind: InputPutApp, AppConfig: app, Create: true},
		{Kind: InputPutCertificate, Cert: cert, Create: true},
		{Kind: InputOpen, Conn: 1},
		{Kind: InputRefuse, Conn: 1, Refusal: &FrameError{ID: 7, Code: CodeBadFrame, Desc: "not JSON"}},
		{Kind: InputReceive, Conn: 1, Frame: ClientFrame{Op: OpPing}},
		{Kind: InputClosed, Conn: 1},
		{Kind: InputPutGroup, Group: Group{SDKAppID: testApp, ID: "team", Members: []string{"alice", "bob"}}},
		{Kind: InputAdminSend, App: testApp, Send: SendRequest{From: "bob", Group: "team", Text: "hi"}},
		{Kind: InputKick, App: testApp, User: "alice"},
		{Kind: InputPushResult, Result: PushResult{ID: 99}},
		{Kind: InputTick},
		{Kind: InputDeleteCertificate, App: testApp, CertID: testCert},
		{Kind: InputDeleteApp, App: testApp},
	}
	seen := map[InputKind]bool{}
	for _, in := range steps {
		require.NoError(t, c.Step(epoch, in), in.String())
		require.True(t, strings.HasPrefix(in.String(), in.Kind.String()+" ") || in.String() == in.Kind.String(), in.String())
		seen[in.Kind] = true
	}
	rd := c.TakeReady()
	out := rd.Format(epoch)
	require.Contains(t, out, `frame conn=1 reply id=7 code=1001 desc="not JSON"`)
	require.Contains(t, out, "record put-group app=1400000001 group=team members=alice,bob")
	require.Contains(t, out, "record delete-certificate cert=6768")
	require.Contains(t, out, "record delete-app app=1400000001")
	for k := InputOpen; k <= InputAdminSend; k++ {
		require.True(t, seen[k], "kind %v not stepped", k)
		require.NotContains(t, k.String(), "input-kind", "kind %d has no name", k)
	}

	require.ErrorIs(t, c.Step(epoch, Input{Kind: InputKick, App: 42, User: "alice"}), ErrNotFound)
	tp := Input{Kind: InputTestPush, App: 42, User: "alice", Device: "phone", Title: "hi"}
	require.ErrorIs(t, c.Step(epoch, tp), ErrNotFound)
	require.Equal(t, "test-push app=42 user=alice device=phone title=hi", tp.String())
	require.ErrorIs(t, c.Step(epoch, Input{}), ErrInvalid)
	require.ErrorIs(t, c.Step(epoch, Input{Kind: InputRefuse, Conn: 1}), ErrInvalid)
	// The printer never shows secrets.
	require.NotContains(t, Input{Kind: InputPutApp, AppConfig: app}.String(), testSecret)
	require.NotContains(t, Input{Kind: InputPutCertificate, Cert: cert}.String(), "server-key")
	sig := MakeUserSig(testSecret, UserSigClaims{SDKAppID: testApp, UserID: "alice", Expire: epoch.Unix()})
	require.NotContains(t, Input{Kind: InputReceive, Conn: 1, Frame: ClientFrame{Op: OpLogin, UserSig: sig}}.String(), sig)
}
