package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
)

// maxBatchParts is the most sub-requests one batch may carry, as the Admin SDK and Google allow.
const maxBatchParts = 500

// v1Answer is the answer to one HTTP v1 send: what to write, and how long to hold it back. Every
// answer is JSON (v1ContentType); retryAfter is its Retry-After header, if any.
type v1Answer struct {
	status     int
	retryAfter string
	body       []byte
	delay      time.Duration
	outcome    string // for metrics and logs: "ok" or the error code
}

// v1ContentType is the Content-Type of every HTTP v1 answer.
const v1ContentType = "application/json; charset=UTF-8"

// handleV1Send serves POST /v1/projects/{project}/messages:send.
func (s *Server) handleV1Send(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	a := s.sendV1(r.Header.Get("Authorization"), r.PathValue("project"), body)
	if !s.hold(w, r, a.delay) {
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{v1ContentType}
	if a.retryAfter != "" {
		h["Retry-After"] = []string{a.retryAfter}
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// sendV1 authenticates, decodes and sends one HTTP v1 request.
func (s *Server) sendV1(authHeader, projectID string, body []byte) v1Answer {
	plain := func(status int, rpcStatus, msg string) v1Answer {
		return v1Answer{status: status, body: fakefcm.PlainStatusBody(status, rpcStatus, msg), outcome: rpcStatus}
	}
	authed, aerr := s.auth.checkBearer(authHeader)
	if aerr != nil {
		return plain(aerr.status, aerr.rpcStatus, aerr.msg)
	}
	if authed != projectID {
		return plain(http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/%s' (or it may not exist).", projectID))
	}
	sr := fakefcm.SendRequest{API: fakefcm.APIV1, Project: projectID}
	if req, derr := fakefcm.DecodeV1Request(body); derr != nil {
		sr.Invalid = derr
	} else {
		sr.Message, sr.ValidateOnly = req.Message, req.ValidateOnly
	}
	var res fakefcm.SendResult
	s.step(func(now time.Time) { res = s.core.Send(now, sr) })
	if res.Err != nil {
		a := v1Answer{status: res.Err.Code.HTTPStatus(), body: res.Err.V1Body(), delay: res.Delay, outcome: string(res.Err.Code)}
		if res.Err.RetryAfter > 0 {
			a.retryAfter = retryAfterHeader(res.Err.RetryAfter)
		}
		return a
	}
	b, _ := json.Marshal(fakefcm.V1Response{Name: res.Name})
	return v1Answer{status: http.StatusOK, body: b, delay: res.Delay, outcome: "ok"}
}

var batchPartPath = regexp.MustCompile(`^/v1/projects/([^/]+)/messages:send$`)

// handleBatch serves the multipart/mixed batch the Admin SDK's SendAll and SendMulticast post
// to the endpoint itself: each part is an HTTP request, answered by a part with its response.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/mixed" || params["boundary"] == "" {
		writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", "A batch request must be multipart/mixed with a boundary, each part an HTTP request (Content-Type: application/http).")
		return
	}
	// Read and check every part before sending any, so that a batch refused as a whole sends
	// nothing (a sender retries it whole).
	mr := multipart.NewReader(r.Body, params["boundary"])
	var parts []batchPart
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeBodyError(w, err, "batch") // over the limit: 413, as for any other body
			return
		}
		if len(parts) == maxBatchParts {
			writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("A batch may carry at most %d requests.", maxBatchParts))
			return
		}
		parts = append(parts, s.readBatchPart(r, part))
	}
	if len(parts) == 0 {
		writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", "The batch request has no parts.")
		return
	}
	answers := make([]v1Answer, len(parts))
	for i, p := range parts {
		if p.bad != nil {
			answers[i] = *p.bad
		} else {
			answers[i] = s.sendV1(p.auth, p.project, p.body)
		}
	}
	var delay time.Duration
	for _, a := range answers {
		delay = max(delay, a.delay)
	}
	if !s.hold(w, r, delay) {
		return
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, a := range answers {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type": {"application/http"},
			"Content-Id":   {fmt.Sprintf("response-%d", i+1)},
		})
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, "INTERNAL", "encode batch answer: "+err.Error())
			return
		}
		fmt.Fprintf(pw, "HTTP/1.1 %d %s\r\n", a.status, http.StatusText(a.status))
		// The part's header lines in sorted order, as http.Header.Write writes them.
		fmt.Fprintf(pw, "Content-Type: %s\r\n", v1ContentType)
		if a.retryAfter != "" {
			fmt.Fprintf(pw, "Retry-After: %s\r\n", a.retryAfter)
		}
		fmt.Fprintf(pw, "Content-Length: %d\r\n\r\n", len(a.body))
		_, _ = pw.Write(a.body)
	}
	_ = mw.Close()
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// batchPart is one part of a batch, read: a send request, or the answer that refuses it.
type batchPart struct {
	auth, project string
	body          []byte
	bad           *v1Answer
}

