package server

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"testing/synctest"

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
		body = scrape()
		require.Contains(t, body, "relay_logged_in_devices 2\n")
		require.Contains(t, body, "relay_online_devices 1\n")
		bob.conn.Close()
	})
}

// storeWrites is the count of relay_store_write_seconds in a /metrics body: the batches timed.
func storeWrites(t *testing.T, body string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^relay_store_write_seconds_count (\d+)$`).FindStringSubmatch(body)
	require.NotNil(t, m, "relay_store_write_seconds in %s", body)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

// Every batch the store writes is timed, on both of the loop's ways of writing it: the count of
// relay_store_write_seconds grows by the batches a send makes (its message, its push).
func TestStoreWritesAreTimed(t *testing.T) {
	eachLoop(t, func(t *testing.T, store relay.Store) {
		b := startRelay(t, store, relay.Config{})
		b.provision()
		writes := func() int {
			t.Helper()
			status, body := b.admin("GET", "/metrics", "")
			require.Equal(t, http.StatusOK, status)
			return storeWrites(t, body)
		}
		require.NoError(t, b.launch("alice", "alice-phone").conn.Drop())
		bob := b.launch("bob", "bob-phone")
		synctest.Wait()
		before := writes()
		bob.send("alice", "hello")
		synctest.Wait()
		require.Greater(t, writes(), before)
		bob.conn.Close()
	})
}
