package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/cluster"
)

// adminRoutes registers the admin API. Every path needs Authorization: Bearer <admin key>.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	h := func(pattern string, scope adminScope, fn func(http.ResponseWriter, *http.Request)) {
		mux.Handle(pattern, s.adminAuth(http.MaxBytesHandler(s.routed(scope, http.HandlerFunc(fn)), s.cfg.MaxBodyBytes)))
	}
	h("GET /admin/v1/settings", scopeLocal, s.settings)
	h("GET /admin/v1/cluster", scopeLocal, s.clusterInfo)
	h("GET /admin/v1/apps", scopeCatalogRead, s.listApps)
	h("POST /admin/v1/apps", scopeCatalog, s.createApp)
	h("GET /admin/v1/apps/{app}", scopeCatalogRead, s.getApp)
	h("PUT /admin/v1/apps/{app}", scopeCatalog, s.updateApp)
	h("DELETE /admin/v1/apps/{app}", scopeCatalog, s.deleteApp)
	h("GET /admin/v1/apps/{app}/certificates", scopeCatalogRead, s.listCertificates)
	h("POST /admin/v1/apps/{app}/certificates", scopeCatalog, s.createCertificate)
	h("GET /admin/v1/apps/{app}/certificates/{cert}", scopeCatalogRead, s.getCertificate)
	h("PUT /admin/v1/apps/{app}/certificates/{cert}", scopeCatalog, s.updateCertificate)
	h("DELETE /admin/v1/apps/{app}/certificates/{cert}", scopeCatalog, s.deleteCertificate)
	h("POST /admin/v1/apps/{app}/certificates/{cert}", scopeCatalog, s.certificateAction)
	h("GET /admin/v1/apps/{app}/users/{user}", scopeUser, s.getUser)
	h("POST /admin/v1/apps/{app}/users/{user}/kick", scopeUser, s.kickUser)
	h("GET /admin/v1/apps/{app}/users/{user}/pushSettings", scopeUser, s.getPushSettings)
	h("PUT /admin/v1/apps/{app}/users/{user}/pushSettings", scopeUser, s.putPushSettings)
	h("GET /admin/v1/apps/{app}/users/{user}/profile", scopeUser, s.getProfile)
	h("PUT /admin/v1/apps/{app}/users/{user}/profile", scopeUser, s.putProfile)
	h("POST /admin/v1/apps/{app}/users/{user}/devices/{device}", scopeUser, s.deviceAction)
	h("POST /admin/v1/apps/{app}/messages", scopeSender, s.sendMessage)
	h("PUT /admin/v1/apps/{app}/groups/{group}", scopeCatalog, s.putGroup)
	h("GET /admin/v1/apps/{app}/push-trace", scopeLocal, s.pushTrace)
	mux.Handle("/admin/", s.adminAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no admin path %s %s; see the README's admin API table", r.Method, r.URL.Path))
	})))
}

// adminAuth checks the bearer key in constant time.
func (s *Server) adminAuth(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.cfg.AdminKey.Reveal())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if forwarded(r) {
			next.ServeHTTP(w, r) // checked by the node it came to
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pushlab relay admin"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong admin key: send Authorization: Bearer <admin key>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// errorBody is the admin API's error answer.
type errorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = status, msg
	writeJSON(w, status, b)
}

// writeUnavailable answers 503 with code 5002 (relay.CodeUnavailable): the cluster node that
// holds what the call needs is not known right now (a partition is moving); retry shortly.
func writeUnavailable(w http.ResponseWriter, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = int(relay.CodeUnavailable), "unavailable, retry: "+msg
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":500,"message":"encode answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeCoreError answers an error of a core operation with the status that fits it.
func writeCoreError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, relay.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, relay.ErrExists), errors.Is(err, relay.ErrNoBinding):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, relay.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, cluster.ErrNotOwner), errors.Is(err, cluster.ErrUnavailable):
		writeUnavailable(w, err.Error())
	case errors.Is(err, errStopped), errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// decode reads a strict JSON body into v, answering the error itself.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeBody(w, r, v, false)
}

// decodeOptional is decode for a body that may be left out (empty, of any transfer encoding).
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeBody(w, r, v, true)
}

