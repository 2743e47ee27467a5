package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// rawConn opens a connection to the relay and writes s on it, as a hand-written client would.
// Its reads give up after 5 virtual minutes: a limit that stops working fails the test instead of
// hanging it (the relay's timers keep a synctest bubble from ever deadlocking).
func (b *bubble) rawConn(s string) net.Conn {
	b.t.Helper()
	c, err := b.ln.Dial(context.Background(), "tcp", "relay.test:80")
	require.NoError(b.t, err)
	require.NoError(b.t, c.SetReadDeadline(time.Now().Add(5*time.Minute)))
	_, err = io.WriteString(c, s)
	require.NoError(b.t, err)
	return c
}

// wellBehaved is a client going about its business while others abuse the relay: every call
// must succeed.
func (b *bubble) wellBehaved(user string) {
	b.t.Helper()
	status, body := b.admin("GET", "/admin/v1/apps", "")
	require.Equal(b.t, http.StatusOK, status, body)
	a := b.launch(user, user+"-phone")
	a.send(user, "note to self")
	require.NoError(b.t, a.conn.Close())
}

// TestSlowClientsAreCutOffAndOthersServed: headers that never end are cut off after 10 s, a body
// that stops coming is answered 400 after 30 s, an idle keep-alive connection is closed after
// 2 min, and a WebSocket that never says anything is closed at the heartbeat deadline (90 s);
// meanwhile a well-behaved client is served.
func TestSlowClientsAreCutOffAndOthersServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		b.provision()
		start := time.Now()
		var wg sync.WaitGroup
		wg.Go(func() {
			slow := b.rawConn("GET /admin/v1/apps HTTP/1.1\r\nHost: relay.test\r\nAuthorization: Bearer " + adminKey + "\r\n")
			defer slow.Close()
			n, err := io.Copy(io.Discard, slow)
			assert.NoError(t, err)
			assert.Zero(t, n, "no answer, just a close")
			assert.Equal(t, 10*time.Second, time.Since(start), "headers are cut off after ReadHeaderTimeout")
		})
		wg.Go(func() {
			slow := b.rawConn("POST /admin/v1/apps HTTP/1.1\r\nHost: relay.test\r\nAuthorization: Bearer " + adminKey +
				"\r\nContent-Length: 100\r\n\r\n{\"sdkAppId\":")
			defer slow.Close()
			resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
			if !assert.NoError(t, err) {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
			assert.Contains(t, string(body), "timeout")
			assert.Equal(t, 30*time.Second, time.Since(start), "a stalled body is answered after ReadTimeout")
		})
		wg.Go(func() {
			idle := b.rawConn("GET /healthz HTTP/1.1\r\nHost: relay.test\r\n\r\n")
			defer idle.Close()
			br := bufio.NewReader(idle)
			resp, err := http.ReadResponse(br, nil)
			if !assert.NoError(t, err) {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			_, err = br.ReadByte()
			assert.ErrorIs(t, err, io.EOF)
			assert.Equal(t, 2*time.Minute, time.Since(start), "an idle keep-alive connection is closed after IdleTimeout")
		})
		wg.Go(func() {
			silent := b.dial()
			select {
			case <-silent.Done():
			case <-time.After(5 * time.Minute):
				t.Error("a silent WebSocket is still open after 5 minutes")
				silent.Drop()
				return
			}
			var ce *websocket.CloseError
			assert.True(t, errors.As(silent.Err(), &ce), "closed with a close frame: %v", silent.Err())
			assert.Equal(t, relay.CloseGoingAway, ce.Code)
			assert.Equal(t, 90*time.Second, time.Since(start), "a silent WebSocket is closed at the heartbeat deadline")
		})
		synctest.Wait()
		b.wellBehaved("alice")
		time.Sleep(20 * time.Second) // the virtual clock: the slow header has been cut off by now
		b.wellBehaved("bob")
		wg.Wait()
		b.wellBehaved("carol")
	})
}

