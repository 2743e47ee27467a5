package server

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/relay"
)

// traceRow is a row of the console's trace table: its reason and the text of its cells.
type traceRow struct {
	Reason string
	Cells  []string
}

var (
	traceRowRE = regexp.MustCompile(`(?s)<tr data-reason="([^"]*)">(.*?)</tr>`)
	traceCell  = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
	markup     = regexp.MustCompile(`<[^>]+>`)
	olderLink  = regexp.MustCompile(`<a href="([^"]+)" rel="next">Older`)
	newestLink = regexp.MustCompile(`<a href="([^"]+)" rel="first">`)
)

// traceRows reads the rows of a trace page.
func traceRows(page string) []traceRow {
	var rows []traceRow
	for _, m := range traceRowRE.FindAllStringSubmatch(page, -1) {
		r := traceRow{Reason: m[1]}
		for _, c := range traceCell.FindAllStringSubmatch(m[2], -1) {
			r.Cells = append(r.Cells, html.UnescapeString(strings.TrimSpace(markup.ReplaceAllString(c[1], " "))))
		}
		rows = append(rows, r)
	}
	return rows
}

// msgIDs are the message IDs of rows (the first word of their message cell).
func msgIDs(rows []traceRow) []string {
	var ids []string
	for _, r := range rows {
		ids = append(ids, strings.Fields(r.Cells[4])[0])
	}
	return ids
}

// seedTrace stores n pushed entries for user, a second apart, msgIDs m0…m(n-1), oldest first,
// ending an hour before now.
func seedTrace(t *testing.T, store relay.Store, user string, n int) time.Time {
	t.Helper()
	start := time.Now().Add(-time.Hour - time.Duration(n)*time.Second)
	var es []relay.TraceEntry
	for i := range n {
		es = append(es, traceAt(start.Add(time.Duration(i)*time.Second), user, fmt.Sprintf("m%d", i)))
	}
	require.NoError(t, store.Apply(context.Background(), []relay.Record{relay.AppendTrace{Entries: es}}))
	return start
}

// TestConsoleTracePage: the trace page lists the entries of the app newest first, a hundred a
// page with links to older pages and back, filtered by the form, each reason in words, beside
// the checklist; bad input is the form again with a message.
func TestConsoleTracePage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := relay.NewMemoryStore()
		start := seedTrace(t, store, "dora", 130)
		b, alice, bob := startWithOnePush(t, store)
		u := b.signInConsole()

		status, page := u.Open("/console/trace?userId=alice")
		require.Equal(t, http.StatusOK, status, page)
		rows := traceRows(page)
		require.Equal(t, []string{relay.ReasonFCMOK, relay.ReasonPushed}, []string{rows[0].Reason, rows[1].Reason}, "newest first, the one app chosen")
		require.Len(t, rows, 2)
		require.Contains(t, rows[0].Cells[6], "FCM accepted the push as projects/demo/messages/1")
		require.Contains(t, rows[1].Cells[6], "pushed: the device was logged in with its connection gone")
		require.Equal(t, []string{"alice", "alice-phone", fmt.Sprint(certID)}, rows[0].Cells[1:4])
		require.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$`, rows[0].Cells[0], "UTC to the millisecond")
		require.Contains(t, page, "alice-phone logged in, connection gone", "the checklist, from the user's devices")
		require.Contains(t, page, "fcm-ok at ", "the checklist's last FCM answer")

		// Paging: a hundred newest, then the rest, and back.
		status, page = u.Open(fmt.Sprintf("/console/trace?sdkAppId=%d&userId=dora", appID))
		require.Equal(t, http.StatusOK, status)
		first := msgIDs(traceRows(page))
		require.Len(t, first, 100)
		require.Equal(t, []string{"m129", "m128"}, first[:2])
		require.Equal(t, "m30", first[99])
		require.Empty(t, newestLink.FindStringSubmatch(page), "the newest page has no link to itself")
		older := olderLink.FindStringSubmatch(page)
		require.NotNil(t, older, "a link to older entries")
		next := html.UnescapeString(older[1])
		require.Contains(t, next, "userId=dora", "the link keeps the filters")
		_, page = u.Open(next)
		require.Equal(t, []string{"m29", "m28"}, msgIDs(traceRows(page))[:2])
		require.Len(t, traceRows(page), 30)
		require.Nil(t, olderLink.FindStringSubmatch(page), "no older page")
		back := newestLink.FindStringSubmatch(page)
		require.NotNil(t, back)
		_, page = u.Open(html.UnescapeString(back[1]))
		require.Equal(t, first, msgIDs(traceRows(page)))

		// Filters: a message, and a time range (UTC, either way of writing it).
		_, page = u.Open("/console/trace?userId=dora&msgId=m7")
		require.Equal(t, []string{"m7"}, msgIDs(traceRows(page)))
		from := start.Add(10 * time.Second).UTC()
		q := url.Values{"userId": {"dora"}, "from": {from.Format("2006-01-02 15:04:05")}, "to": {from.Add(3 * time.Second).Format(time.RFC3339)}}
		_, page = u.Open("/console/trace?" + q.Encode())
		require.Equal(t, []string{"m12", "m11", "m10"}, msgIDs(traceRows(page)))
		_, page = u.Open(fmt.Sprintf("/console/trace?certificateId=%d&deviceId=alice-phone", certID))
		require.Len(t, traceRows(page), 2)
		_, page = u.Open("/console/trace?certificateId=1")
		require.Empty(t, traceRows(page))
		require.Contains(t, html.UnescapeString(page), "no certificate 1: check that the certificate ID in the app's code")

		// Bad input: the form again, with what is wrong, never a 500.
		for q, want := range map[string]string{
			"sdkAppId=abc":                  `SDKAppID &#34;abc&#34; is not an app&#39;s number`,
			"certificateId=x":               `Certificate ID &#34;x&#34; is not a certificate&#39;s number`,
			"from=yesterday":                `From &#34;yesterday&#34; is not a time`,
			"from=2026-01-02&to=2026-01-01": "From must be before To.",
			"pageToken=x":                   "The relay refused the query: pageToken",
			"sdkAppId=999":                  "The relay has no app 999.",
		} {
			status, page := u.Open("/console/trace?" + q)
			require.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound}, status, q)
			require.Contains(t, page, want, q)
			require.Contains(t, page, `<form class="filters"`, q)
		}

		// Several apps and none named: the page asks which.
		status, body := b.admin("POST", "/admin/v1/apps", `{"sdkAppId":1400000002,"secretKey":"another-secret-0123456789","name":"Other"}`)
		require.Equal(t, http.StatusCreated, status, body)
		status, page = u.Open("/console/trace")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, page, "Choose an app")
		require.Contains(t, page, `href="/console/trace?sdkAppId=1400000002"`)
		require.Empty(t, traceRows(page))
		bob.conn.Close()
		alice.conn.Close()
	})
}

