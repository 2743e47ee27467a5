package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// tracePageSize is how many push-trace entries one page of the console shows.
const tracePageSize = 100

// traceRoutes registers the push-trace page.
func (c *Console) traceRoutes() {
	c.mux.Handle("GET /console/trace", c.page(c.tracePage))
}

// traceForm is the trace page's filter form, as typed: shown again as it was.
type traceForm struct {
	App, Cert, User, Device, Msg, From, To string
	// PageToken is the admin API's token of the page shown; empty for the newest.
	PageToken string
}

// traceQuery is the form, read: what the admin API is asked.
type traceQuery struct {
	App      uint64
	Cert     int64
	From, To time.Time
}

// traceRow is one push-trace entry as the page shows it.
type traceRow struct {
	relay.TraceEntry
	Kind  reasonKind
	Words string
	// UserPage is the console page of the entry's user, escaped; empty when it names none.
	UserPage string
}

// traceView is what the trace page shows.
type traceView struct {
	Form traceForm
	Apps []relay.AppView
	// Problems are what is wrong with the form, or what the admin API refused.
	Problems []string
	// ChooseApp asks for an app: there are several and none was named.
	ChooseApp bool
	// App is the app whose trace is shown; zero when none is.
	App       uint64
	Rows      []traceRow
	Checklist []checkItem
	// Older links to the page of older entries; Newest back to the newest page.
	Older, Newest string
	PageSize      int
}

func (c *Console) tracePage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	v := traceView{PageSize: tracePageSize, Form: traceForm{
		App: q.Get("sdkAppId"), Cert: q.Get("certificateId"), User: q.Get("userId"), Device: q.Get("deviceId"),
		Msg: q.Get("msgId"), From: q.Get("from"), To: q.Get("to"), PageToken: q.Get("pageToken")}}
	apps, err := c.listApps(r)
	if err != nil {
		c.apiFailure(w, r, s, "", err)
		return
	}
	v.Apps = apps
	tq, problems := parseTraceForm(v.Form)
	if tq.App == 0 && len(problems) == 0 {
		if len(v.Apps) != 1 {
			v.ChooseApp = true
			c.render(w, r, s, http.StatusOK, "trace", "Push trace", v)
			return
		}
		tq.App = v.Apps[0].SDKAppID
		v.Form.App = strconv.FormatUint(tq.App, 10)
	}
	if len(problems) > 0 {
		v.Problems = problems
		c.render(w, r, s, http.StatusBadRequest, "trace", "Push trace", v)
		return
	}
	if !slices.ContainsFunc(v.Apps, func(a relay.AppView) bool { return a.SDKAppID == tq.App }) {
		v.Problems, v.ChooseApp = []string{fmt.Sprintf("The relay has no app %d.", tq.App)}, true
		c.render(w, r, s, http.StatusNotFound, "trace", "Push trace", v)
		return
	}
	var ans client.TracePage
	if err := c.cfg.API.Do(r.Context(), http.MethodGet, client.PushTracePath(tq.App, traceAPIQuery(v.Form, tq)), nil, &ans); err != nil {
		status, msg := apiStatus(err)
		v.Problems = []string{"The relay refused the query: " + msg}
		c.render(w, r, s, status, "trace", "Push trace", v)
		return
	}
	v.App = tq.App
	for _, e := range slices.Backward(ans.Entries) {
		row := traceRow{TraceEntry: e, Kind: kindOf(e.Reason), Words: explain(e, ans.Entries)}
		if e.UserID != "" {
			row.UserPage = userPath(tq.App, e.UserID)
		}
		v.Rows = append(v.Rows, row)
	}
	if ans.Next != "" {
		v.Older = traceLink(v.Form, ans.Next)
	}
	if v.Form.PageToken != "" {
		v.Newest = traceLink(v.Form, "")
	}
	v.Checklist = checklist(c.checkInput(r, tq, v.Form, ans.Entries))
	c.render(w, r, s, http.StatusOK, "trace", "Push trace", v)
}

