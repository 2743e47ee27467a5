package console

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pushlab/pushlab/internal/ratelimit"
)

// cookieName names the session cookie. Its value is a random session ID; the console keeps only
// the ID's SHA-256, so no copy of a live cookie is held in memory or ever written anywhere.
const cookieName = "pushlab_console"

// session is one sign-in.
type session struct {
	csrf    string
	expires time.Time
	// flash is a message for the next page this session sees (Post/Redirect/Get).
	flash string
}

// csrfOK reports whether a form's token is this session's, in constant time.
func (s *session) csrfOK(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf)) == 1
}

// sessions are the console's sign-ins, in memory: a relay restart signs everyone out.
type sessions struct {
	ttl time.Duration
	// loginKey signs the sign-in form's CSRF tokens.
	loginKey []byte

	mu   sync.Mutex
	byID map[string]*session // by the SHA-256 of the session ID, hex
}

func newSessions(ttl time.Duration) (*sessions, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("console: make the sign-in key: %w", err)
	}
	return &sessions{ttl: ttl, loginKey: key, byID: map[string]*session{}}, nil
}

func idDigest(id string) string {
	d := sha256.Sum256([]byte(id))
	return hex.EncodeToString(d[:])
}

// randomToken is a random session ID or CSRF token (crypto/rand, 130 bits).
func randomToken() string { return rand.Text() }

// start signs someone in: a new session and its cookie.
func (ss *sessions) start(w http.ResponseWriter, r *http.Request, now time.Time) *session {
	id := randomToken()
	s := &session{csrf: randomToken(), expires: now.Add(ss.ttl)}
	ss.mu.Lock()
	for k, old := range ss.byID {
		if !now.Before(old.expires) {
			delete(ss.byID, k)
		}
	}
	ss.byID[idDigest(id)] = s
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/console/", Expires: s.expires,
		MaxAge: int(ss.ttl / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	return s
}

// get answers the request's live session, or nil.
func (ss *sessions) get(r *http.Request, now time.Time) *session {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	k := idDigest(c.Value)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[k]
	if s == nil {
		return nil
	}
	if !now.Before(s.expires) {
		delete(ss.byID, k)
		return nil
	}
	return s
}

// end signs the request's session out and clears its cookie.
func (ss *sessions) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		ss.mu.Lock()
		delete(ss.byID, idDigest(c.Value))
		ss.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// setFlash and takeFlash carry a message to the next page a session sees.
func (ss *sessions) setFlash(s *session, msg string) {
	ss.mu.Lock()
	s.flash = msg
	ss.mu.Unlock()
}

func (ss *sessions) takeFlash(s *session) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	msg := s.flash
	s.flash = ""
	return msg
}

// loginTokenTTL is how long a sign-in form stays good.
const loginTokenTTL = time.Hour

// loginToken is the sign-in form's CSRF token: the time it was made, signed with the console's
// key. It needs no session (nobody is signed in yet) and stops a hostile page from signing a
// browser in.
func (ss *sessions) loginToken(now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return ts + "." + ss.sign(ts)
}

