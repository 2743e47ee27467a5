package server

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// The devices gauges count what the core holds when they are scraped: the loop counts on
// demand, not on a timer of its own.
func TestDeviceGaugesCountWhenScraped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := startRelay(t, relay.NewMemoryStore(), relay.Config{})
		b.provision()
		scrape := func() string {
			t.Helper()
			status, body := b.admin("GET", "/metrics", "")
			require.Equal(t, http.StatusOK, status)
			return body
		}
		alice := b.launch("alice", "alice-phone")
		bob := b.launch("bob", "bob-phone")
		body := scrape()
		require.Contains(t, body, "relay_logged_in_devices 2\n")
		require.Contains(t, body, "relay_online_devices 2\n")

		require.NoError(t, alice.conn.Drop()) // killed: logged in, no connection
		synctest.Wait()
		time.Sleep(statsFresh) // past the previous scrape's counts
		body = scrape()
		require.Contains(t, body, "relay_logged_in_devices 2\n")
		require.Contains(t, body, "relay_online_devices 1\n")
		bob.conn.Close()
	})
}