// readBody reads a request's body, answering 413 (over the size limit) or 400 when it cannot.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", tooBig.Limit))
		} else {
			writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		}
		return nil, false
	}
	return body, true
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	body, ok := readBody(w, r)
	if !ok {
		return false
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// pathApp reads the {app} path value.
func pathApp(w http.ResponseWriter, r *http.Request) (uint64, bool) {
	id, err := strconv.ParseUint(r.PathValue("app"), 10, 64)
	if err != nil || id == 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("sdkAppId %q: expected a positive number", r.PathValue("app")))
		return 0, false
	}
	return id, true
}

// runOnUser is run for a call about the user its path names (…/apps/{app}/users/{user}/…): fn
// is given the app, the user and the core that holds the user's partition (the node's only core
// outside a cluster), and the call fails as run's do when this node holds no core for it.
func (s *Server) runOnUser(w http.ResponseWriter, r *http.Request, fn func(now time.Time, c *relay.Core, app uint64, user string) (any, error)) {
	app, ok := pathApp(w, r)
	if !ok {
		return
	}
	user := r.PathValue("user")
	s.run(w, r, http.StatusOK, func(now time.Time) (any, error) {
		c, err := s.coreOf(s.partitionOf(app, user))
		if err != nil {
			return nil, err
		}
		return fn(now, c, app, user)
	})
}

// run calls an admin operation on the core and answers its result.
func (s *Server) run(w http.ResponseWriter, r *http.Request, status int, fn func(now time.Time) (any, error)) {
	v, err := s.call(r.Context(), fn)
	if err != nil {
		writeCoreError(w, err)
		return
	}
	if v == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, status, v)
}

// settings answers the rules the relay runs with (its core config, defaults filled in), so that a
// client that needs other rules can say so before it relies on them. The seed is left out.
func (s *Server) settings(w http.ResponseWriter, _ *http.Request) {
	cfg := s.cfg.Core.Effective()
	cfg.Seed = 0
	writeJSON(w, http.StatusOK, cfg)
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	s.run(w, r, http.StatusOK, func(time.Time) (any, error) {
		c, err := s.coreOf(anyPartition)
		if err != nil {
			return nil, err
		}
		return map[string]any{"apps": c.Apps()}, nil
	})
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) {
	var cfg relay.AppConfig
	if !decode(w, r, &cfg) {
		return
	}
	s.run(w, r, http.StatusCreated, func(now time.Time) (any, error) { return s.putApp(now, cfg, true) })
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	id, ok := pathApp(w, r)
	if !ok {
		return
	}
	s.run(w, r, http.StatusOK, func(time.Time) (any, error) {
		c, err := s.coreOf(anyPartition)
		if err != nil {
			return nil, err
		}
		v, ok := c.App(id)
		if !ok {
			return nil, fmt.Errorf("%w: app %d", relay.ErrNotFound, id)
		}
		return v, nil
	})
}

func (s *Server) updateApp(w http.ResponseWriter, r *http.Request) {
	id, ok := pathApp(w, r)
	if !ok {
		return
	}
	var cfg relay.AppConfig
	if !decode(w, r, &cfg) {
		return
	}
	if cfg.SDKAppID != 0 && cfg.SDKAppID != id {
		writeError(w, http.StatusBadRequest, "sdkAppId in the body differs from the path")
		return
	}
	cfg.SDKAppID = id
	s.run(w, r, http.StatusOK, func(now time.Time) (any, error) { return s.putApp(now, cfg, false) })
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) {
	id, ok := pathApp(w, r)
	if !ok {
		return
	}
	s.run(w, r, 0, func(now time.Time) (any, error) {
		_, err := s.applyCatalog(now, relay.Input{Kind: relay.InputDeleteApp, App: id})
		return nil, err
	})
}

// certificateBody is a certificate as the admin API takes it: the service account may be given
// as a JSON object (the downloaded key file) or as a string holding it.
type certificateBody struct {
	ID             int64           `json:"id"`
	Platform       string          `json:"platform"`
	PackageName    string          `json:"packageName"`
	SenderID       string          `json:"senderId"`
	ServiceAccount json.RawMessage `json:"serviceAccount"`
	ServerKey      string          `json:"serverKey"`
	Endpoint       string          `json:"endpoint"`
	ChannelID      string          `json:"channelId"`
}