func (ss *sessions) sign(ts string) string {
	m := hmac.New(sha256.New, ss.loginKey)
	m.Write([]byte("console-login|" + ts))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// loginTokenOK checks a sign-in form's token: signed by this console, and not older than
// loginTokenTTL.
func (ss *sessions) loginTokenOK(token string, now time.Time) bool {
	ts, sig, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	made := time.Unix(sec, 0)
	if now.Sub(made) > loginTokenTTL || made.After(now.Add(time.Minute)) {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(ss.sign(ts)))
}

// Sign-in attempts: each client address may fail loginBurst times at once, then once every
// loginRefill. The limit is checked before the key, so a guesser learns nothing while limited.
const (
	loginBurst  = 5
	loginRefill = 12 * time.Second
	// maxLimited bounds the addresses remembered; past it, those whose allowance is whole again
	// are forgotten first, and if none is, one more forgets all (a flood from many addresses
	// cannot grow memory without bound).
	maxLimited = 4096
)

// loginLimiter rate-limits failed sign-ins by client address.
type loginLimiter struct {
	mu    sync.Mutex
	bySrc map[string]*ratelimit.Bucket
}

func newLoginLimiter() *loginLimiter { return &loginLimiter{bySrc: map[string]*ratelimit.Bucket{}} }

// clientAddr is the address a request came from, without its port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// wait answers how long src must wait before its next sign-in attempt; zero means now.
func (l *loginLimiter) wait(src string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bySrc[src]
	if b == nil {
		return 0
	}
	if next := b.Next(now); next.After(now) {
		return next.Sub(now)
	}
	return 0
}

// failed counts a failed sign-in from src.
func (l *loginLimiter) failed(src string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bySrc[src]
	if b == nil {
		if len(l.bySrc) >= maxLimited {
			for k, old := range l.bySrc {
				if old.Tokens(now) == loginBurst {
					delete(l.bySrc, k)
				}
			}
			if len(l.bySrc) >= maxLimited {
				clear(l.bySrc)
			}
		}
		b = ratelimit.MustBucket(loginBurst, loginRefill)
		l.bySrc[src] = b
	}
	b.Take(now)
}

// keyOK compares a typed key with the admin key in constant time (digests first, so that not
// even the key's length leaks).
func keyOK(typed, key string) bool {
	a, b := sha256.Sum256([]byte(typed)), sha256.Sum256([]byte(key))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// loginURL is the sign-in page, with where to go after it.
func loginURL(next string) string {
	if !safeNext(next) {
		return "/console/login"
	}
	return "/console/login?next=" + url.QueryEscape(next)
}

// safeNext reports whether a sign-in may send the browser to next: console paths only, never
// another site. Backslashes and control characters are refused too: browsers read a backslash
// as a slash and drop tabs and newlines, which could make "//" of what was not.
func safeNext(next string) bool {
	return strings.HasPrefix(next, "/console/") && !strings.HasPrefix(next, "/console/login") &&
		!strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || r < 0x20 || r == 0x7f }) &&
		!strings.Contains(next, "//")
}

// loginForm is what the sign-in page shows.
type loginForm struct {
	Token string
	Next  string
	Error string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	next := r.URL.Query().Get("next")
	if !safeNext(next) {
		next = ""
	}
	if c.sessions.get(r, c.cfg.Now()) != nil {
		http.Redirect(w, r, cmp.Or(next, "/console/apps"), http.StatusSeeOther)
		return
	}
	c.renderLogin(w, http.StatusOK, loginForm{Next: next})
}

func (c *Console) renderLogin(w http.ResponseWriter, status int, f loginForm) {
	f.Token = c.sessions.loginToken(c.cfg.Now())
	c.write(w, status, "login", page{Title: "Sign in", Data: f})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	now := c.cfg.Now()
	src := clientAddr(r)
	if wait := c.limiter.wait(src, now); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.cfg.Logger.Warn("console: sign-in refused: too many failed attempts", "remote", src)
		c.renderLogin(w, http.StatusTooManyRequests, loginForm{
			Error: fmt.Sprintf("Too many failed sign-ins from this address. Try again in %d s.", secs)})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.renderLogin(w, http.StatusBadRequest, loginForm{Error: "The sign-in form could not be read."})
		return
	}
	next := r.PostForm.Get("next")
	if !safeNext(next) {
		next = ""
	}
	if !c.sessions.loginTokenOK(r.PostForm.Get("csrf"), now) {
		c.renderLogin(w, http.StatusForbidden, loginForm{Next: next,
			Error: "This sign-in form is too old or did not come from this console. Sign in again."})
		return
	}
	if !keyOK(r.PostForm.Get("key"), c.cfg.AdminKey.Reveal()) {
		c.limiter.failed(src, now)
		c.cfg.Logger.Warn("console: sign-in failed: wrong admin key", "remote", src)
		c.renderLogin(w, http.StatusUnauthorized, loginForm{Next: next, Error: "That is not the relay's admin key."})
		return
	}
	c.sessions.start(w, r, now)
	c.cfg.Logger.Info("console: signed in", "remote", src)
	http.Redirect(w, r, cmp.Or(next, "/console/apps"), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	c.sessions.end(w, r)
	c.cfg.Logger.Info("console: signed out", "remote", clientAddr(r))
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}
