package lab_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/cmd/pushsim/internal/lab"
	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/scenarios"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/live"
)

// The secrets of the test's stack: neither may appear in anything the lab answers.
const (
	testAppSecret = "lab-test-app-secret-0123456789"
	testAdminKey  = "lab-test-admin-key-0123456789"
)

// Hostile inputs: a script tag and an attribute breaker.
var hostile = []string{`<script>alert("lab")</script>`, `"><img src=x onerror=alert(1)>`}

// testLab is a lab on a stack of its own (loopback, ephemeral ports), provisioned as pushsim serve
// provisions its own, served by an httptest server.
type testLab struct {
	*lab.Lab
	URL  string
	csrf string
}

func startLab(t *testing.T) *testLab {
	t.Helper()
	return startLabIn(t, nil)
}

// startLabIn is startLab with the lab's world wrapped by wrap (nil: as it is).
func startLabIn(t *testing.T, wrap func(sim.World) sim.World) *testLab {
	t.Helper()
	ctx := context.Background()
	st, err := live.StartStack(ctx, live.StackConfig{FCMConfig: &fakefcm.Config{Seed: 1}, DB: live.MemoryDB, AdminKey: testAdminKey})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	creds, err := st.Control.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "lab-test", PackageNames: []string{scenarios.DefaultPackage}})
	require.NoError(t, err)
	app := relay.AppConfig{SDKAppID: scenarios.DefaultSDKAppID, Name: "lab", SecretKey: secret.New(testAppSecret)}
	require.NoError(t, st.Admin.PutApp(ctx, app))
	require.NoError(t, st.Admin.PutCertificate(ctx, relay.Certificate{SDKAppID: app.SDKAppID, ID: scenarios.DefaultCertificate,
		PackageName: scenarios.DefaultPackage, ServiceAccount: secret.New(string(creds.ServiceAccount)), Endpoint: st.FCMURL}))
	w, err := live.Open(ctx, live.Config{Stack: st, Seed: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, w.Close()) })
	require.NoError(t, w.AddApp(app))
	var world sim.World = w
	if wrap != nil {
		world = wrap(w)
	}
	l, err := lab.New(lab.Config{World: world, App: app.SDKAppID, AppSecret: app.SecretKey, Certificate: scenarios.DefaultCertificate,
		SenderID: creds.SenderID, Package: scenarios.DefaultPackage, TracePoll: 50 * time.Millisecond})
	require.NoError(t, err)
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { require.NoError(t, l.Close()) }) // before the server: it ends the event streams
	tl := &testLab{Lab: l, URL: srv.URL}
	page := tl.get(t, "/")
	m := regexp.MustCompile(`name="lab-csrf" content="([0-9a-f]+)"`).FindStringSubmatch(page)
	require.Len(t, m, 2, "the page carries the session's token")
	tl.csrf = m[1]
	return tl
}

// get reads a page or an answer, which must be 200.
func (tl *testLab) get(t *testing.T, path string) string {
	t.Helper()
	res, err := http.Get(tl.URL + path)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "GET %s: %s", path, body)
	return string(body)
}