func (b certificateBody) certificate(app uint64) (relay.Certificate, error) {
	c := relay.Certificate{ID: b.ID, SDKAppID: app, Platform: b.Platform, PackageName: b.PackageName,
		SenderID: b.SenderID, ServerKey: secret.New(b.ServerKey), Endpoint: b.Endpoint, ChannelID: b.ChannelID}
	if c.Platform == "" {
		c.Platform = "google"
	}
	raw := bytes.TrimSpace(b.ServiceAccount)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return c, fmt.Errorf("%w: serviceAccount: %v", relay.ErrInvalid, err)
		}
		c.ServiceAccount = secret.New(s)
	case raw[0] == '{':
		c.ServiceAccount = secret.New(string(raw))
	default:
		return c, fmt.Errorf("%w: serviceAccount: give the key file's JSON object, or a string holding it", relay.ErrInvalid)
	}
	return c, nil
}

func (s *Server) listCertificates(w http.ResponseWriter, r *http.Request) {
	id, ok := pathApp(w, r)
	if !ok {
		return
	}
	s.run(w, r, http.StatusOK, func(time.Time) (any, error) {
		c, err := s.coreOf(anyPartition)
		if err != nil {
			return nil, err
		}
		if _, ok := c.App(id); !ok {
			return nil, fmt.Errorf("%w: app %d", relay.ErrNotFound, id)
		}
		certs := c.Certificates(id)
		if certs == nil {
			certs = []relay.CertificateView{}
		}
		return map[string]any{"certificates": certs}, nil
	})
}

func (s *Server) createCertificate(w http.ResponseWriter, r *http.Request) {
	app, ok := pathApp(w, r)
	if !ok {
		return
	}
	var body certificateBody
	if !decode(w, r, &body) {
		return
	}
	cert, err := body.certificate(app)
	if err != nil {
		writeCoreError(w, err)
		return
	}
	s.putAndCheck(w, r, http.StatusCreated, func(now time.Time) (any, error) { return s.putCertificate(now, cert, true) })
}

// putAndCheck stores a certificate, then checks its credentials (see checkCertificate) and
// answers the certificate with the check's verdict.
func (s *Server) putAndCheck(w http.ResponseWriter, r *http.Request, status int, put func(now time.Time) (any, error)) {
	v, err := s.call(r.Context(), put)
	if err != nil {
		writeCoreError(w, err)
		return
	}
	view := v.(relay.CertificateView)
	checked, err := s.checkCertificate(r.Context(), view.SDKAppID, view.ID)
	if err == nil {
		view = checked
	}
	writeJSON(w, status, view)
}

// certificateAction serves POST …/certificates/{cert}:ACTION; the one action is check.
func (s *Server) certificateAction(w http.ResponseWriter, r *http.Request) {
	app, ok := pathApp(w, r)
	if !ok {
		return
	}
	idText, action, found := strings.Cut(r.PathValue("cert"), ":")
	if !found || action != "check" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no admin path POST %s: certificates take POST …/certificates/{id}:check", r.URL.Path))
		return
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("certificate ID %q: expected a positive number", idText))
		return
	}
	s.checkCertificateHandler(w, r, app, id)
}

// pathCert reads the {cert} path value.
func pathCert(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("cert"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("certificate ID %q: expected a positive number", r.PathValue("cert")))
		return 0, false
	}
	return id, true
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request) {
	app, ok := pathApp(w, r)
	if !ok {
		return
	}
	id, ok := pathCert(w, r)
	if !ok {
		return
	}
	s.run(w, r, http.StatusOK, func(time.Time) (any, error) {
		c, err := s.coreOf(anyPartition)
		if err != nil {
			return nil, err
		}
		cert, ok := c.Certificate(id)
		if !ok || cert.SDKAppID != app {
			return nil, fmt.Errorf("%w: certificate %d in app %d", relay.ErrNotFound, id, app)
		}
		return cert.View(), nil
	})
}