// readBatchPart reads one part of a batch. A part that is not a send request is answered with a
// 400 in its place, as Google does, and the rest of the batch goes on.
func (s *Server) readBatchPart(outer *http.Request, part *multipart.Part) batchPart {
	bad := func(msg string) batchPart {
		return batchPart{bad: &v1Answer{status: http.StatusBadRequest, body: fakefcm.PlainStatusBody(http.StatusBadRequest, "INVALID_ARGUMENT", msg), outcome: "INVALID_ARGUMENT"}}
	}
	inner, err := http.ReadRequest(bufio.NewReader(part))
	if err != nil {
		return bad("Batch part is not an HTTP request: " + err.Error())
	}
	defer inner.Body.Close()
	m := batchPartPath.FindStringSubmatch(inner.URL.Path)
	if inner.Method != http.MethodPost || m == nil {
		return bad(fmt.Sprintf("Batch part %s %s: only POST /v1/projects/{project}/messages:send may be batched.", inner.Method, inner.URL.Path))
	}
	body, err := io.ReadAll(io.LimitReader(inner.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return bad("Batch part body: " + err.Error())
	}
	auth := inner.Header.Get("Authorization")
	if auth == "" {
		auth = outer.Header.Get("Authorization")
	}
	return batchPart{auth: auth, project: m[1], body: body}
}

// handleLegacySend serves POST /fcm/send, the legacy HTTP API.
func (s *Server) handleLegacySend(w http.ResponseWriter, r *http.Request) {
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "key=")
	var project fakefcm.Project
	found := false
	s.view(func() { project, found = s.core.ProjectByServerKey(key) })
	if key == "" || !found {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "<HTML><HEAD><TITLE>Unauthorized</TITLE></HEAD><BODY><H1>Unauthorized</H1><H2>Error 401</H2></BODY></HTML>\n")
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	req, derr := fakefcm.DecodeLegacyRequest(body)
	if derr != nil {
		s.step(func(now time.Time) {
			s.core.Send(now, fakefcm.SendRequest{API: fakefcm.APILegacy, Project: project.ID,
				Invalid: &fakefcm.SendError{Code: fakefcm.InvalidArgument, Message: derr.Body}})
		})
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(derr.Status)
		_, _ = io.WriteString(w, derr.Body+"\n")
		return
	}
	send := func(m fakefcm.Message) fakefcm.SendResult {
		var res fakefcm.SendResult
		s.step(func(now time.Time) {
			res = s.core.Send(now, fakefcm.SendRequest{API: fakefcm.APILegacy, Project: project.ID, Message: m, ValidateOnly: req.DryRun})
		})
		return res
	}
	if len(req.Targets) == 0 && (req.Message.Topic != "" || req.Message.Condition != "") {
		res := send(req.Message)
		if !s.hold(w, r, res.Delay) {
			return
		}
		if res.Err != nil {
			writeJSON(w, http.StatusOK, map[string]string{"error": res.Err.LegacyError()})
			return
		}
		writeJSON(w, http.StatusOK, fakefcm.LegacyTopicResponse{MessageID: int64(res.Number)})
		return
	}
	if len(req.Targets) == 0 {
		req.Targets = []string{""} // answered per target with MissingRegistration
	}
	s.mu.Lock()
	s.multicastSeq++
	resp := fakefcm.LegacyResponse{MulticastID: 5000000000000000000 + s.multicastSeq}
	s.mu.Unlock()
	var delay, retryAfter time.Duration
	var last *fakefcm.SendError
	for _, tok := range req.Targets {
		m := req.Message
		m.Token = tok
		res := send(m)
		delay = max(delay, res.Delay)
		switch {
		case res.Err != nil:
			resp.Failure++
			resp.Results = append(resp.Results, fakefcm.LegacyResult{Error: res.Err.LegacyError()})
			retryAfter = max(retryAfter, res.Err.RetryAfter)
			last = res.Err
		case req.DryRun:
			resp.Success++
			resp.Results = append(resp.Results, fakefcm.LegacyResult{MessageID: "fake_message_id"})
		default:
			resp.Success++
			resp.Results = append(resp.Results, fakefcm.LegacyResult{MessageID: res.MessageID})
		}
	}
	if !s.hold(w, r, delay) {
		return
	}
	if retryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterHeader(retryAfter))
	}
	// A single target refused with a server error is answered as a whole-request 5xx, as legacy
	// FCM did; senders must handle both forms.
	if len(req.Targets) == 1 && last != nil && last.Code.HTTPStatus() >= 500 {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(last.Code.HTTPStatus())
		_, _ = io.WriteString(w, http.StatusText(last.Code.HTTPStatus())+"\n")
		return
	}
	writeJSON(w, http.StatusOK, resp)
}
