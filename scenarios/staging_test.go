package scenarios

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/fakefcm/control"
	"github.com/pushlab/pushlab/internal/secret"
	"github.com/pushlab/pushlab/internal/yamlfile"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim/live"
)

// staging is a relay provisioned as an operator would (an app, a certificate on its FCM) and a
// phone token issued by that FCM: pushsim is told the relay's URL and admin key only.
type staging struct {
	stack  *live.Stack
	token  string
	remote *live.Remote
	env    map[string]string
}

const (
	stagingApp    = uint64(1400000001)
	stagingCert   = int64(6768)
	stagingSecret = "staging-app-secret-0123456789"
)

func startStaging(t *testing.T) *staging {
	t.Helper()
	ctx := context.Background()
	st, err := live.StartStack(ctx, live.StackConfig{Seed: 1})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.Admin.PutApp(ctx, relay.AppConfig{SDKAppID: stagingApp, SecretKey: secret.New(stagingSecret)}))
	creds, err := st.Control.CreateProject(ctx, control.CreateProjectRequest{ProjectID: "staging", PackageNames: []string{DefaultPackage}})
	require.NoError(t, err)
	require.NoError(t, st.Admin.PutCertificate(ctx, relay.Certificate{SDKAppID: stagingApp, ID: stagingCert, PackageName: DefaultPackage,
		ServiceAccount: secret.New(string(creds.ServiceAccount)), Endpoint: st.FCMURL}))
	tok, err := st.Control.RegisterDevice(ctx, creds.SenderID, DefaultPackage)
	require.NoError(t, err)
	return &staging{stack: st, token: tok, remote: &live.Remote{RelayURL: st.RelayURL, AdminKey: st.AdminKey},
		env: map[string]string{"APP_SECRET": stagingSecret, "PHONE_TOKEN": tok,
			"PUSHLAB_SDKAPPID": "1400000001", "PUSHLAB_APP_SECRET": stagingSecret, "PUSHLAB_CERTIFICATE_ID": "6768", "PUSHLAB_PHONE_TOKEN": tok}}
}

func (s *staging) lookup(name string) (string, bool) {
	v, ok := s.env[name]
	return v, ok
}

// run checks and runs a scenario as pushsim run --relay URL --admin-key K (no --fcm) does.
func (s *staging) run(t *testing.T, sc *Scenario) (refused []error, passed bool, seen []string) {
	t.Helper()
	ctx := context.Background()
	opt := Options{Remote: s.remote}
	require.NoError(t, opt.Validate())
	c, err := NewChecker(ctx, opt)
	require.NoError(t, err)
	if errs := c.Check(sc); len(errs) > 0 {
		return errs, false, nil
	}
	opt.Checker = c
	res := Run(ctx, sc, opt)
	require.Empty(t, res.Error)
	for _, st := range res.Steps {
		require.Empty(t, st.Error, "step %d (%s)", st.Index, st.Kind)
	}
	for _, e := range res.Expectations {
		require.True(t, e.DeliveryNotObservable || (e.Kind != "push" && e.Kind != "noPush"), "push expectations are judged from the trace")
		seen = append(seen, e.Seen)
	}
	return nil, res.Passed, seen
}

const stagingScenario = `name: a killed QA phone's push is accepted by FCM
apps: [{sdkAppId: 1400000001, secretKey: "${APP_SECRET}"}]
certificates: [{id: 6768}]
devices:
  - {id: qa-phone, user: qa, token: "${PHONE_TOKEN}"}
  - {id: sender-phone, user: sender}
steps:
  - login: qa-phone
  - login: sender-phone
  - expect: {device: qa-phone, noPush: {for: 300ms}}
  - kill: qa-phone
  - send: {from: sender-phone, to: qa, text: hello}
  - expect: {device: qa-phone, push: {within: 3s}}
`

// A remote run without --fcm judges a push by the relay's trace: it holds through a relay
// pushing to an FCM pushsim was never told about, and fails when that FCM answers UNREGISTERED
// for the phone's token.
func TestRemoteRunWithoutFCMJudgesPushesByTheTrace(t *testing.T) {
	s := startStaging(t)
	sc, err := ParseEnv("staging.yaml", []byte(stagingScenario), s.lookup)
	require.NoError(t, err)

	refused, passed, seen := s.run(t, sc)
	require.Empty(t, refused)
	require.True(t, passed, "seen: %v", seen)
	require.Contains(t, seen[1], "accepted by FCM — delivery not observable")
	recs, err := s.stack.Control.Messages(context.Background(), fakefcm.RecordFilter{Token: s.token})
	require.NoError(t, err)
	require.Len(t, recs, 1, "the relay pushed to the token the scenario gave")

	require.NoError(t, s.stack.Control.AddFaults(context.Background(), []fakefcm.FaultRule{{Token: s.token, Status: 404, ErrorCode: fakefcm.Unregistered}}))
	refused, passed, seen = s.run(t, sc)
	require.Empty(t, refused)
	require.False(t, passed)
	require.Contains(t, seen[1], "no push accepted by FCM")
	require.Contains(t, seen[1], "fcm-UNREGISTERED")
}

