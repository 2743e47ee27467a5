package server

import (
	"testing"

	"github.com/pushlab/pushlab/relay/console/consoletest"
)

// signInConsole signs in to the bubble's relay console through its sign-in form, in-process.
func (b *bubble) signInConsole() *consoletest.Browser {
	b.t.Helper()
	ub := consoletest.InProcess(b.t, b.srv.Handler(), "")
	ub.SignIn(adminKey)
	return ub
}

// requireNoSecret checks that a page or log shows no key, secret, private key or the browser's
// session cookie.
func requireNoSecret(t *testing.T, ub *consoletest.Browser, text string) {
	t.Helper()
	consoletest.RequireNone(t, text, adminKey, appSecret, "PRIVATE KEY", "secret-material", "private_key", ub.Cookie())
}