// TestAdminBodiesOverTheLimitAreRefused: an admin body over 1 MiB is answered 413 with an error
// saying so, malformed JSON 400, and the next call is served.
func TestAdminBodiesOverTheLimitAreRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		b.provision()
		huge := fmt.Sprintf(`{"sdkAppId":5,"secretKey":"0123456789abcdefg","name":%q}`, strings.Repeat("x", 2<<20))
		status, body := b.admin("POST", "/admin/v1/apps", huge)
		require.Equal(t, http.StatusRequestEntityTooLarge, status)
		require.JSONEq(t, `{"error":{"code":413,"message":"body over 1048576 bytes"}}`, body)
		for _, bad := range []string{`{"sdkAppId":`, `[1,2]`, `{"sdkAppId":"five"}`, "\x00\xff"} {
			status, body = b.admin("POST", "/admin/v1/apps", bad)
			require.Equal(t, http.StatusBadRequest, status, bad)
			require.Contains(t, body, "invalid JSON body", bad)
		}
		b.wellBehaved("alice")
	})
}

// TestUserSigsForgedExpiredOrForAnotherAppAreRefused: over the WebSocket, a login with a UserSig
// made for another app (replayed), another user, by the wrong key, expired, garbage, or for an
// unknown app gets its own code and a desc; the connection stays usable and logs in with a good
// one.
func TestUserSigsForgedExpiredOrForAnotherAppAreRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		b.provision()
		const otherApp, otherSecret = uint64(1400000002), "other-app-secret-0123"
		status, body := b.admin("POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"secretKey":%q}`, otherApp, otherSecret))
		require.Equal(t, http.StatusCreated, status, body)
		// An app that happens to share the first one's key: a signature names its app, so one
		// made for the first app still does not open this one.
		const sameKeyApp = uint64(1400000003)
		status, body = b.admin("POST", "/admin/v1/apps", fmt.Sprintf(`{"sdkAppId":%d,"secretKey":%q}`, sameKeyApp, appSecret))
		require.Equal(t, http.StatusCreated, status, body)
		hour := time.Now().Add(time.Hour).Unix()
		sig := func(secret string, app uint64, user string, expire int64) string {
			return relay.MakeUserSig(secret, relay.UserSigClaims{SDKAppID: app, UserID: user, Expire: expire})
		}
		c := b.dial()
		ctx := context.Background()
		for _, tc := range []struct {
			name string
			app  uint64
			sig  string
			code relay.Code
		}{
			{"replayed from another app", otherApp, sig(appSecret, appID, "alice", hour), relay.CodeSigMismatch},
			{"replayed from an app with the same key", sameKeyApp, sig(appSecret, appID, "alice", hour), relay.CodeSigMismatch},
			{"another user's", appID, sig(appSecret, appID, "bob", hour), relay.CodeSigMismatch},
			{"signed by another app's key", appID, sig(otherSecret, appID, "alice", hour), relay.CodeBadSignature},
			{"expired", appID, sig(appSecret, appID, "alice", time.Now().Add(-time.Second).Unix()), relay.CodeSigExpired},
			{"garbage", appID, "eyJzZGtBcHBJZCI6MX0.AAAA", relay.CodeBadSignature},
			{"tampered claims", appID, "eyJzZGtBcHBJZCI6MTQwMDAwMDAwMSwidXNlcklkIjoiYWxpY2UiLCJleHBpcmUiOjk5OTk5OTk5OTl9." +
				strings.SplitN(sig(appSecret, appID, "alice", hour), ".", 2)[1], relay.CodeBadSignature},
			{"unknown app", 42, sig(appSecret, 42, "alice", hour), relay.CodeUnknownApp},
		} {
			r, err := c.Request(ctx, relay.ClientFrame{Op: relay.OpLogin, SDKAppID: tc.app, UserID: "alice", UserSig: tc.sig, DeviceID: "p", Platform: "android"})
			require.NoError(t, err, tc.name)
			require.Equal(t, tc.code, r.Code, "%s: %s", tc.name, r.Desc)
			require.NotEmpty(t, r.Desc, tc.name)
		}
		require.NoError(t, c.Login(ctx, appID, "alice", sig(appSecret, appID, "alice", hour), "p", "android"))
		_, err := c.Do(ctx, relay.ClientFrame{Op: relay.OpSync})
		require.NoError(t, err)
		require.NoError(t, c.Close())
	})
}

