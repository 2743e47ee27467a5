package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/pushlab/pushlab/relay/client"
)

// page is what every console template gets.
type page struct {
	Title string
	// Nav names the navigation entry the page belongs to: apps, trace or users.
	Nav string
	// CSRF is the session's token, for every form that changes state.
	CSRF string
	// Flash is a message left by the form that led here.
	Flash string
	// SignedIn shows the navigation and the sign-out button.
	SignedIn bool
	Data     any
}

// errorPage is the data of the error page.
type errorPage struct {
	Message string
	// Back, when set, is a console path to offer as the way back.
	Back string
}

// templateFuncs are the templates' helpers.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"time":   fmtTime,
		"millis": fmtMillis,
		"seqs":   seqList,
	}
}

// fmtTime shows a time to the second, in UTC, or "—" for none.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// parsePages parses each page with the layout it is drawn in and the partials (templates/_*.html)
// that pages share.
func parsePages() (map[string]*template.Template, error) {
	names, err := templateFS.ReadDir("templates")
	if err != nil {
		return nil, fmt.Errorf("console: list the page templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(n.Name(), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.New("layout.html").Funcs(templateFuncs()).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", path.Join("templates", n.Name()))
		if err != nil {
			return nil, fmt.Errorf("console: parse page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render draws a page for a signed-in session.
func (c *Console) render(w http.ResponseWriter, _ *http.Request, s *session, status int, name, title string, data any) {
	c.write(w, status, name, page{Title: title, Nav: navOf(name), CSRF: s.csrf, Flash: c.sessions.takeFlash(s), SignedIn: true, Data: data})
}

// navOf names the navigation entry of a page.
func navOf(name string) string {
	switch {
	case strings.HasPrefix(name, "trace"):
		return "trace"
	case strings.HasPrefix(name, "user"):
		return "users"
	default:
		return "apps"
	}
}

// write executes a page into a buffer first, so that a template error is an error page, not
// half a page.
func (c *Console) write(w http.ResponseWriter, status int, name string, p page) {
	t := c.pages[name]
	var buf bytes.Buffer
	if t == nil {
		c.cfg.Logger.Error("console: no such page template", "page", name)
		http.Error(w, "console: no page "+name, http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		c.cfg.Logger.Error("console: draw page", "page", name, "err", err)
		http.Error(w, "console: the page could not be drawn (see the relay's log)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// redirect ends a form: a message for the next page, and the page to show (Post/Redirect/Get).
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, s *session, to, flash string) {
	if flash != "" {
		c.sessions.setFlash(s, flash)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// apiFailure draws the error page for an admin API call that failed: the API's own words for a
// refusal, and its status.
func (c *Console) apiFailure(w http.ResponseWriter, r *http.Request, s *session, back string, err error) {
	status, msg := apiStatus(err)
	c.render(w, r, s, status, "error", http.StatusText(status), errorPage{Message: msg, Back: back})
}

// apiStatus answers the status and the words to show for an admin API error.
func apiStatus(err error) (int, string) {
	var ae *client.AdminError
	if errors.As(err, &ae) {
		return ae.Status, ae.Message
	}
	return http.StatusBadGateway, "The relay's admin API did not answer: " + err.Error()
}
