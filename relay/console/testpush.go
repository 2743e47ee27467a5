package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/relay/client"
)

// testPushOutcome is what the test push result page shows.
type testPushOutcome struct {
	App          uint64
	User, Device string
	Title, Body  string
	// Result is the API's answer when FCM answered; Status and Refusal the API's refusal when not.
	Result  relay.TestPushResult
	Status  int
	Refusal string
	// Words say what the answer means; Tone is its badge (ok, warn, bad).
	Words, Tone string
	// Paths, escaped.
	UserPage, Trace, Certificates string
}

// maxTestPushText bounds a test push's title and body, well inside what FCM takes.
const maxTestPushText = 1000

// testPush sends a test push to one device through the admin API and shows FCM's answer.
func (c *Console) testPush(w http.ResponseWriter, r *http.Request, s *session, app uint64) {
	user, dev := r.PathValue("user"), r.PathValue("device")
	title, body := strings.TrimSpace(r.PostForm.Get("title")), strings.TrimSpace(r.PostForm.Get("body"))
	o := testPushOutcome{App: app, User: user, Device: dev, Title: title, Body: body,
		UserPage: userPath(app, user), Trace: userTraceLink(app, user), Certificates: certsPage(app)}
	if len(title) > maxTestPushText || len(body) > maxTestPushText {
		c.render(w, r, s, http.StatusBadRequest, "error", "Bad form", errorPage{
			Message: fmt.Sprintf("A test push's title and body are at most %d bytes each.", maxTestPushText), Back: o.UserPage})
		return
	}
	in := map[string]string{"title": title, "body": body}
	status := http.StatusOK
	if err := c.cfg.API.Do(r.Context(), http.MethodPost, client.TestPushPath(app, user, dev), in, &o.Result); err != nil {
		var ae *client.AdminError
		if !errors.As(err, &ae) {
			c.apiFailure(w, r, s, o.UserPage, err)
			return
		}
		status, o.Status, o.Refusal = ae.Status, ae.Status, ae.Message
		o.Words, o.Tone = refusalWords(ae.Status), "bad"
	} else {
		o.Words, o.Tone = resultWords(o.Result.Result)
	}
	c.render(w, r, s, status, "user_testpush", "Test push to "+dev, o)
}

// resultWords says what FCM's answer to a test push means for the device, and its badge.
func resultWords(result string) (words, tone string) {
	code, _ := strings.CutPrefix(result, relay.ReasonFCMPrefix)
	if code == "ok" {
		return "FCM accepted the push: it is on its way to the device.", "ok"
	}
	words, ok := fcmWords(code) // the trace's words for the same answer
	if !ok {
		words = "FCM answered " + code
	}
	if retried(code) {
		return words + ". A test push is not retried: try again later.", "warn"
	}
	return words + ".", "bad"
}

// refusalWords says why the admin API sent no test push.
func refusalWords(status int) string {
	switch status {
	case http.StatusNotFound:
		return "The relay knows no such device of this user in this app."
	case http.StatusConflict:
		return "No token reported: the device has no push binding (it never sent one, or FCM said UNREGISTERED), so there is nothing to push to. The app reports its token after login."
	case http.StatusGatewayTimeout:
		return "FCM did not answer in time. The outcome will still reach the push trace."
	default:
		return "The relay refused the test push."
	}
}
