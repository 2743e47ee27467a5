package lab

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/pushlab/pushlab/scenarios"
)

//go:embed assets
var assets embed.FS

// pageTmpl is the page, parsed once; executing it does not change it.
var pageTmpl = template.Must(template.ParseFS(assets, "assets/lab.html.tmpl"))

// CSRFHeader carries the session's token on the page's script requests; forms carry it in the
// csrf field.
const CSRFHeader = "X-Lab-CSRF"

// newToken is a fresh random token.
func newToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("lab token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Handler serves the lab: the page, its assets, its state and live updates, and the POSTs that
// drive the phones. Every request must name the lab's own host (a page elsewhere that rebinds its
// name to this address gets nothing); every POST must come from the lab's page: same origin,
// with the session's token.
func (l *Lab) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", l.page)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /state", l.state)
	mux.HandleFunc("GET /events", l.events)
	mux.HandleFunc("POST /phones", l.post(func(r *http.Request) error {
		_, err := l.AddPhone(r.PostFormValue("user"), r.PostFormValue("platform"))
		return err
	}))
	mux.HandleFunc("POST /act", l.post(func(r *http.Request) error {
		return l.Act(r.PostFormValue("phone"), scenarios.StepKind(r.PostFormValue("action")))
	}))
	mux.HandleFunc("POST /send", l.post(func(r *http.Request) error {
		return l.Send(r.PostFormValue("from"), r.PostFormValue("to"), r.PostFormValue("text"))
	}))
	mux.HandleFunc("POST /tick", l.post(func(r *http.Request) error {
		n, err := strconv.Atoi(r.PostFormValue("obs"))
		if err != nil {
			return refuse("obs %q is not a number", clipped(r.PostFormValue("obs")))
		}
		return l.Tick(r.PostFormValue("phone"), n, r.PostFormValue("on") == "1")
	}))
	mux.HandleFunc("POST /scenario", l.guard(l.saveScenario))
	return l.sameHost(mux)
}

// sameHost refuses requests whose Host is not a loopback name or address: a hostile page that
// points its own name at 127.0.0.1 (DNS rebinding) must not read the page and its token.
func (l *Lab) sameHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		ip := net.ParseIP(strings.Trim(host, "[]"))
		if host != "localhost" && (ip == nil || !ip.IsLoopback() && !ip.IsUnspecified() && !isLocalAddr(ip)) {
			http.Error(w, "the device lab answers only requests for its own address", http.StatusMisdirectedRequest)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
		w.Header().Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// isLocalAddr says whether ip is one of this machine's addresses (the lab listening on one).
func isLocalAddr(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// crossSite says why a POST does not come from the lab's own page, or "" if it does.
func (l *Lab) crossSite(r *http.Request) string {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return "a request from another site (Sec-Fetch-Site: " + s + ")"
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return "a request from another origin (" + o + ")"
	}
	tok := r.Header.Get(CSRFHeader)
	if tok == "" {
		tok = r.PostFormValue("csrf")
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(l.csrf)) != 1 {
		return "a request without the lab page's token"
	}
	return ""
}

// maxForm bounds a POST's body, in bytes.
const maxForm = 64 << 10

// guard refuses a POST that does not come from the lab's page.
func (l *Lab) guard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			// Read now, so that an overlong or broken form is told as such, not as a missing token.
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, fmt.Sprintf("refused: the form is longer than %d bytes", maxForm), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "refused: the form does not read: "+err.Error(), http.StatusBadRequest)
			return
		}
		if why := l.crossSite(r); why != "" {
			http.Error(w, "refused: "+why, http.StatusForbidden)
			return
		}
		h(w, r)
	}
}

// post serves a guarded POST that changes the session: the page's script gets 204 or the
// refusal in words; a form posted without the script is sent back to the page, which shows it.
func (l *Lab) post(do func(*http.Request) error) http.HandlerFunc {
	return l.guard(func(w http.ResponseWriter, r *http.Request) {
		err := do(r)
		var ue *userError
		if err != nil && !errors.As(err, &ue) {
			http.Error(w, "the lab failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		scripted := r.Header.Get(CSRFHeader) != ""
		switch {
		case scripted && err != nil:
			http.Error(w, err.Error(), ue.status)
		case scripted:
			l.setFlash("")
			w.WriteHeader(http.StatusNoContent)
		default:
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			l.setFlash(msg)
			http.Redirect(w, r, "/", http.StatusSeeOther)
		}
	})
}

// page serves the whole page.
func (l *Lab) page(w http.ResponseWriter, _ *http.Request) {
	v, err := l.view()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := pageTmpl.ExecuteTemplate(&buf, "page", v); err != nil {
		http.Error(w, "render the lab: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// stateView is what the page's script swaps in on a change: the rendered phones and swimlane,
// and the phones' IDs for the send form.
type stateView struct {
	Version  uint64   `json:"version"`
	Flash    string   `json:"flash"`
	Phones   string   `json:"phones"`
	Swimlane string   `json:"swimlane"`
	PhoneIDs []string `json:"phoneIds"`
	Actions  int      `json:"actions"`
	Ticks    int      `json:"ticks"`
}

// state serves the session's state for the page's script.
func (l *Lab) state(w http.ResponseWriter, _ *http.Request) {
	v, err := l.view()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var phones, lane bytes.Buffer
	if err := pageTmpl.ExecuteTemplate(&phones, "phones", v); err != nil {
		http.Error(w, "render the phones: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if err := pageTmpl.ExecuteTemplate(&lane, "swimlane", v); err != nil {
		http.Error(w, "render the swimlane: "+err.Error(), http.StatusInternalServerError)
		return
	}
	out := stateView{Version: v.Version, Flash: v.Flash, Phones: phones.String(), Swimlane: lane.String(),
		PhoneIDs: []string{}, Actions: v.Actions, Ticks: v.Ticks}
	for _, p := range v.Phones {
		out.PhoneIDs = append(out.PhoneIDs, p.ID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

// events streams a notice on every change of the session (server-sent events), until the page
// goes away or the lab closes.
func (l *Lab) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	ch, stop := l.subscribe()
	defer stop()
	send := func() bool {
		l.mu.Lock()
		v := l.version
		l.mu.Unlock()
		if _, err := fmt.Fprintf(w, "data: %d\n\n", v); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send() {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-l.ctx.Done():
			return
		case <-ch:
			if !send() {
				return
			}
		}
	}
}

// saveScenario answers the session as a scenario file, to download (or, for the page's script,
// to show).
func (l *Lab) saveScenario(w http.ResponseWriter, _ *http.Request) {
	out, err := l.Scenario()
	var ue *userError
	switch {
	case errors.As(err, &ue):
		http.Error(w, err.Error(), ue.status)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="lab-session.yaml"`)
	_, _ = w.Write(out)
}
