package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
)

// CreateProject creates a project with its credentials: a legacy server key and a service
// account whose token_uri points at this server. The answer holds secrets; it is never logged.
func (s *Server) CreateProject(req control.CreateProjectRequest) (control.ProjectCredentials, error) {
	var p fakefcm.Project
	var err error
	s.step(func(time.Time) {
		p, err = s.core.CreateProject(fakefcm.ProjectSpec{ID: req.ProjectID, SenderID: req.SenderID, PackageNames: req.PackageNames})
	})
	if err != nil {
		return control.ProjectCredentials{}, err
	}
	sa, email, err := s.auth.issue(p.ID)
	if err != nil {
		return control.ProjectCredentials{}, fmt.Errorf("project %s: %w", p.ID, err)
	}
	s.log.Info("project created", "project", p.ID, "senderId", p.SenderID, "clientEmail", email, "packages", p.PackageNames)
	return control.ProjectCredentials{ProjectID: p.ID, SenderID: p.SenderID, ServerKey: p.ServerKey, ServiceAccount: sa}, nil
}

// decodeJSON reads a control request body into v, answering the error itself.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := readBody(w, r)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received: "+err.Error())
		return false
	}
	return true
}

// writeControlError answers a core control error with the status that fits it.
func writeControlError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, fakefcm.ErrExists):
		writeStatus(w, http.StatusConflict, "ALREADY_EXISTS", err.Error())
	case errors.Is(err, fakefcm.ErrUnknownProject), errors.Is(err, fakefcm.ErrUnknownToken):
		writeStatus(w, http.StatusNotFound, "NOT_FOUND", err.Error())
	case errors.Is(err, fakefcm.ErrUnknownSender), errors.Is(err, fakefcm.ErrPackageNotListed), errors.Is(err, fakefcm.ErrInvalid):
		writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error())
	default:
		writeStatus(w, http.StatusInternalServerError, "INTERNAL", err.Error())
	}
}

func (s *Server) handleCreateProject(w http.ResponseWriter, r *http.Request) {
	var req control.CreateProjectRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	creds, err := s.CreateProject(req)
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, creds)
}

func (s *Server) handleListProjects(w http.ResponseWriter, _ *http.Request) {
	var ps []fakefcm.Project
	s.view(func() { ps = s.core.Projects() })
	out := control.ProjectList{Projects: []control.ProjectSummary{}}
	for _, p := range ps {
		out.Projects = append(out.Projects, control.ProjectSummary{
			ProjectID: p.ID, SenderID: p.SenderID, PackageNames: p.PackageNames, ClientEmail: s.auth.email(p.ID),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleRegisterDevice(w http.ResponseWriter, r *http.Request) {
	var req control.RegisterDeviceRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	var token string
	var err error
	s.step(func(now time.Time) {
		token, err = s.core.RegisterDevice(now, fakefcm.DeviceSpec{SenderID: req.SenderID, PackageName: req.PackageName})
	})
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, control.TokenResponse{Token: token})
}

func (s *Server) handleGetDevice(w http.ResponseWriter, r *http.Request) {
	var info fakefcm.DeviceInfo
	var ok bool
	s.view(func() { info, ok = s.core.Device(r.PathValue("device")) })
	if !ok {
		writeStatus(w, http.StatusNotFound, "NOT_FOUND", "fakefcm issued no such token.")
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) handleUninstall(w http.ResponseWriter, r *http.Request) {
	var err error
	s.step(func(now time.Time) { err = s.core.Uninstall(now, r.PathValue("device")) })
	if err != nil {
		writeControlError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleDeviceVerb serves POST /fakefcm/v1/devices/{token}:forceStop and :refresh. Tokens contain
// colons themselves, so the verb is what follows the last one.
func (s *Server) handleDeviceVerb(w http.ResponseWriter, r *http.Request) {
	seg := r.PathValue("device")
	i := strings.LastIndexByte(seg, ':')
	if i < 0 {
		writeStatus(w, http.StatusNotFound, "NOT_FOUND", "POST needs a verb: /fakefcm/v1/devices/{token}:forceStop or :refresh.")
		return
	}
	token, verb := seg[:i], seg[i+1:]
	switch verb {
	case "forceStop":
		var err error
		s.step(func(now time.Time) { err = s.core.ForceStop(now, token) })
		if err != nil {
			writeControlError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case "refresh":
		var fresh string
		var err error
		s.step(func(now time.Time) { fresh, err = s.core.RefreshToken(now, token) })
		if err != nil {
			writeControlError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, control.TokenResponse{Token: fresh})
	default:
		writeStatus(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("Unknown device verb %q: use :forceStop or :refresh.", verb))
	}
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := fakefcm.RecordFilter{Token: q.Get("token"), Project: q.Get("project")}
	if a := q.Get("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 {
			writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("after=%q: expected a record sequence number (0 or more).", a))
			return
		}
		f.After = n
	}
	var recs []fakefcm.Record
	s.view(func() { recs = s.core.Records(f) })
	if recs == nil {
		recs = []fakefcm.Record{}
	}
	writeJSON(w, http.StatusOK, control.MessageList{Messages: recs})
}

func (s *Server) handleGetFaults(w http.ResponseWriter, _ *http.Request) {
	var rules []fakefcm.FaultRule
	s.view(func() { rules = s.core.Faults() })
	writeJSON(w, http.StatusOK, control.FaultRules{Rules: rules})
}

// handleSetFaults serves PUT /fakefcm/v1/faults: the rules replace those in force.
func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	s.changeFaults(w, r, (*fakefcm.Core).SetFaults, "fault rules set")
}

// handleAddFaults serves POST /fakefcm/v1/faults: the rules are added after those in force,
// whose match counts go on (PUT replaces them all and starts every count afresh).
func (s *Server) handleAddFaults(w http.ResponseWriter, r *http.Request) {
	s.changeFaults(w, r, (*fakefcm.Core).AddFaults, "fault rules added")
}

// changeFaults applies the body's rules with change and answers the rules now in force.
func (s *Server) changeFaults(w http.ResponseWriter, r *http.Request, change func(*fakefcm.Core, []fakefcm.FaultRule) error, done string) {
	var req control.FaultRules
	if !decodeJSON(w, r, &req) {
		return
	}
	var err error
	s.step(func(time.Time) { err = change(s.core, req.Rules) })
	if err != nil {
		writeControlError(w, err)
		return
	}
	s.log.Info(done, "rules", len(req.Rules))
	s.handleGetFaults(w, r)
}

func (s *Server) handleClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.step(func(time.Time) { _ = s.core.SetFaults(nil) })
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleGetBehaviour(w http.ResponseWriter, _ *http.Request) {
	var b fakefcm.Behaviour
	s.view(func() { b = s.core.Behaviour() })
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) handleSetBehaviour(w http.ResponseWriter, r *http.Request) {
	var b fakefcm.Behaviour
	if !decodeJSON(w, r, &b) {
		return
	}
	var err error
	s.step(func(time.Time) { err = s.core.SetBehaviour(b) })
	if err != nil {
		writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error())
		return
	}
	s.handleGetBehaviour(w, r)
}

// view runs fn under the lock, for reads of the core.
func (s *Server) view(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}
