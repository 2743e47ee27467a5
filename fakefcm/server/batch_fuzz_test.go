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
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
)

// batchPartRequest is one part of a batch: an HTTP request as the Admin SDK writes it.
func batchPartRequest(path, headers, body string) string {
	return fmt.Sprintf("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nPOST %s HTTP/1.1\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s", path, headers, len(body), body)
}

// batchBody joins parts with the boundary.
func batchBody(boundary string, parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "--%s\r\n%s\r\n", boundary, p)
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.String()
}

// FuzzBatch feeds arbitrary Content-Types and bodies to the multipart batch endpoint (through the
// whole handler, body limit included). It must never panic; a batch refused as a whole gets a
// 400 (or 413) google.rpc.Status with a message and sends none of its parts; an accepted one is
// answered by a well-formed multipart/mixed body with one HTTP response per part, 1 to 500 of
// them, every refusal among them a google.rpc.Status with a message. The seeds run in every
// `go test`.
func FuzzBatch(f *testing.F) {
	srv, err := New(Config{BaseURL: "http://fakefcm.test", Core: fakefcm.Config{Seed: 1, MaxRecords: 10_000}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	creds, err := srv.CreateProject(control.CreateProjectRequest{ProjectID: "demo", PackageNames: []string{"com.example.im"}})
	if err != nil {
		f.Fatal(err)
	}
	var tok string
	srv.step(func(now time.Time) {
		tok, err = srv.core.RegisterDevice(now, fakefcm.DeviceSpec{SenderID: creds.SenderID, PackageName: "com.example.im"})
	})
	if err != nil {
		f.Fatal(err)
	}
	const bearer = "fuzz-bearer"
	srv.auth.mu.Lock()
	srv.auth.tokens[bearer] = accessToken{projectID: "demo", expires: time.Now().Add(24 * time.Hour)}
	srv.auth.mu.Unlock()

	send := "/v1/projects/demo/messages:send"
	good := fmt.Sprintf(`{"message":{"token":%q,"notification":{"title":"bob","body":"hi"}}}`, tok)
	mixed := "multipart/mixed; boundary=B"
	for _, seed := range []struct{ contentType, body string }{
		{mixed, batchBody("B", batchPartRequest(send, "", good))},
		{mixed, batchBody("B", batchPartRequest(send, "", good), batchPartRequest(send, "", `{"message":{"token":"bogus"}}`))},
		{mixed, batchBody("B", batchPartRequest(send, "Authorization: Bearer other\r\n", good))},
		{mixed, batchBody("B", batchPartRequest("/v1/projects/other/messages:send", "", good))},
		{mixed, batchBody("B", batchPartRequest("/v1/projects/demo/messages:list", "", good))},
		{mixed, batchBody("B", "Content-Type: application/http\r\n\r\nGET / HTTP/1.1\r\n\r\n")},
		{mixed, batchBody("B", "Content-Type: application/http\r\n\r\nnot an http request")},
		{mixed, batchBody("B", "Content-Type: application/http\r\n\r\nPOST "+send+" HTTP/1.1\r\nContent-Length: 99\r\n\r\n{}")},
		{mixed, batchBody("B", "Content-Type: application/http\r\n\r\nPOST "+send+" HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")},
		{mixed, batchBody("B", "Content-Type: application/http\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nPOST "+send+" HTTP/1.1\r\nContent-Length: 2\r\n\r\n{=\r\n}")},
		{mixed, "--B--\r\n"},
		{mixed, ""},
		{mixed, "--B\r\nContent-Type: application/http\r\n\r\nPOST " + send + " HTTP/1.1\r\n"},
		{"multipart/mixed; boundary=\"a b\"", batchBody("a b", batchPartRequest(send, "", good))},
		{"multipart/mixed", batchBody("B", batchPartRequest(send, "", good))},
		{"multipart/mixed; boundary=", "--\r\n"},
		{"application/json", good},
		{"multipart/mixed; boundary=B; boundary=C", batchBody("B", batchPartRequest(send, "", good))},
		{mixed, batchBody("B", "Content-Type: multipart/mixed; boundary=C\r\n\r\n"+batchBody("C", batchPartRequest(send, "", good)))},
	} {
		f.Add(seed.contentType, []byte(seed.body))
	}
	lastSeq := func() int64 {
		var seq int64
		srv.view(func() {
			if recs := srv.core.Records(fakefcm.RecordFilter{Project: "demo"}); len(recs) > 0 {
				seq = recs[len(recs)-1].Seq
			}
		})
		return seq
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		before := lastSeq()
		req := httptest.NewRequest(http.MethodPost, "/batch", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+bearer)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			checkBatchAnswer(t, rec)
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			checkStatusBody(t, rec.Code, rec.Body.Bytes())
			if after := lastSeq(); after != before {
				t.Fatalf("a batch refused as a whole sent %d of its parts", after-before)
			}
		default:
			t.Fatalf("batch answered %d: %s", rec.Code, rec.Body)
		}
	})
}

// checkStatusBody holds a refusal to Google's error shape, with something to read.
func checkStatusBody(t *testing.T, status int, body []byte) {
	t.Helper()
	var st fakefcm.StatusBody
	if err := json.Unmarshal(body, &st); err != nil || st.Error.Code != status || strings.TrimSpace(st.Error.Message) == "" || st.Error.Status == "" {
		t.Fatalf("%d without a google.rpc.Status that says why (%v): %s", status, err, body)
	}
}

// checkBatchAnswer reads a batch's answer as the Admin SDK does: a multipart/mixed body whose
// every part is an HTTP response.
func checkBatchAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	if err != nil || mediaType != "multipart/mixed" || params["boundary"] == "" {
		t.Fatalf("batch answer is not multipart/mixed: %q (%v)", rec.Header().Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(rec.Body.Bytes()), params["boundary"])
	n := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("answer part %d: %v", n+1, err)
		}
		n++
		resp, err := http.ReadResponse(bufio.NewReader(part), nil)
		if err != nil {
			t.Fatalf("answer part %d is not an HTTP response: %v", n, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("answer part %d body: %v", n, err)
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			var ok fakefcm.V1Response
			if json.Unmarshal(b, &ok) != nil || ok.Name == "" {
				t.Fatalf("answer part %d: 200 without a message name: %s", n, b)
			}
		case resp.StatusCode >= 400 && resp.StatusCode < 600:
			checkStatusBody(t, resp.StatusCode, b)
		default:
			t.Fatalf("answer part %d: status %d", n, resp.StatusCode)
		}
	}
	if n == 0 || n > maxBatchParts {
		t.Fatalf("batch answered with %d parts", n)
	}
}
