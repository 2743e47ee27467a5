// Package console is the relay's web console at /console/: apps, certificates, users and the
// push trace in a browser, signed in with the admin key.
//
// The console is a client of the relay's admin API: every page reads, and every form writes,
// through it (in-process when the relay serves the console). So the console shows and changes
// exactly what the API does, and no rule is checked twice.
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/pushlab/pushlab/internal/secret"
)

// AdminAPI is the relay's admin API as the console calls it: a JSON request to a path, its JSON
// answer decoded into out. A refusal is a *client.AdminError.
type AdminAPI interface {
	Do(ctx context.Context, method, path string, in, out any) error
}

// Config is what a console needs.
type Config struct {
	// AdminKey is the key a person signs in with (the relay's admin key).
	AdminKey secret.Secret
	// API answers the admin API's calls.
	API AdminAPI
	// SessionTTL is how long a sign-in lasts; zero means DefaultSessionTTL.
	SessionTTL time.Duration
	// Now tells the time; nil means time.Now.
	Now func() time.Time
	// Logger receives sign-ins, sign-outs and refused requests; nil discards them.
	Logger *slog.Logger
}

// DefaultSessionTTL is how long a sign-in lasts unless configured.
const DefaultSessionTTL = 12 * time.Hour

// Console serves the console's pages.
type Console struct {
	cfg      Config
	sessions *sessions
	limiter  *loginLimiter
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New makes a console.
func New(cfg Config) (*Console, error) {
	if cfg.AdminKey.IsZero() {
		return nil, errors.New("console: an admin key is required to sign in with")
	}
	if cfg.API == nil {
		return nil, errors.New("console: an admin API is required")
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := newSessions(cfg.SessionTTL)
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, sessions: s, limiter: newLoginLimiter(), mux: http.NewServeMux()}
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// ServeHTTP serves the console, with headers that keep its pages out of other sites' frames,
// scripts and caches.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	c.mux.ServeHTTP(w, r)
}

// routes registers the console's paths. Pages need a session; forms that change state need its
// CSRF token too.
func (c *Console) routes() {
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /console/login", c.loginPage)
	c.mux.HandleFunc("POST /console/login", c.login)
	c.mux.Handle("POST /console/logout", c.form(c.logout))
	c.mux.Handle("GET /console/{$}", c.page(func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.Redirect(w, r, "/console/apps", http.StatusSeeOther)
	}))
	c.appRoutes()
	c.certificateRoutes()
	c.traceRoutes()
	c.userRoutes()
	c.mux.Handle("/console/", c.page(func(w http.ResponseWriter, r *http.Request, s *session) {
		c.render(w, r, s, http.StatusNotFound, "error", "Not found", errorPage{
			Message: fmt.Sprintf("The console has no page %s %s.", r.Method, r.URL.Path)})
	}))
}

// sessionHandler is a console page or form handler, called with the signed-in session.
type sessionHandler func(w http.ResponseWriter, r *http.Request, s *session)

// page serves a page to a signed-in person; anyone else is sent to the sign-in page, shown no data.
func (c *Console) page(h sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s := c.sessions.get(r, c.cfg.Now())
		if s == nil {
			next := r.URL.Path
			if r.Method != http.MethodGet {
				next = ""
			} else if r.URL.RawQuery != "" {
				next += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, loginURL(next), http.StatusSeeOther)
			return
		}
		h(w, r, s)
	})
}

// form serves a state-changing POST: it needs a session and the session's CSRF token in the form
// field csrf.
func (c *Console) form(h sessionHandler) http.Handler {
	return c.page(func(w http.ResponseWriter, r *http.Request, s *session) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			c.render(w, r, s, http.StatusBadRequest, "error", "Bad form", errorPage{Message: "The form could not be read: " + err.Error()})
			return
		}
		if !s.csrfOK(r.PostForm.Get("csrf")) {
			c.cfg.Logger.Warn("console: form refused: missing or wrong CSRF token", "path", r.URL.Path, "remote", r.RemoteAddr)
			c.render(w, r, s, http.StatusForbidden, "error", "Form refused", errorPage{
				Message: "This form did not come from a console page of this session (missing or wrong CSRF token). Reload the page and try again."})
			return
		}
		h(w, r, s)
	})
}

// maxFormBytes bounds a form's body; a service-account JSON is a few KiB.
const maxFormBytes = 1 << 20