// The shipped staging smoke scenario runs against such a relay with its variables set.
func TestStagingSmokeScenarioRuns(t *testing.T) {
	s := startStaging(t)
	sc, err := LoadEnv("staging/smoke.yaml", s.lookup)
	require.NoError(t, err)
	refused, passed, seen := s.run(t, sc)
	require.Empty(t, refused)
	require.True(t, passed, "seen: %v", seen)
}

// What a run without --fcm cannot honour is refused before it runs, at its place in the file:
// a missing app or certificate, a fault, a push expectation on a phone with no token, changes to
// the app; an unset variable is refused when the file is read.
func TestRemoteRunWithoutFCMRefuses(t *testing.T) {
	s := startStaging(t)
	refusals := func(t *testing.T, text string) string {
		t.Helper()
		sc, err := ParseEnv("refused.yaml", []byte(text), s.lookup)
		require.NoError(t, err)
		errs, _, _ := s.run(t, sc)
		require.NotEmpty(t, errs, "refused")
		return errors.Join(errs...).Error()
	}
	base := func(apps, certs, steps string) string {
		return "name: x\napps: " + apps + "\ncertificates: " + certs + `
devices:
  - {id: qa-phone, user: qa, token: "${PHONE_TOKEN}"}
  - {id: sender-phone, user: sender}
steps:
` + steps
	}
	const app = `[{sdkAppId: 1400000001, secretKey: "${APP_SECRET}"}]`
	const ok = "  - login: qa-phone\n"

	got := refusals(t, base(`[{sdkAppId: 1400000002, secretKey: "${APP_SECRET}"}]`, "[{id: 6768}]", ok))
	require.Contains(t, got, "refused.yaml:2:")
	require.Contains(t, got, "app 1400000002 does not exist on the relay")

	got = refusals(t, base(app, "[{id: 999}]", ok))
	require.Contains(t, got, "refused.yaml:3:")
	require.Contains(t, got, "certificate 999 of app 1400000001 does not exist on the relay")

	got = refusals(t, base(app, "[{id: 6768}]", ok+"  - fault: {device: qa-phone, status: 404}\n"))
	require.Contains(t, got, "refused.yaml:9:5: fault: FCM faults need a fakefcm")

	got = refusals(t, base(app, "[{id: 6768}]", ok+"  - expect: {device: sender-phone, push: {within: 1s}}\n"))
	require.Contains(t, got, `refused.yaml:9:5: device "sender-phone" has no token`)

	got = refusals(t, base(`[{sdkAppId: 1400000001, loginPolicy: multi}]`, "[{id: 6768}]", ok))
	require.Contains(t, got, "apps: app 1400000001: loginPolicy:")
	require.Contains(t, got, "needs secretKey")

	got = refusals(t, base(app, "[{id: 6768}]", ok+"  - expect: {device: qa-phone, push: {within: 1s, body: hi}}\n"))
	require.Contains(t, got, "title, body, badge, collapseKey, channelId, sound, clickAction, silent and data are seen only on the phone")
	got = refusals(t, base(app, "[{id: 6768}]", ok+"  - expect: {device: qa-phone, push: {within: 1s, silent: true}}\n"))
	require.Contains(t, got, "refused.yaml:9:5: expect push on qa-phone: title, body")

	got = refusals(t, base(app, "[{id: 6768, channelId: chat}]", ok))
	require.Contains(t, got, "certificates: certificate 6768: channelId:")

	_, err := ParseEnv("unset.yaml", []byte(strings.ReplaceAll(base(app, "[{id: 6768}]", ok), "PHONE_TOKEN", "NOT_SET")), s.lookup)
	var ye *yamlfile.Error
	require.ErrorAs(t, err, &ye)
	require.Equal(t, 5, ye.Line)
	require.Contains(t, err.Error(), "${NOT_SET}: the environment variable NOT_SET is not set")
}
