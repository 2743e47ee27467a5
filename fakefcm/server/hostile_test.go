package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
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

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/memnet"
)

// rawConn opens a connection and writes s on it. Its reads give up after 5 virtual minutes, so
// that a limit that stops working fails the test rather than hanging it.
func rawConn(t *testing.T, ln *memnet.Listener, s string) net.Conn {
	t.Helper()
	c, err := ln.Dial(context.Background(), "tcp", "fakefcm.test:80")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Minute)))
	_, err = io.WriteString(c, s)
	require.NoError(t, err)
	return c
}

// TestSlowClientsAreCutOffAndHeldAnswersAreNot: headers that never end are cut off after 10 s
// and a send whose body stops coming is answered 400 after 30 s, while an answer fakefcm holds
// back on purpose (fault latency 45 s) still comes after 45 s, and other sends are served.
func TestSlowClientsAreCutOffAndHeldAnswersAreNot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		ln := b.ln
		tok := b.device(t)
		send := func(text string) string { return fmt.Sprintf(`{"message":{"token":%q,"data":{"text":%q}}}`, tok, text) }
		start := time.Now()
		var wg sync.WaitGroup
		wg.Go(func() {
			slow := rawConn(t, ln, "POST /v1/projects/demo/messages:send HTTP/1.1\r\nHost: fakefcm.test\r\nAuthorization: Bearer ")
			defer slow.Close()
			n, err := io.Copy(io.Discard, slow)
			assert.NoError(t, err)
			assert.Zero(t, n)
			assert.Equal(t, 10*time.Second, time.Since(start))
		})
		wg.Go(func() {
			slow := rawConn(t, ln, "POST /v1/projects/demo/messages:send HTTP/1.1\r\nHost: fakefcm.test\r\nAuthorization: Bearer "+
				b.bearer+"\r\nContent-Length: 200\r\n\r\n{\"message\":")
			defer slow.Close()
			resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
			if !assert.NoError(t, err) {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
			assert.Contains(t, string(body), "Could not read the request body")
			assert.Equal(t, 30*time.Second, time.Since(start))
		})
		require.NoError(t, b.cc.SetFaults(context.Background(), []fakefcm.FaultRule{{Latency: duration.Of(45 * time.Second), Count: 1}}))
		wg.Go(func() {
			status, _, body := b.send(t, send("held"))
			assert.Equal(t, http.StatusOK, status, body)
			assert.Equal(t, 45*time.Second, time.Since(start), "the held answer is not cut short by the read timeout")
		})
		synctest.Wait()
		status, _, body := b.send(t, send("meanwhile"))
		require.Equal(t, http.StatusOK, status, body)
		wg.Wait()
		require.Len(t, b.fate(t, tok), 2, "both well-formed sends were accepted")
	})
}

// TestOversizedBatchIsRefusedWhole: a batch body over 1 MiB is answered 413, as any oversized
// body, and none of its parts is sent.
func TestOversizedBatchIsRefusedWhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		tok := b.device(t)
		part := batchPartRequest("/v1/projects/demo/messages:send", "", fmt.Sprintf(`{"message":{"token":%q,"data":{"pad":%q}}}`, tok, strings.Repeat("x", 3000)))
		parts := make([]string, 400)
		for i := range parts {
			parts[i] = part
		}
		req, _ := http.NewRequest(http.MethodPost, bubbleURL+"/batch", strings.NewReader(batchBody("B", parts...)))
		req.Header.Set("Content-Type", "multipart/mixed; boundary=B")
		req.Header.Set("Authorization", "Bearer "+b.bearer)
		resp, err := b.http.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, string(body))
		checkStatusBody(t, resp.StatusCode, body)
		require.Contains(t, string(body), "exceeds the limit")
		require.Empty(t, b.fate(t, tok), "nothing of a refused batch is sent")
	})
}

// TestDeviceChannelSurvivesGarbageAndClosesOnOversizedFrames: a device channel ignores frames
// that are not acknowledgements and keeps delivering; a frame over 64 KiB closes it with 1009;
// another device's channel is not disturbed, and the abuser can connect again.
func TestDeviceChannelSurvivesGarbageAndClosesOnOversizedFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startBubble(t, fakefcm.Behaviour{})
		abuser, bystander := b.device(t), b.device(t)
		dialer := b.cc.Dialer
		ws, _, err := dialer.Dial("ws://fakefcm.test/fakefcm/v1/devices/"+abuser+"/connect", nil)
		require.NoError(t, err)
		good, err := b.cc.Connect(context.Background(), bystander)
		require.NoError(t, err)
		for _, garbage := range []string{`{`, `[]`, `{"ack":""}`, `{"ack":"no-such-message"}`, "\x00\xff", `{"ack":42}`} {
			require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(garbage)))
		}
		require.NoError(t, ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}))
		status, _, body := b.send(t, fmt.Sprintf(`{"message":{"token":%q,"data":{"n":"1"}}}`, abuser))
		require.Equal(t, http.StatusOK, status, body)
		var f fakefcm.DeviceFrame
		require.NoError(t, ws.ReadJSON(&f), "the channel still delivers after garbage")
		require.Equal(t, "1", f.Message.Data["n"])

		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`{"ack":"`+strings.Repeat("x", 65<<10)+`"}`)))
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(5*time.Minute))) // fail, not hang, if it stays open
		_, _, err = ws.ReadMessage()
		var ce *websocket.CloseError
		require.True(t, errors.As(err, &ce), "closed with a close frame: %v", err)
		require.Equal(t, websocket.CloseMessageTooBig, ce.Code)
		ws.Close()

		status, _, body = b.send(t, fmt.Sprintf(`{"message":{"token":%q,"data":{"n":"2"}}}`, bystander))
		require.Equal(t, http.StatusOK, status, body)
		got, err := good.Receive()
		require.NoError(t, err)
		require.Equal(t, "2", got.Message.Data["n"])
		again, err := b.cc.Connect(context.Background(), abuser)
		require.NoError(t, err)
		redelivered, err := again.Receive()
		require.NoError(t, err, "the unacknowledged message comes again on the next connection")
		require.Equal(t, "1", redelivered.Message.Data["n"])
		require.NoError(t, again.Close())
		require.NoError(t, good.Close())
	})
}
