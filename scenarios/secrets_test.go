package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/logbuf"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/reports"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/live"
)

// secretsScenario exercises what logs and records the most: both APIs, retries, UNREGISTERED, a
// kick, a logout, a restart of the relay, the relay cut off from FCM.
const secretsScenario = `name: secrets stay secret
certificates:
  - {id: 6768, api: v1}
  - {id: 6769, api: legacy}
relay: {retry: {base: 200ms}}
devices:
  - {id: alice-phone, user: alice}
  - {id: carol-phone, user: carol, certificate: 6769}
  - {id: dave-phone, user: dave}
  - {id: bob-phone, user: bob}
steps:
  - login: alice-phone
  - login: carol-phone
  - login: dave-phone
  - login: bob-phone
  - kill: alice-phone
  - kill: carol-phone
  - fault: {status: 503, count: 1}
  - send: {from: bob-phone, to: alice, text: over v1}
  - send: {from: bob-phone, to: carol, text: over legacy}
  - expect: {device: alice-phone, push: {within: 5s, body: over v1}}
  - expect: {device: carol-phone, push: {within: 5s, body: over legacy}}
  - fault: {status: 401, count: 1}
  - send: {from: bob-phone, to: alice, text: rejected credentials}
  - expect: {device: alice-phone, trace: {reason: fcm-THIRD_PARTY_AUTH_ERROR}}
  - uninstall: carol-phone
  - send: {from: bob-phone, to: carol, text: to a gone token}
  - expect: {device: carol-phone, trace: {reason: fcm-UNREGISTERED}}
  - restartRelay:
  - send: {from: bob-phone, to: alice, text: after the restart}
  - expect: {device: alice-phone, push: {within: 5s, body: after the restart}}
  - network: {link: fcm, partition: true}
  - network: {link: fcm, partition: false}
  - kick: {user: dave}
  - logout: bob-phone
`