// TestLoginFloodIsBoundedAndLaterLoginsPass: with loginsPerSecond 5, of 20 connections logging in
// at once 5 get in and 15 are refused with 2006 and a desc saying to back off; a second later the
// refused ones get in, and the admin API answers throughout.
func TestLoginFloodIsBoundedAndLaterLoginsPass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{LoginsPerSecond: 5})
		b.provision()
		ctx := context.Background()
		login := func(c *client.Conn, user string) error {
			sig := relay.MakeUserSig(appSecret, relay.UserSigClaims{SDKAppID: appID, UserID: user, Expire: time.Now().Add(time.Hour).Unix()})
			return c.Login(ctx, appID, user, sig, user+"-phone", "android")
		}
		conns := make([]*client.Conn, 20)
		errs := make([]error, len(conns))
		var wg sync.WaitGroup
		for i := range conns {
			conns[i] = b.dial()
			wg.Go(func() { errs[i] = login(conns[i], fmt.Sprintf("user%d", i)) })
		}
		wg.Wait()
		var refused []int
		for i, err := range errs {
			if err == nil {
				continue
			}
			var re *client.ReplyError
			require.True(t, errors.As(err, &re), "%v", err)
			require.Equal(t, relay.CodeLoginsPerSecond, re.Code)
			require.Contains(t, re.Desc, "at most 5 logins a second")
			refused = append(refused, i)
		}
		require.Len(t, refused, 15)
		status, _ := b.admin("GET", "/admin/v1/apps", "")
		require.Equal(t, http.StatusOK, status)
		for len(refused) > 0 {
			time.Sleep(time.Second) // the virtual clock: the rate's window moves on
			var still []int
			for _, i := range refused {
				if login(conns[i], fmt.Sprintf("user%d", i)) != nil {
					still = append(still, i)
				}
			}
			require.LessOrEqual(t, len(refused)-len(still), 5, "at most 5 a second")
			require.Less(t, len(still), len(refused), "each second lets some in")
			refused = still
		}
		for _, c := range conns {
			require.NoError(t, c.Close())
		}
	})
}

// TestAdminKeyIsComparedInConstantTime reads adminAuth's source: the key must be compared with
// crypto/subtle (a == on the key would let its prefix be timed), and the function may hold no
// other comparison that could be on the key: no == or != except against an integer literal, no
// switch on a value, no bytes or strings comparison. (A timing test would be too noisy to fail
// reliably on a shared machine; this one fails on any such edit.)
func TestAdminKeyIsComparedInConstantTime(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "admin.go", nil, 0)
	require.NoError(t, err)
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if d, ok := d.(*ast.FuncDecl); ok && d.Name.Name == "adminAuth" {
			fn = d
		}
	}
	require.NotNil(t, fn, "adminAuth not found in admin.go")
	constantTime, otherCompare := false, false
	ast.Inspect(fn, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "subtle" && sel.Sel.Name == "ConstantTimeCompare" {
					constantTime = true
				}
				if x, ok := sel.X.(*ast.Ident); ok && (x.Name == "bytes" || x.Name == "strings") && (sel.Sel.Name == "Equal" || sel.Sel.Name == "EqualFold" || sel.Sel.Name == "Compare" || sel.Sel.Name == "HasPrefix") {
					otherCompare = true
				}
			}
		case *ast.BinaryExpr:
			// The only equality allowed is on ConstantTimeCompare's int result ("!= 1"): any
			// other == or != in the function may be a comparison of the key.
			if n.Op == token.EQL || n.Op == token.NEQ {
				lit, ok := n.Y.(*ast.BasicLit)
				if !ok || lit.Kind != token.INT {
					otherCompare = true
				}
			}
		case *ast.SwitchStmt:
			otherCompare = otherCompare || n.Tag != nil // switch r.Header.Get(…) { case key: … }
		}
		return true
	})
	require.True(t, constantTime, "adminAuth must compare the key with subtle.ConstantTimeCompare")
	require.False(t, otherCompare, "adminAuth compares the key with something that is not constant-time")
}