// post sends a form as the page's script does (the token in the header) unless header says
// otherwise; it answers the status and the body.
func (tl *testLab) post(t *testing.T, path string, form url.Values, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tl.URL+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if header == nil {
		header = http.Header{lab.CSRFHeader: {tl.csrf}}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// must posts and requires the lab took it.
func (tl *testLab) must(t *testing.T, path string, kv ...string) {
	t.Helper()
	form := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	code, body := tl.post(t, path, form, nil)
	require.Equal(t, http.StatusNoContent, code, "POST %s %v: %s", path, form, body)
}

// state is the page script's view of the session.
func (tl *testLab) state(t *testing.T) map[string]any {
	t.Helper()
	var s map[string]any
	require.NoError(t, json.Unmarshal([]byte(tl.get(t, "/state")), &s))
	return s
}

// loggedIn readies a phone: installed, launched, logged in, its token reported.
func (tl *testLab) loggedIn(t *testing.T, user string) {
	t.Helper()
	tl.must(t, "/phones", "user", user, "platform", "android")
	for _, a := range []string{"install", "launch", "login", "reportToken"} {
		tl.must(t, "/act", "phone", user+"-phone", "action", a)
	}
}

// Every form field takes hostile input, and every page and answer shows it escaped: the phone's
// user, the platform (refused, and the refusal quotes it), the message's recipient and text.
func TestHostileInputIsEscapedEverywhere(t *testing.T) {
	tl := startLab(t)
	tl.loggedIn(t, "alice")
	tl.loggedIn(t, "bob")
	for _, h := range hostile {
		tl.must(t, "/phones", "user", h, "platform", "android")
		// Without the script, a refusal comes back on the page.
		code, _ := tl.post(t, "/phones", url.Values{"csrf": {tl.csrf}, "user": {"carol"}, "platform": {h}}, http.Header{})
		require.Equal(t, http.StatusSeeOther, code)
		require.Contains(t, tl.get(t, "/"), "unknown platform")
		tl.must(t, "/send", "from", "alice-phone", "to", "bob", "text", h)
		code, body := tl.post(t, "/send", url.Values{"from": {"alice-phone"}, "to": {h}, "text": {h}}, nil)
		require.Equal(t, http.StatusUnprocessableEntity, code, "the relay refuses the user ID")
		require.Contains(t, body, "is not a valid ID")
		code, body = tl.post(t, "/act", url.Values{"phone": {h}, "action": {h}}, nil)
		require.Equal(t, http.StatusUnprocessableEntity, code)
		require.Contains(t, body, "no phone")
	}
	// Bob's phone shows both hostile messages.
	require.Eventually(t, func() bool {
		s := tl.state(t)["phones"].(string)
		return strings.Count(s, "alert(1)") >= 2 && strings.Count(s, "alert(") >= 4
	}, 10*time.Second, 20*time.Millisecond)

	st := tl.state(t)
	for name, body := range map[string]string{"page": tl.get(t, "/"), "phones": st["phones"].(string), "swimlane": st["swimlane"].(string)} {
		for _, h := range hostile {
			require.NotContains(t, body, h, "%s shows hostile input unescaped", name)
		}
		require.NotContains(t, body, "<script>alert", name)
		require.NotContains(t, body, "<img src=x", name)
		require.Contains(t, body, "&lt;", "%s shows the input, escaped", name)
	}
	// A refusal the script shows as text (it sets textContent) is plain text.
	code, body := tl.post(t, "/phones", url.Values{"user": {"dave"}, "platform": {hostile[0]}}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "unknown platform")
}

// A POST that does not come from the lab's page is refused and changes nothing: no token, a
// wrong one, another site's, another origin's; and the lab answers nothing to a request for a
// name that is not its own (DNS rebinding).
func TestCrossSiteRequestsAreRefused(t *testing.T) {
	tl := startLab(t)
	form := url.Values{"user": {"mallory"}, "platform": {"android"}}
	withToken := url.Values{"csrf": {tl.csrf}, "user": {"mallory"}, "platform": {"android"}}
	for name, c := range map[string]struct {
		form   url.Values
		header http.Header
	}{
		"no token":          {form, http.Header{}},
		"wrong token":       {form, http.Header{lab.CSRFHeader: {"0123"}}},
		"wrong form token":  {url.Values{"csrf": {"0123"}, "user": {"mallory"}, "platform": {"android"}}, http.Header{}},
		"another site":      {withToken, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		"a sibling site":    {withToken, http.Header{"Sec-Fetch-Site": {"same-site"}}},
		"another origin":    {withToken, http.Header{"Origin": {"http://evil.example"}}},
		"a null origin":     {withToken, http.Header{"Origin": {"null"}}},
		"token, bad origin": {form, http.Header{lab.CSRFHeader: {tl.csrf}, "Origin": {"http://evil.example"}}},
	} {
		code, body := tl.post(t, "/phones", c.form, c.header)
		require.Equal(t, http.StatusForbidden, code, "%s: %s", name, body)
		code, _ = tl.post(t, "/scenario", c.form, c.header)
		require.Equal(t, http.StatusForbidden, code, "%s: save", name)
	}
	require.Empty(t, tl.state(t)["phoneIds"], "no refused request made a phone")

	req, err := http.NewRequest(http.MethodGet, tl.URL+"/", nil)
	require.NoError(t, err)
	req.Host = "evil.example"
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusMisdirectedRequest, res.StatusCode)
	require.NotContains(t, string(body), tl.csrf)

	// The page's own form, posted without the script, is taken.
	code, _ := tl.post(t, "/phones", withToken, http.Header{"Origin": {tl.URL}, "Sec-Fetch-Site": {"same-origin"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, []any{"mallory-phone"}, tl.state(t)["phoneIds"])

	// A phone but no action yet: nothing to save, in words.
	code, saved := tl.post(t, "/scenario", url.Values{}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, code, saved)
	require.Contains(t, saved, "nothing to save yet")
}

// Neither the app secret nor the admin key appears in any page, asset or answer of a session
// that did everything: phones logged in, a message pushed, a scenario saved, refusals.
func TestNoSecretInAnyPageOrAnswer(t *testing.T) {
	tl := startLab(t)
	tl.loggedIn(t, "alice")
	tl.loggedIn(t, "bob")
	tl.must(t, "/act", "phone", "alice-phone", "action", "kill")
	tl.must(t, "/send", "from", "bob-phone", "to", "alice", "text", "hi")
	require.Eventually(t, func() bool { return strings.Contains(tl.state(t)["phones"].(string), "badge 1") }, 10*time.Second, 20*time.Millisecond)

	answers := []string{tl.get(t, "/"), tl.get(t, "/state"), tl.get(t, "/assets/lab.js"), tl.get(t, "/assets/lab.css")}
	code, yaml := tl.post(t, "/scenario", url.Values{}, nil)
	require.Equal(t, http.StatusOK, code, yaml)
	answers = append(answers, yaml)
	_, refusal := tl.post(t, "/send", url.Values{"from": {"alice-phone"}, "to": {"bob"}, "text": {"x"}}, nil)
	answers = append(answers, refusal)
	_, forbidden := tl.post(t, "/phones", url.Values{}, http.Header{})
	answers = append(answers, forbidden)

	res, err := http.Get(tl.URL + "/events")
	require.NoError(t, err)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	first, err := bufio.NewReader(res.Body).ReadString('\n')
	require.NoError(t, err)
	res.Body.Close()
	require.Regexp(t, `^data: \d+\n$`, first)
	answers = append(answers, first)

	for i, a := range answers {
		require.NotContains(t, a, testAppSecret, "answer %d", i)
		require.NotContains(t, a, testAdminKey, "answer %d", i)
	}
}

// The round of the browser test, over HTTP alone (it runs when the browser tests are skipped):
// the saved session, with its two ticked expectations, passes in the virtual world.
func TestSavedSessionReplaysInTheVirtualWorld(t *testing.T) {
	tl := startLab(t)
	tl.loggedIn(t, "alice")
	tl.loggedIn(t, "bob")
	tl.must(t, "/act", "phone", "alice-phone", "action", "kill")
	tl.must(t, "/send", "from", "bob-phone", "to", "alice", "text", "see you at 8")
	alice := func() string {
		s := tl.state(t)["phones"].(string)
		return s[strings.Index(s, `data-phone="alice-phone"`):strings.Index(s, `data-phone="bob-phone"`)]
	}
	require.Eventually(t, func() bool { return strings.Contains(alice(), `data-kind="notification"`) }, 10*time.Second, 20*time.Millisecond)
	tl.must(t, "/act", "phone", "alice-phone", "action", "relaunch")
	require.Eventually(t, func() bool { return strings.Contains(alice(), `data-kind="synced"`) }, 10*time.Second, 20*time.Millisecond)

	obs := regexp.MustCompile(`name="obs" value="(\d+)"`).FindAllStringSubmatch(alice(), -1)
	require.Len(t, obs, 2, "a notification and a synced message to tick")
	for _, o := range obs {
		tl.must(t, "/tick", "phone", "alice-phone", "obs", o[1], "on", "1")
	}
	code, saved := tl.post(t, "/scenario", url.Values{}, nil)
	require.Equal(t, http.StatusOK, code, saved)
	sc, err := scenarios.Parse("lab-session.yaml", []byte(saved))
	require.NoError(t, err, saved)
	out := scenarios.Run(context.Background(), sc, scenarios.Options{Seed: 1})
	require.True(t, out.Passed, "%s\nerror: %s\nexpectations: %+v\nsteps: %+v", saved, out.Error, out.Expectations, out.Steps)
	var kinds []string
	for _, e := range out.Expectations {
		kinds = append(kinds, e.Kind)
	}
	require.Equal(t, []string{"push", "synced"}, kinds, "the ticked expectations, after the actions that brought them about")
}

// Bad input to every handler is refused in words with a 4xx, never taken and never a 500: text
// that is not UTF-8 (it would garble the page and the saved scenario), unknown phones and actions,
// a number that is not one, and a form longer than the lab reads; a refusal quotes at most a
// little of what it refuses.
func TestBadInputIsRefusedClearly(t *testing.T) {
	tl := startLab(t)
	tl.loggedIn(t, "alice")
	long := strings.Repeat("x", 10_000)
	for _, c := range []struct {
		path string
		form url.Values
		code int
		says string
	}{
		{"/phones", url.Values{"user": {"b\xffd"}, "platform": {"android"}}, http.StatusUnprocessableEntity, "is not UTF-8"},
		{"/phones", url.Values{"user": {"bob"}, "platform": {long}}, http.StatusUnprocessableEntity, "unknown platform"},
		{"/send", url.Values{"from": {"alice-phone"}, "to": {"alice"}, "text": {"caf\xe9"}}, http.StatusUnprocessableEntity, "is not UTF-8"},
		{"/send", url.Values{"from": {"alice-phone"}, "to": {"b\xffb"}, "text": {"hi"}}, http.StatusUnprocessableEntity, "is not UTF-8"},
		{"/send", url.Values{"from": {long}, "to": {"alice"}, "text": {"hi"}}, http.StatusUnprocessableEntity, "no phone"},
		{"/act", url.Values{"phone": {long}, "action": {"install"}}, http.StatusUnprocessableEntity, "no phone"},
		{"/act", url.Values{"phone": {"alice-phone"}, "action": {long}}, http.StatusUnprocessableEntity, "unknown action"},
		{"/tick", url.Values{"phone": {"alice-phone"}, "obs": {long}}, http.StatusUnprocessableEntity, "is not a number"},
		{"/tick", url.Values{"phone": {"alice-phone"}, "obs": {"99999999999999999999"}}, http.StatusUnprocessableEntity, "is not a number"},
		{"/tick", url.Values{"phone": {"alice-phone"}, "obs": {"-1"}}, http.StatusUnprocessableEntity, "has no notification"},
		{"/act", url.Values{"phone": {"alice-phone"}, "action": {strings.Repeat("x", 70_000)}}, http.StatusRequestEntityTooLarge, "longer than"},
	} {
		code, body := tl.post(t, c.path, c.form, nil)
		require.Equal(t, c.code, code, "POST %s: %.200s", c.path, body)
		require.Contains(t, body, c.says, "POST %s", c.path)
		require.Less(t, len(body), 300, "POST %s: the refusal quotes a little of the input", c.path)
	}
	require.Equal(t, []any{"alice-phone"}, tl.state(t)["phoneIds"], "no refused request made a phone")
}

// A message whose text has "${" (or "$${") is sent and saved: the scenario file escapes it, so
// that pushsim run reads the text as typed, not as a variable, whatever the environment holds.
func TestDollarBraceInATextIsSavedAsTyped(t *testing.T) {
	tl := startLab(t)
	tl.loggedIn(t, "alice")
	tl.loggedIn(t, "bob")
	text := "price ${X} and $${Y}, ${"
	tl.must(t, "/send", "from", "bob-phone", "to", "alice", "text", text)
	code, saved := tl.post(t, "/scenario", url.Values{}, nil)
	require.Equal(t, http.StatusOK, code, saved)
	env := func(name string) (string, bool) { return "expanded", true }
	sc, err := scenarios.ParseEnv("lab-session.yaml", []byte(saved), env)
	require.NoError(t, err, saved)
	var sent []string
	for _, st := range sc.Steps {
		if st.Send != nil {
			sent = append(sent, st.Send.Text)
		}
	}
	require.Equal(t, []string{text}, sent, saved)
}

// unanswered is a world in which no step lands in time: every wait reaches its deadline, as when
// the relay has stopped.
type unanswered struct{ sim.World }

func (unanswered) WaitUntil(time.Time, func() bool) bool { return false }

// An action that does not land in time (the relay stopped) ends its request with a 504 that says
// so, and is recorded: the phone did it.
func TestAnActionThatDoesNotLandIsToldAndRecorded(t *testing.T) {
	tl := startLabIn(t, func(w sim.World) sim.World { return unanswered{w} })
	tl.must(t, "/phones", "user", "alice", "platform", "android")
	code, body := tl.post(t, "/act", url.Values{"phone": {"alice-phone"}, "action": {"install"}}, nil)
	require.Equal(t, http.StatusGatewayTimeout, code, body)
	require.Contains(t, body, "alice-phone: install did not land within 5s")
	require.EqualValues(t, 1, tl.state(t)["actions"], "the action is recorded")
}

// An open live-update stream ends when the lab closes (pushsim serve closes it as its server
// shuts down), rather than holding the shutdown up.
func TestEventStreamEndsWhenTheLabCloses(t *testing.T) {
	tl := startLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tl.URL+"/events", nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	r := bufio.NewReader(res.Body)
	_, err = r.ReadString('\n')
	require.NoError(t, err)
	require.NoError(t, tl.Close())
	_, err = io.Copy(io.Discard, r)
	require.NoError(t, err, "the stream ends by itself, before the request's deadline")
}

// Two tabs press buttons at once, on two phones, while the page reads the state: every request
// is answered, every action recorded (run with -race).
func TestConcurrentTabs(t *testing.T) {
	tl := startLab(t)
	tl.loggedIn(t, "alice")
	tl.loggedIn(t, "bob")
	var wg sync.WaitGroup
	codes := make(chan int, 64)
	post := func(path string, form url.Values) {
		req, _ := http.NewRequest(http.MethodPost, tl.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(lab.CSRFHeader, tl.csrf)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			codes <- 0
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		codes <- res.StatusCode
	}
	for _, p := range []struct{ me, other string }{{"alice", "bob"}, {"bob", "alice"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, a := range []string{"background", "foreground"} {
				post("/act", url.Values{"phone": {p.me + "-phone"}, "action": {a}})
			}
			post("/send", url.Values{"from": {p.me + "-phone"}, "to": {p.other}, "text": {"hi " + p.other}})
			post("/tick", url.Values{"phone": {p.me + "-phone"}, "obs": {"0"}, "on": {"1"}})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			res, err := http.Get(tl.URL + "/state")
			if err != nil {
				codes <- 0
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			codes <- res.StatusCode
		}
	}()
	wg.Wait()
	close(codes)
	seen := map[int]int{}
	for c := range codes {
		seen[c]++
	}
	// The ticks name an observation that is not a message (422); everything else is taken.
	require.Equal(t, map[int]int{http.StatusNoContent: 6, http.StatusUnprocessableEntity: 2, http.StatusOK: 5}, seen)
	require.EqualValues(t, 8+6, tl.state(t)["actions"])
}

// traceless is a world whose relay does not answer its push trace; it counts the reads.
type traceless struct {
	sim.World
	reads atomic.Int32
}

func (*traceless) OnObserve(func(*sim.Device, sim.Observation)) {}

func (w *traceless) Trace() ([]relay.TraceEntry, error) {
	w.reads.Add(1)
	return nil, errors.New("connection refused")
}

// A relay that stopped answering is logged once, not on every read of its trace.
func TestAFailingTraceIsLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	w := &traceless{}
	l, err := lab.New(lab.Config{World: w, TracePoll: time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return w.reads.Load() >= 5 }, 10*time.Second, time.Millisecond)
	require.NoError(t, l.Close()) // the reader has stopped: logs is ours to read
	require.Equal(t, 1, strings.Count(logs.String(), "push trace"), logs.String())
}