// hostile are inputs that break out of an element or an attribute if not escaped.
var hostile = []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`}

// requireEscaped checks that no hostile input came through as markup.
func requireEscaped(t *testing.T, page, what string) {
	t.Helper()
	for _, bad := range []string{"<script>alert", "<img src=x"} {
		require.NotContains(t, page, bad, what)
	}
}

// TestConsoleTraceEscapesHostileInput: hostile text in every filter field, and in the trace's
// own entries, is shown as text.
func TestConsoleTraceEscapesHostileInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := relay.NewMemoryStore()
		e := traceAt(time.Now().Add(-time.Minute), hostile[0], hostile[1])
		e.DeviceID, e.Detail, e.Reason = hostile[1], hostile[0], `fcm-"><b>`
		require.NoError(t, store.Apply(context.Background(), []relay.Record{relay.AppendTrace{Entries: []relay.TraceEntry{e}}}))
		b := startRelay(t, store, relay.Config{})
		b.provision()
		u := b.signInConsole()

		fields := []string{"sdkAppId", "certificateId", "userId", "deviceId", "msgId", "from", "to", "pageToken"}
		for _, h := range hostile {
			all := url.Values{}
			for _, f := range fields {
				all.Set(f, h)
				q := url.Values{f: {h}}
				status, page := u.Open("/console/trace?" + q.Encode())
				require.NotEqual(t, http.StatusInternalServerError, status, f)
				requireEscaped(t, page, f+"="+h)
				require.Contains(t, page, html.EscapeString(h), "%s=%s is shown, as text", f, h)
			}
			_, page := u.Open("/console/trace?" + all.Encode())
			requireEscaped(t, page, "every field at once")
		}
		_, page := u.Open("/console/trace?" + url.Values{"userId": {hostile[0]}}.Encode())
		rows := traceRows(page)
		require.Len(t, rows, 1, "the hostile entry is listed")
		require.Equal(t, []string{hostile[0], hostile[1]}, rows[0].Cells[1:3])
		requireEscaped(t, page, "the trace's own entries")
	})
}
