package console_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/testca"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/console/consoletest"
	"github.com/pushlab/pushlab/relay/sender"
	"github.com/pushlab/pushlab/relay/server"
)

// A relay serving TLS serves its console on https:// too, and the session cookie is then marked
// Secure: a browser never sends it over plain HTTP.
func TestConsoleOverTLSSetsASecureCookie(t *testing.T) {
	ca := testca.New(t)
	l, err := server.ListenTLS(context.Background(), "127.0.0.1:0", server.Config{Store: relay.NewMemoryStore(),
		Sender: sender.New(sender.Config{}), AdminKey: secret.New(adminKey)}, ca.ServerConfig())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Shutdown(context.Background())) })
	require.True(t, strings.HasPrefix(l.URL, "https://"), l.URL)

	b := consoletest.New(t, l.URL, &http.Transport{TLSClientConfig: ca.ClientConfig()})
	res := b.SignInAs(adminKey)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == consoletest.CookieName {
			session = c
		}
	}
	require.NotNil(t, session, "the sign-in sets the session cookie")
	require.True(t, session.Secure, "over TLS the cookie is Secure")
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, session.SameSite)
	status, page := b.Get("/console/apps")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, page, "No apps yet")
}
