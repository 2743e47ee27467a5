package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pushlab/pushlab/internal/memnet"
	"github.com/pushlab/pushlab/internal/testca"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// brokenListener is a listener whose Accept fails for good, as a closed or broken socket does.
type brokenListener struct{ err error }

func (l brokenListener) Accept() (net.Conn, error) { return nil, l.err }
func (l brokenListener) Close() error              { return nil }
func (l brokenListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// isDone reports whether ch is closed, without waiting.
func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestServingThatEndsOnItsOwnSaysWhy(t *testing.T) {
	broken := errors.New("accept: socket broken")
	stops := 0
	s := Serve(brokenListener{err: broken}, http.NotFoundHandler(), func() error { stops++; return nil })

	<-s.Done()
	require.ErrorIs(t, s.Err(), broken)
	// Shutdown still runs stop (the handler's own connections must close) and reports the failure.
	require.ErrorIs(t, s.Shutdown(context.Background()), broken)
	require.Equal(t, 1, stops)
	require.ErrorIs(t, s.Err(), broken)
}

func TestServingEndedByShutdownIsNoError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := memnet.Listen()
		stops := 0
		h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
		s := Serve(ln, h, func() error { stops++; return nil })

		resp, err := ln.HTTPClient().Get("http://relay.test/")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, "ok", string(body))
		require.False(t, isDone(s.Done()), "serving ended while it should go on")
		require.NoError(t, s.Err())

		require.NoError(t, s.Shutdown(context.Background()))
		require.True(t, isDone(s.Done()), "Shutdown returned before serving ended")
		require.NoError(t, s.Err())
		// A second Shutdown gives the first one's answer and does not run stop again.
		require.NoError(t, s.Shutdown(context.Background()))
		require.Equal(t, 1, stops)
	})
}

// Over TLS, a client that fails its handshake (here: one that does not trust the server's CA) is
// net/http's own complaint, which ServeLogged turns into a JSON warning: a binary's stderr stays JSON lines.
func TestServeLoggedWritesNetHTTPComplaintsToTheLogger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memnet.Listen()
		ln, url := WithTLS(mem, testca.New(t).ServerConfig())
		require.True(t, strings.HasPrefix(url, "https://"), url)
		var logs bytes.Buffer
		s := ServeLogged(ln, http.NotFoundHandler(), nil, slog.New(slog.NewJSONHandler(&logs, nil)))

		defer s.Shutdown(context.Background())
		_, err := mem.HTTPClient().Get("https://localhost/")
		require.ErrorContains(t, err, "certificate signed by unknown authority")
		require.NoError(t, s.Shutdown(context.Background()))
		var line struct {
			Level, Msg string
		}
		require.NoError(t, json.Unmarshal(logs.Bytes(), &line), "one JSON line: %s", logs.String())
		require.Equal(t, "WARN", line.Level)
		require.Contains(t, line.Msg, "TLS handshake error")
	})
}