// TestSecretsAppearInNoAnswerLogReportOrMetric runs a scenario live against embedded servers
// whose log lines (debug level) go to a buffer, then greps every admin answer it can fetch (apps,
// certificates, users, push trace), fakefcm's listings, both /metrics, every log line, and the
// three reports for the app secret, the fakefcm server keys and the service accounts' private
// keys the run used. None may appear.
func TestSecretsAppearInNoAnswerLogReportOrMetric(t *testing.T) {
	sc, err := Parse("secrets.yaml", []byte(secretsScenario))
	require.NoError(t, err)
	logs := &logbuf.Buffer{}
	log := logs.Logger(slog.LevelDebug)
	ctx := context.Background()
	// The UserSigs the phones log in with, as they crossed into the relay's core.
	var sigMu sync.Mutex
	var sigs []string
	tap := func(e sim.TapEvent) {
		if e.Kind == sim.TapInput && e.Input.Kind == relay.InputReceive && e.Input.Frame.Op == relay.OpLogin && e.Input.Frame.UserSig != "" {
			sigMu.Lock()
			sigs = append(sigs, e.Input.Frame.UserSig)
			sigMu.Unlock()
		}
	}
	w, err := live.Open(ctx, live.Config{Seed: 5, Relay: sc.Relay, FCM: sc.FCM, Logger: log, Tap: tap})
	require.NoError(t, err)
	closed := false
	defer func() {
		if !closed {
			_ = w.Close()
		}
	}()
	r := &runner{sc: sc, w: w}
	r.run(ctx)
	require.True(t, r.out.Passed, "%+v %+v", r.out.Steps, r.out.Expectations)

	// The secrets, as the relay stored them.
	stack := w.Stack()
	st, err := stack.Store().Load(ctx)
	require.NoError(t, err)
	secrets := map[string]string{"app secret": appSecret, "relay admin key": stack.AdminKey}
	for _, a := range st.Apps {
		secrets[fmt.Sprintf("app %d secret", a.SDKAppID)] = a.SecretKey.Reveal()
	}
	require.Len(t, st.Certificates, 2)
	for _, c := range st.Certificates {
		if k := c.ServerKey.Reveal(); k != "" {
			secrets[fmt.Sprintf("certificate %d server key", c.ID)] = k
		}
		if sa := c.ServiceAccount.Reveal(); sa != "" {
			var acct struct {
				PrivateKey string `json:"private_key"`
			}
			require.NoError(t, json.Unmarshal([]byte(sa), &acct))
			require.Contains(t, acct.PrivateKey, "PRIVATE KEY")
			// Every line of the key's body, so that a key printed escaped or cut is found too.
			for i, line := range strings.Split(acct.PrivateKey, "\n") {
				if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
					secrets[fmt.Sprintf("certificate %d private key line %d", c.ID, i+1)] = line
				}
			}
		}
	}
	require.Greater(t, len(secrets), 10, "the app secret, a server key and a private key's lines")
	sigMu.Lock()
	require.NotEmpty(t, sigs, "the phones logged in")
	for i, sig := range sigs {
		// The signature half is what a thief would need; the claims half is not secret.
		_, mac, ok := strings.Cut(sig, ".")
		require.True(t, ok, "a UserSig is claims.signature")
		secrets[fmt.Sprintf("UserSig %d's signature", i+1)] = mac
	}
	sigMu.Unlock()

	// What the servers answer.
	seen := map[string]string{}
	get := func(what, url string, header http.Header) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		req.Header = header
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", what, body)
		seen[what] = string(body)
	}
	admin := http.Header{"Authorization": {"Bearer " + stack.AdminKey}}
	relayURL, fcmURL := stack.RelayURL, stack.FCMURL
	get("admin apps", relayURL+"/admin/v1/apps", admin)
	get("admin settings", relayURL+"/admin/v1/settings", admin)
	for _, a := range sc.Apps {
		app := a.SDKAppID
		base := fmt.Sprintf("%s/admin/v1/apps/%d", relayURL, app)
		get(fmt.Sprintf("admin app %d", app), base, admin)
		get(fmt.Sprintf("admin app %d certificates", app), base+"/certificates", admin)
		for _, c := range sc.Certificates {
			get(fmt.Sprintf("admin certificate %d", c.ID), fmt.Sprintf("%s/certificates/%d", base, c.ID), admin)
		}
		for _, u := range []string{"alice", "bob", "carol", "dave"} {
			get("admin user "+u, base+"/users/"+u, admin)
		}
		get(fmt.Sprintf("admin app %d push trace", app), base+"/push-trace?limit=10000", admin)
	}
	get("relay metrics", relayURL+"/metrics", nil)
	get("fakefcm metrics", fcmURL+"/metrics", nil)
	get("fakefcm projects", fcmURL+"/fakefcm/v1/projects", nil)
	get("fakefcm messages", fcmURL+"/fakefcm/v1/messages", nil)
	get("fakefcm faults", fcmURL+"/fakefcm/v1/faults", nil)
	require.Contains(t, seen["admin certificate 6769"], `"api":"legacy"`)
	require.Contains(t, seen["admin app 1400000001 push trace"], "fcm-ok") // since the restart: the trace is in memory

	require.NoError(t, w.Close()) // the shutdown's log lines too
	closed = true
	seen["logs"] = logs.String()
	require.Contains(t, seen["logs"], "certificate ready", "the relay's log lines were captured")
	require.Contains(t, seen["logs"], "project created", "fakefcm's log lines were captured")

	// The reports of the run.
	r.out.Totals = reports.SummarizeScenario(&r.out)
	rep := &reports.Report{Schema: reports.SchemaVersion, Run: reports.Run{Seed: 5, Mode: "live", Started: time.Now().UTC()},
		Scenarios: []reports.Scenario{r.out}}
	reports.Complete(rep)
	dir := t.TempDir()
	require.NoError(t, reports.WriteAll(dir, rep))
	for _, f := range []string{reports.JSONFile, reports.JUnitFile, reports.HTMLFile} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		seen["report "+f] = string(data)
	}

	for where, text := range seen {
		require.NotEmpty(t, text, where)
		// OAuth access tokens: fakefcm issues them with Google's prefix, fresh for each sender.
		if i := strings.Index(text, "ya29."); i >= 0 {
			t.Errorf("%s shows an OAuth access token: …%s…", where, text[max(0, i-80):min(len(text), i+40)])
		}
		for what, s := range secrets {
			if strings.Contains(text, s) {
				i := strings.Index(text, s)
				t.Errorf("%s shows the %s: …%s…", where, what, text[max(0, i-80):min(len(text), i+len(s)+20)])
			}
		}
	}
}