func (s *Server) updateCertificate(w http.ResponseWriter, r *http.Request) {
	app, ok := pathApp(w, r)
	if !ok {
		return
	}
	id, ok := pathCert(w, r)
	if !ok {
		return
	}
	var body certificateBody
	if !decode(w, r, &body) {
		return
	}
	if body.ID != 0 && body.ID != id {
		writeError(w, http.StatusBadRequest, "id in the body differs from the path")
		return
	}
	body.ID = id
	cert, err := body.certificate(app)
	if err != nil {
		writeCoreError(w, err)
		return
	}
	s.putAndCheck(w, r, http.StatusOK, func(now time.Time) (any, error) { return s.putCertificate(now, cert, false) })
}

func (s *Server) deleteCertificate(w http.ResponseWriter, r *http.Request) {
	app, ok := pathApp(w, r)
	if !ok {
		return
	}
	id, ok := pathCert(w, r)
	if !ok {
		return
	}
	s.run(w, r, 0, func(now time.Time) (any, error) {
		_, err := s.applyCatalog(now, relay.Input{Kind: relay.InputDeleteCertificate, App: app, CertID: id})
		return nil, err
	})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	s.runOnUser(w, r, func(now time.Time, c *relay.Core, app uint64, user string) (any, error) {
		v, ok := c.UserAt(now, app, user)
		if !ok {
			return nil, fmt.Errorf("%w: user %q in app %d", relay.ErrNotFound, user, app)
		}
		return v, nil
	})
}

func (s *Server) kickUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	if !decodeOptional(w, r, &body) {
		return
	}
	s.runOnUser(w, r, func(now time.Time, c *relay.Core, app uint64, user string) (any, error) {
		s.tapInput(now, relay.Input{Kind: relay.InputKick, App: app, User: user, Reason: body.Reason})
		n, err := c.Kick(now, app, user, body.Reason)
		return map[string]int{"kicked": n}, err
	})
}

// getPushSettings answers a user's push settings: {"enabled": true} for a user the relay has
// not heard of.
func (s *Server) getPushSettings(w http.ResponseWriter, r *http.Request) {
	s.runOnUser(w, r, func(_ time.Time, c *relay.Core, app uint64, user string) (any, error) {
		return c.PushSettings(app, user)
	})
}

// putPushSettings sets a user's push settings, {"enabled": bool}, and answers them.
func (s *Server) putPushSettings(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.Enabled == nil {
		writeError(w, http.StatusBadRequest, `enabled is required: send {"enabled": false} to turn the user's pushes off, {"enabled": true} to turn them on`)
		return
	}
	settings := relay.PushSettings{Enabled: *body.Enabled}
	s.runOnUser(w, r, func(now time.Time, c *relay.Core, app uint64, user string) (any, error) {
		s.tapInput(now, relay.Input{Kind: relay.InputSetPushSettings, App: app, User: user, PushSettings: settings})
		return c.SetPushSettings(now, app, user, settings)
	})
}

// getProfile serves a user's profile; 404 when the user has none.
func (s *Server) getProfile(w http.ResponseWriter, r *http.Request) {
	s.runOnUser(w, r, func(_ time.Time, c *relay.Core, app uint64, user string) (any, error) {
		return c.Profile(app, user)
	})
}

// putProfile sets a user's profile: {"nickname": "…"}; an empty nickname removes it.
func (s *Server) putProfile(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Nickname *string `json:"nickname"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.Nickname == nil {
		writeError(w, http.StatusBadRequest, `"nickname" is required: the name the user's messages are titled with ("" removes it)`)
		return
	}
	s.runOnUser(w, r, func(now time.Time, c *relay.Core, app uint64, user string) (any, error) {
		p := relay.Profile{SDKAppID: app, UserID: user, Nickname: *body.Nickname}
		s.tapInput(now, relay.Input{Kind: relay.InputPutProfile, Profile: p})
		return c.SetProfile(now, p)
	})
}

