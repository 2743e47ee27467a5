// Package server is fakefcm's HTTP shell: it serves Google's FCM wire APIs (HTTP v1 with its
// multipart batch, the OAuth2 token endpoint, legacy /fcm/send), the control API and the device
// channels, and drives a fakefcm.Core on the real clock. All FCM behaviour lives in the core; this
// package turns requests into core calls and carries out the core's deliveries.
package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pushlab/pushlab/fakefcm"
)

// Config is what a Server is built from.
type Config struct {
	// Core configures the fake FCM itself: seed, latency, loss, throttles.
	Core fakefcm.Config
	// BaseURL is the address clients reach this server at, such as "http://127.0.0.1:4000".
	// Service accounts it issues name BaseURL+"/token" as their token_uri. Required.
	BaseURL string
	// Logger receives one line per notable event; nil discards.
	Logger *slog.Logger
	// Clock tells the time; nil means time.Now.
	Clock func() time.Time
	// MaxBodyBytes bounds request bodies; zero means 1 MiB.
	MaxBodyBytes int64
	// AccessTokenLifetime is how long an OAuth access token is good for; zero means one hour.
	AccessTokenLifetime time.Duration
	// PingInterval is how often device channels are pinged; zero means 30 s. A channel that
	// answers nothing for three intervals is closed.
	PingInterval time.Duration
}

// Server serves fakefcm over HTTP. Create it with New, serve Handler, and Close it when done.
type Server struct {
	cfg     Config
	log     *slog.Logger
	clock   func() time.Time
	metrics *prometheus.Registry
	handler http.Handler
	auth    *authority

	mu      sync.Mutex // guards core, conns, closing and loopAt
	core    *fakefcm.Core
	conns   map[string]*deviceConn
	closing bool
	// loopAt is the core's wake-up the driver loop last read and waits for; zero if it read
	// none. step nudges the loop only when the core's next wake-up comes before it.
	loopAt time.Time

	wake     chan struct{} // nudges the driver loop to re-read the core's next wake-up
	stop     chan struct{}
	loopDone chan struct{}
	closed   sync.Once
	handlers sync.WaitGroup // device channel handlers in flight

	multicastSeq int64
}

// New builds a Server and starts its driver loop; Close stops it.
func New(cfg Config) (*Server, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("fakefcm server: BaseURL is required: the address clients reach this server at, for service accounts' token_uri")
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.AccessTokenLifetime == 0 {
		cfg.AccessTokenLifetime = time.Hour
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 30 * time.Second
	}
	core, err := fakefcm.New(cfg.Core)
	if err != nil {
		return nil, fmt.Errorf("fakefcm server: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		clock:    cfg.Clock,
		core:     core,
		conns:    map[string]*deviceConn{},
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
		metrics:  prometheus.NewRegistry(),
	}
	s.auth = newAuthority(cfg.BaseURL+"/token", cfg.AccessTokenLifetime, s.clock)
	s.metrics.MustRegister(newStatsCollector(s))
	s.handler = s.routes()
	go s.loop()
	return s, nil
}

// Handler returns the HTTP handler serving every fakefcm path.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the driver loop, closes every device channel and waits for their handlers.
func (s *Server) Close() error {
	s.closed.Do(func() {
		close(s.stop)
		<-s.loopDone
		s.mu.Lock()
		s.closing = true
		for _, c := range s.conns {
			c.shutdown(websocketGoingAway, "fakefcm shutting down")
		}
		s.mu.Unlock()
		s.handlers.Wait()
	})
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Google's FCM APIs.
	mux.Handle("/v1/projects/{project}/messages:send", methods{http.MethodPost: s.handleV1Send})
	mux.Handle("/v1", methods{http.MethodPost: s.handleBatch})
	mux.Handle("/batch", methods{http.MethodPost: s.handleBatch})
	mux.Handle("/token", methods{http.MethodPost: s.auth.handleToken})
	mux.Handle("/fcm/send", methods{http.MethodPost: s.handleLegacySend})
	// The control API.
	mux.Handle("/fakefcm/v1/projects", methods{http.MethodPost: s.handleCreateProject, http.MethodGet: s.handleListProjects})
	mux.Handle("/fakefcm/v1/devices", methods{http.MethodPost: s.handleRegisterDevice})
	mux.Handle("/fakefcm/v1/devices/{device}", methods{
		http.MethodGet:    s.handleGetDevice,
		http.MethodDelete: s.handleUninstall,
		http.MethodPost:   s.handleDeviceVerb,
	})
	mux.Handle("/fakefcm/v1/devices/{token}/connect", methods{http.MethodGet: s.handleConnect})
	mux.Handle("/fakefcm/v1/messages", methods{http.MethodGet: s.handleMessages})
	mux.Handle("/fakefcm/v1/faults", methods{http.MethodGet: s.handleGetFaults, http.MethodPut: s.handleSetFaults, http.MethodPost: s.handleAddFaults, http.MethodDelete: s.handleClearFaults})
	mux.Handle("/fakefcm/v1/behaviour", methods{http.MethodGet: s.handleGetBehaviour, http.MethodPut: s.handleSetBehaviour})
	mux.Handle("/healthz", methods{http.MethodGet: func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }})
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("No such path: %s %s. See the fakefcm section of the README for the paths fakefcm serves.", r.Method, r.URL.Path))
	})
	return http.MaxBytesHandler(mux, s.cfg.MaxBodyBytes)
}