// checkInput reads what the checklist needs beyond the trace: the app's certificates and the
// user's devices.
func (c *Console) checkInput(r *http.Request, tq traceQuery, f traceForm, entries []relay.TraceEntry) checkInput {
	in := checkInput{SDKAppID: tq.App, UserID: f.User, DeviceID: f.Device, CertificateID: tq.Cert, Entries: entries}
	var certs struct {
		Certificates []relay.CertificateView `json:"certificates"`
	}
	if err := c.cfg.API.Do(r.Context(), http.MethodGet, client.CertificatesPath(tq.App), nil, &certs); err != nil {
		_, in.CertsErr = apiStatus(err)
	}
	in.Certs = certs.Certificates
	if f.User == "" {
		return in
	}
	var u relay.UserView
	err := c.cfg.API.Do(r.Context(), http.MethodGet, client.UserPath(tq.App, f.User), nil, &u)
	var ae *client.AdminError
	switch {
	case err == nil:
		in.User = &u
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
	default:
		_, in.UserErr = apiStatus(err)
	}
	return in
}

// parseTraceForm reads the form's numbers and times, and says what is wrong with them.
func parseTraceForm(f traceForm) (traceQuery, []string) {
	var q traceQuery
	var problems []string
	if v := strings.TrimSpace(f.App); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			problems = append(problems, fmt.Sprintf("SDKAppID %q is not an app's number (such as 1400000001).", f.App))
		}
		q.App = n
	}
	if v := strings.TrimSpace(f.Cert); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			problems = append(problems, fmt.Sprintf("Certificate ID %q is not a certificate's number (such as 6768).", f.Cert))
		}
		q.Cert = n
	}
	for _, t := range []struct {
		name, v string
		dst     *time.Time
	}{{"From", f.From, &q.From}, {"To", f.To, &q.To}} {
		if strings.TrimSpace(t.v) == "" {
			continue
		}
		var err error
		if *t.dst, err = parseFormTime(t.v); err != nil {
			problems = append(problems, fmt.Sprintf("%s %q is not a time: write it in UTC as 2026-12-06T12:03:10Z, 2026-12-06 12:03:10 or 2026-12-06T12:03.", t.name, t.v))
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		problems = append(problems, "From must be before To.")
	}
	return q, problems
}

// formTimeLayouts are the times the form takes without a zone: UTC (a datetime-local field
// sends the first).
func formTimeLayouts() []string {
	return []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02T15:04:05.000",
		"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02 15:04:05.000", "2006-01-02"}
}

// parseFormTime reads an RFC 3339 time, or one of formTimeLayouts as UTC.
func parseFormTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	for _, l := range formTimeLayouts() {
		if t, err := time.Parse(l, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: not RFC 3339 nor a UTC date and time", v)
}

// traceAPIQuery is what the admin API is asked for a page of the trace: the form's filters,
// trimmed, and the console's page size.
func traceAPIQuery(f traceForm, q traceQuery) client.TraceQuery {
	return client.TraceQuery{UserID: strings.TrimSpace(f.User), DeviceID: strings.TrimSpace(f.Device),
		MsgID: strings.TrimSpace(f.Msg), PageToken: strings.TrimSpace(f.PageToken),
		CertificateID: q.Cert, From: q.From, To: q.To, Limit: tracePageSize}
}

// traceLink is the console's link to a page of the trace with the same filters.
func traceLink(f traceForm, pageToken string) string {
	p := url.Values{}
	for _, kv := range [][2]string{{"sdkAppId", f.App}, {"certificateId", f.Cert}, {"userId", f.User},
		{"deviceId", f.Device}, {"msgId", f.Msg}, {"from", f.From}, {"to", f.To}, {"pageToken", pageToken}} {
		if kv[1] != "" {
			p.Set(kv[0], kv[1])
		}
	}
	return "/console/trace?" + p.Encode()
}

// fmtMillis shows a time in UTC to the millisecond.
func fmtMillis(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000")
}