// deviceAction serves POST …/devices/{device}:ACTION; the one action is test-push.
func (s *Server) deviceAction(w http.ResponseWriter, r *http.Request) {
	app, ok := pathApp(w, r)
	if !ok {
		return
	}
	// Device IDs may hold ':' themselves: the action is what follows the last one.
	i := strings.LastIndexByte(r.PathValue("device"), ':')
	dev, action, found := r.PathValue("device"), "", i >= 0
	if found {
		dev, action = dev[:i], dev[i+1:]
	}
	if !found || action != "test-push" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no admin path POST %s: devices take POST …/devices/{device}:test-push", r.URL.Path))
		return
	}
	var body struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	}
	if !decodeOptional(w, r, &body) {
		return
	}
	s.testPush(w, r, relay.DeviceKey{SDKAppID: app, UserID: r.PathValue("user"), DeviceID: dev}, body.Title, body.Body)
}

// testPush has the core send a test push, then waits for FCM's answer to it (never on the
// loop: the answer reaches a waiter keyed by the push's ID once the core has taken it in and
// its records are stored) and answers it; 504 if it does not come within TestPushWait.
func (s *Server) testPush(w http.ResponseWriter, r *http.Request, dev relay.DeviceKey, title, body string) {
	var answer chan relay.TraceEntry
	v, err := s.call(r.Context(), func(now time.Time) (any, error) {
		c, err := s.coreOf(s.partitionOf(dev.SDKAppID, dev.UserID))
		if err != nil {
			return nil, err
		}
		s.tapInput(now, relay.Input{Kind: relay.InputTestPush, App: dev.SDKAppID, User: dev.UserID, Device: dev.DeviceID, Title: title, Body: body})
		p, err := c.TestPush(now, dev, title, body)
		if err == nil {
			answer = s.testPushes.wait(p.ID) // before the loop hands the push out
		}
		return p, err
	})
	if err != nil {
		writeCoreError(w, err)
		return
	}
	p := v.(relay.Push)
	defer s.testPushes.forget(p.ID)
	timer := time.NewTimer(s.cfg.TestPushWait)
	defer timer.Stop()
	select {
	case res := <-answer:
		writeJSON(w, http.StatusOK, relay.TestPushOutcome(p, res))
	case <-timer.C:
		writeError(w, http.StatusGatewayTimeout, fmt.Sprintf("push %d: no answer from FCM within %v; its outcome will be in the push trace", p.ID, s.cfg.TestPushWait))
	case <-r.Context().Done():
		writeCoreError(w, r.Context().Err())
	case <-s.loopDone:
		writeCoreError(w, errStopped)
	}
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request) {
	app, ok := pathApp(w, r)
	if !ok {
		return
	}
	var req relay.SendRequest
	if !decode(w, r, &req) {
		return
	}
	var done chan relay.SendDone
	v, err := s.call(r.Context(), func(now time.Time) (any, error) {
		c, err := s.coreOf(s.partitionOf(app, senderOf(req)))
		if err != nil {
			return nil, err
		}
		id, pending, err := c.AdminSendAsync(now, app, req)
		if err == nil && pending {
			done = s.adminSends.wait(id) // before the loop hands the other partitions' answers in
		}
		return id, err
	})
	if err != nil {
		writeCoreError(w, err)
		return
	}
	id := v.(string)
	if done != nil {
		// The message waits for the other partitions holding its recipients.
		defer s.adminSends.forget(id)
		select {
		case d := <-done:
			if d.Code == relay.CodeUnavailable {
				writeUnavailable(w, d.Desc)
				return
			}
			if d.Code != relay.OK {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%d: %s", d.Code, d.Desc))
				return
			}
		case <-r.Context().Done():
			writeCoreError(w, r.Context().Err())
			return
		case <-s.loopDone:
			writeCoreError(w, errStopped)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"msgId": id})
}

// senderOf is who an admin send is from: its From, or the administrator's name the core gives it.
func senderOf(req relay.SendRequest) string {
	if req.From == "" {
		return "administrator"
	}
	return req.From
}