// methods routes a path by HTTP method and answers other methods as Google's APIs do.
type methods map[string]http.HandlerFunc

func (m methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := m[r.Method]; ok {
		h(w, r)
		return
	}
	allowed := make([]string, 0, len(m))
	for method := range m {
		allowed = append(allowed, method)
	}
	slices.Sort(allowed)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeStatus(w, http.StatusMethodNotAllowed, "UNIMPLEMENTED", fmt.Sprintf("Method %s is not allowed on %s; use %s.", r.Method, r.URL.Path, strings.Join(allowed, " or ")))
}

// step runs fn on the core under the lock at the current time, then hands the core's deliveries
// to the device channels (still under the lock, so that each channel sees them in order) and
// nudges the driver loop if fn brought the core's next wake-up forward.
func (s *Server) step(fn func(now time.Time)) {
	s.mu.Lock()
	fn(s.clock())
	s.deliver(s.core.TakeOutbox())
	at, ok := s.core.NextWake()
	nudge := ok && (s.loopAt.IsZero() || at.Before(s.loopAt))
	s.mu.Unlock()
	if !nudge {
		return // the loop already waits for a wake-up at or before the core's next one
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop calls the core's Tick whenever its next wake-up comes due.
func (s *Server) loop() {
	defer close(s.loopDone)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		at, ok := s.core.NextWake()
		s.loopAt = time.Time{}
		if ok {
			s.loopAt = at
		}
		s.mu.Unlock()
		wait := time.Hour
		if ok {
			wait = max(at.Sub(s.clock()), 0)
		}
		timer.Reset(wait)
		select {
		case <-s.stop:
			return
		case <-s.wake:
			// Re-read the next wake-up; the timer is reset above.
		case <-timer.C:
			s.step(func(now time.Time) { s.core.Tick(now) })
		}
	}
}

// readBody reads a request body within the size limit, answering the error itself.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		writeBodyError(w, err, "request")
		return nil, false
	}
	return b, true
}

// writeBodyError answers a body that could not be read: 413 over the size limit, else 400.
// what names the body ("request", "batch").
func writeBodyError(w http.ResponseWriter, err error, what string) {
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
		writeStatus(w, http.StatusRequestEntityTooLarge, "INVALID_ARGUMENT", fmt.Sprintf("Request payload size exceeds the limit: %d bytes.", tooBig.Limit))
		return
	}
	writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Could not read the "+what+" body: "+err.Error())
}

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, "INTERNAL", "encode answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeStatus answers a google.rpc.Status error without an FcmError detail.
func writeStatus(w http.ResponseWriter, status int, rpcStatus, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(fakefcm.PlainStatusBody(status, rpcStatus, msg))
}

// hold waits out a fault's answer latency. If the server shuts down meanwhile it answers 503
// itself and reports false; if the client went away it reports false with nothing to answer.
func (s *Server) hold(w http.ResponseWriter, r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.stop:
		writeStatus(w, http.StatusServiceUnavailable, "UNAVAILABLE", "fakefcm is shutting down.")
		return false
	}
}

// retryAfterHeader renders a Retry-After in whole seconds, rounded up so that a sub-second wait
// is not announced as none.
func retryAfterHeader(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}
