package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// traceAt is an entry of the test app at t about message msgID.
func traceAt(t time.Time, user, msgID string) relay.TraceEntry {
	return relay.TraceEntry{Time: t, SDKAppID: appID, UserID: user, DeviceID: user + "-phone", CertificateID: certID, MsgID: msgID, Reason: relay.ReasonPushed}
}

// getTrace reads one page of the push trace.
func (b *bubble) getTrace(query string) traceAnswer {
	b.t.Helper()
	status, body := b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/push-trace?%s", appID, query), "")
	require.Equal(b.t, http.StatusOK, status, body)
	var ans traceAnswer
	require.NoError(b.t, json.Unmarshal([]byte(body), &ans))
	return ans
}

func traceMsgIDs(es []relay.TraceEntry) []string {
	var ids []string
	for _, e := range es {
		ids = append(ids, e.MsgID)
	}
	return ids
}

// TestPushTracePagesByToken: the answer's next pages towards older entries until there are
// none, msgId selects one message's entries, and a token the relay did not give is refused.
func TestPushTracePagesByToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := relay.NewMemoryStore()
		var es []relay.TraceEntry
		for i := range 7 {
			es = append(es, traceAt(time.Now().Add(-time.Duration(7-i)*time.Second), "alice", fmt.Sprintf("m%d", i)))
		}
		es = append(es, traceAt(time.Now().Add(-time.Second), "bob", "m3"))
		require.NoError(t, store.Apply(context.Background(), []relay.Record{relay.AppendTrace{Entries: es}}))
		b := startRelay(t, store, relay.Config{})

		var pages [][]string
		q := "userId=alice&limit=3"
		for range 10 { // a bound, so that a token that does not page fails rather than loops
			ans := b.getTrace(q)
			pages = append(pages, traceMsgIDs(ans.Entries))
			if ans.Next == "" {
				break
			}
			q = "userId=alice&limit=3&pageToken=" + url.QueryEscape(ans.Next)
		}
		require.Equal(t, [][]string{{"m4", "m5", "m6"}, {"m1", "m2", "m3"}, {"m0"}}, pages)

		ans := b.getTrace("msgId=m3")
		require.Equal(t, []string{"alice", "bob"}, []string{ans.Entries[0].UserID, ans.Entries[1].UserID})
		require.Empty(t, ans.Next)

		for _, tok := range []string{"x", "12", "12.x", "x.12"} {
			status, body := b.admin("GET", fmt.Sprintf("/admin/v1/apps/%d/push-trace?pageToken=%s", appID, tok), "")
			require.Equal(t, http.StatusBadRequest, status, tok)
			require.Contains(t, body, "not a token this relay gave", tok)
		}
	})
}

// startWithOnePush starts a provisioned relay on store, in a synctest bubble, in which bob
// wrote to alice while her app was killed: one push, to alice-phone, answered fcm-ok.
func startWithOnePush(t *testing.T, store relay.Store) (b *bubble, alice, bob *app) {
	t.Helper()
	b = startRelay(t, store, relay.Config{})
	b.provision()
	alice = b.launch("alice", "alice-phone")
	bob = b.launch("bob", "bob-phone")
	require.NoError(t, alice.conn.Drop())
	synctest.Wait()
	bob.send("alice", "are you there?")
	synctest.Wait()
	require.Len(t, b.sender.sent(), 1)
	return b, alice, bob
}

// TestPushTraceSurvivesARestart: the entries a relay made are in its store, and a relay
// started again on that store answers them.
func TestPushTraceSurvivesARestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := relay.NewMemoryStore()
		b, _, bob := startWithOnePush(t, store)
		bob.conn.Close()
		require.NoError(t, b.srv.Close())

		again := startRelay(t, store, relay.Config{})
		var reasons []string
		for _, e := range again.getTrace("userId=alice").Entries {
			reasons = append(reasons, e.Reason)
		}
		require.Equal(t, []string{relay.ReasonPushed, relay.ReasonFCMOK}, reasons)
	})
}

// TestPushTraceRetention: the relay prunes its store's trace to trace.maxEntries at start, and
// by trace.maxAge as time passes.
func TestPushTraceRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := relay.NewMemoryStore()
		var es []relay.TraceEntry
		for i := range 10 {
			es = append(es, traceAt(time.Now().Add(time.Duration(i)*time.Minute), "alice", fmt.Sprintf("m%d", i)))
		}
		require.NoError(t, store.Apply(context.Background(), []relay.Record{relay.AppendTrace{Entries: es}}))
		b := startRelay(t, store, relay.Config{Trace: relay.TraceRetention{MaxAge: duration.Of(time.Hour), MaxEntries: 4}})
		synctest.Wait()
		require.Equal(t, []string{"m6", "m7", "m8", "m9"}, traceMsgIDs(b.getTrace("").Entries), "the newest maxEntries are kept")

		time.Sleep(time.Hour + 7*time.Minute) // a check then: m6 (6 min) is past the hour, m7 (7 min) not yet
		synctest.Wait()
		require.Equal(t, []string{"m7", "m8", "m9"}, traceMsgIDs(b.getTrace("").Entries), "entries past maxAge are dropped")
	})
}

// TestAdminClientPagesThePushTrace: the client's PushTrace reads more than one page holds, in
// order, and PushTracePage passes every key.
func TestAdminClientPagesThePushTrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := relay.NewMemoryStore()
		t0 := time.Now().Add(-time.Hour)
		var es []relay.TraceEntry
		for i := range client.MaxTracePage + 2500 {
			es = append(es, traceAt(t0.Add(time.Duration(i)*time.Millisecond), "alice", fmt.Sprintf("m%d", i)))
		}
		es[100].UserID, es[100].DeviceID, es[100].CertificateID = "bob", "bob-tablet", 6769
		require.NoError(t, store.Apply(context.Background(), []relay.Record{relay.AppendTrace{Entries: es}}))
		b := startRelay(t, store, relay.Config{})
		admin := &client.Admin{BaseURL: baseURL, Key: adminKey, HTTP: b.http}
		ctx := context.Background()

		got, err := admin.PushTrace(ctx, appID, client.MaxTracePage+2000)
		require.NoError(t, err)
		require.Len(t, got, client.MaxTracePage+2000)
		require.Equal(t, "m500", got[0].MsgID)
		require.Equal(t, fmt.Sprintf("m%d", len(es)-1), got[len(got)-1].MsgID)
		for i := 1; i < len(got); i++ {
			require.True(t, got[i-1].Time.Before(got[i].Time), "entry %d out of order", i)
		}

		p, err := admin.PushTracePage(ctx, appID, client.TraceQuery{UserID: "bob", DeviceID: "bob-tablet", CertificateID: 6769, MsgID: "m100",
			From: es[100].Time, To: es[101].Time, Limit: 5})
		require.NoError(t, err)
		require.Equal(t, []string{"m100"}, traceMsgIDs(p.Entries))
		p, err = admin.PushTracePage(ctx, appID, client.TraceQuery{UserID: "bob", From: es[101].Time})
		require.NoError(t, err)
		require.Empty(t, p.Entries)
	})
}