func (s *Server) putGroup(w http.ResponseWriter, r *http.Request) {
	app, ok := pathApp(w, r)
	if !ok {
		return
	}
	var body struct {
		Members []string `json:"members"`
		Name    string   `json:"name"`
	}
	if !decode(w, r, &body) {
		return
	}
	g := relay.Group{SDKAppID: app, ID: r.PathValue("group"), Members: body.Members, Name: body.Name}
	s.run(w, r, http.StatusOK, func(now time.Time) (any, error) {
		if _, err := s.applyCatalog(now, relay.Input{Kind: relay.InputPutGroup, Group: g}); err != nil {
			return nil, err
		}
		// The group as the core stored it: its members sorted, each once.
		g.Members = slices.Compact(slices.Sorted(slices.Values(g.Members)))
		return g, nil
	})
}

// maxTraceLimit bounds one push-trace answer.
const maxTraceLimit = 10000

// pushTrace serves GET …/push-trace?userId=&deviceId=&certificateId=&msgId=&from=&to=&limit=&pageToken=
// from the store's durable trace: the newest limit matching entries (default 1000), oldest
// first, and "next", when there are older ones, the pageToken of the page before. from and to
// are RFC 3339 times or Unix milliseconds. The query goes to the store directly, not through
// the loop: entries are there once the batch that made them is committed.
func (s *Server) pushTrace(w http.ResponseWriter, r *http.Request) {
	app, ok := pathApp(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	tq := relay.TraceQuery{SDKAppID: app, UserID: q.Get("userId"), DeviceID: q.Get("deviceId"), MsgID: q.Get("msgId")}
	var err error
	if v := q.Get("certificateId"); v != "" {
		if tq.CertificateID, err = strconv.ParseInt(v, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("certificateId %q: expected a number", v))
			return
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &tq.From}, {"to", &tq.To}} {
		if v := q.Get(p.name); v != "" {
			if *p.dst, err = parseTime(v); err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s %q: expected an RFC 3339 time (2026-03-01T09:00:00Z) or Unix milliseconds", p.name, v))
				return
			}
		}
	}
	if v := q.Get("limit"); v != "" {
		if tq.Limit, err = strconv.Atoi(v); err != nil || tq.Limit < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: expected a number", v))
			return
		}
	}
	if tq.Limit == 0 {
		tq.Limit = 1000
	}
	if tq.Limit > maxTraceLimit {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %d: at most %d entries per page; follow the answer's next with pageToken=", tq.Limit, maxTraceLimit))
		return
	}
	if v := q.Get("pageToken"); v != "" {
		if tq.Before, err = parsePageToken(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("pageToken %q: not a token this relay gave (pass an answer's next as it is)", v))
			return
		}
	}
	page, err := s.cfg.Store.QueryTrace(r.Context(), tq)
	if err != nil {
		s.log.Error("push trace query failed", "err", err)
		writeError(w, http.StatusInternalServerError, "the push trace could not be read: "+err.Error())
		return
	}
	ans := traceAnswer{Entries: page.Entries}
	if ans.Entries == nil {
		ans.Entries = []relay.TraceEntry{}
	}
	if !page.Next.IsZero() {
		ans.Next = pageToken(page.Next)
	}
	writeJSON(w, http.StatusOK, ans)
}

// traceAnswer is the push-trace endpoint's answer.
type traceAnswer struct {
	Entries []relay.TraceEntry `json:"entries"`
	// Next, when there are older entries, is the pageToken of the page before this one.
	Next string `json:"next,omitempty"`
}

// pageToken writes a trace cursor as a page token: the cursor's time in Unix nanoseconds and
// its seq. Clients pass it back as it is.
func pageToken(c relay.TraceCursor) string {
	return strconv.FormatInt(c.Time.UnixNano(), 10) + "." + strconv.FormatUint(c.Seq, 10)
}

func parsePageToken(v string) (relay.TraceCursor, error) {
	ns, seq, ok := strings.Cut(v, ".")
	if !ok {
		return relay.TraceCursor{}, errors.New("no seq")
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return relay.TraceCursor{}, fmt.Errorf("time: %w", err)
	}
	sq, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return relay.TraceCursor{}, fmt.Errorf("seq: %w", err)
	}
	return relay.TraceCursor{Time: time.Unix(0, n).UTC(), Seq: sq}, nil
}

func parseTime(v string) (time.Time, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	return time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
}
