package console_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/logbuf"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/testca"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
	"github.com/pushlab/pushlab/relay/console/consoletest"
	"github.com/pushlab/pushlab/relay/sender"
	"github.com/pushlab/pushlab/relay/server"
)

const (
	adminKey  = "console-admin-key-0123456789"
	appSecret = "console-app-secret-0123456789"
	serverKey = "AAAAconsole-legacy-server-key-0123456789:wxyz"
)

// liveRelay is a relay on the memory store, listening on 127.0.0.1, with its log captured.
type liveRelay struct {
	URL   string
	Log   *logbuf.Buffer
	Admin *client.Admin
}

// startRelay starts a relay whose certificate checks answer quickly: a service account's
// token_uri and a certificate's endpoint point at a closed port, a legacy certificate aimed at
// Google fails without a network call.
func startRelay(t *testing.T) *liveRelay {
	t.Helper()
	log := &logbuf.Buffer{}
	logger := log.Logger(slog.LevelDebug)
	srv, err := server.New(context.Background(), server.Config{
		Store: relay.NewMemoryStore(), AdminKey: secret.New(adminKey), Logger: logger,
		Sender: sender.New(sender.Config{Timeout: 2 * time.Second, Logger: logger}), CheckWait: 3 * time.Second,
	})
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		require.NoError(t, srv.Close())
	})
	return &liveRelay{URL: hs.URL, Log: log, Admin: &client.Admin{BaseURL: hs.URL, Key: adminKey}}
}

// serviceAccount is a service-account JSON with a real private key (made by testca), whose
// token_uri answers nothing; privateKeyLine is a line of its key's base64, to look for.
func serviceAccount(t *testing.T) (sa, privateKeyLine string) {
	t.Helper()
	sa = testca.ForeignServiceAccount(t, []byte(`{"type":"service_account","project_id":"console-demo",`+
		`"client_email":"relay@console-demo.iam.gserviceaccount.com","token_uri":"http://127.0.0.1:1/token"}`))
	_, rest, _ := strings.Cut(sa, `-----BEGIN PRIVATE KEY-----\n`)
	line, _, _ := strings.Cut(rest, `\n`)
	require.Greater(t, len(line), 40, "a line of the key")
	return sa, line
}

// newPerson is a browser of the console at base, over the network.
func newPerson(t *testing.T, base string) *consoletest.Browser {
	t.Helper()
	return consoletest.New(t, base, nil)
}
