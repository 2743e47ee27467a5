package scenarios

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/yamlfile"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/live"
)

// everything is a scenario that asks for every setting some twin cannot honour.
const everything = `name: everything
relay: {heartbeatDeadline: 10s, heartbeatInterval: 4s, retry: {maxAttempts: 3}}
network: {latency: 50ms, jitter: 10ms, loss: 0.1}
devices:
  - {id: alice-phone, user: alice}
steps:
  - login: alice-phone
  - restartRelay:
  - network: {link: fcm, partition: true}
  - network: {device: alice-phone, latency: 1s}
  - fault: {status: 503}
`

// positions lists where each refusal stands, as file:line:column, and what it says.
func positions(t *testing.T, errs []error) map[[2]int]string {
	t.Helper()
	out := map[[2]int]string{}
	for _, err := range errs {
		var ye *yamlfile.Error
		require.True(t, errors.As(err, &ye), "a refusal names its place: %v", err)
		out[[2]int{ye.Line, ye.Column}] = ye.Msg
	}
	return out
}

// Each twin refuses exactly the settings it cannot honour, each at its place in the file.
func TestEachTwinRefusesWhatItCannotHonourAtItsPlace(t *testing.T) {
	sc, err := Parse("e.yaml", []byte(everything))
	require.NoError(t, err)

	require.Empty(t, sc.refusals(sim.VirtualConfig{}.Features(), nil), "the virtual twin honours everything")

	lv := positions(t, sc.refusals(live.FeaturesOf(live.Config{}), nil))
	require.Len(t, lv, 3, "%v", lv)
	require.Contains(t, lv[[2]int{3, 20}], "network.latency is virtual-only")
	require.Contains(t, lv[[2]int{3, 34}], "network.jitter is virtual-only")
	require.Contains(t, lv[[2]int{10, 5}], "a phone's latency and jitter are virtual-only")

	// The remote relay runs with the defaults but for heartbeatInterval 4s, which it shares.
	settings := relay.Config{HeartbeatInterval: duration.Of(4 * time.Second)}.Effective()
	rm := positions(t, sc.refusals(live.FeaturesOf(live.Config{Remote: &live.Remote{RelayURL: "http://r", FCMURL: "http://f"}}), &settings))
	require.Len(t, rm, 7, "%v", rm)
	require.Contains(t, rm[[2]int{2, 28}], "relay.heartbeatDeadline: the scenario needs 10s but the relay runs with 1m30s")
	require.Contains(t, rm[[2]int{2, 77}], "relay.retry.maxAttempts: the scenario needs 3 but the relay runs with 5")
	require.Contains(t, rm[[2]int{8, 5}], "restartRelay")
	require.Contains(t, rm[[2]int{9, 5}], "network link fcm")
	for p, msg := range rm {
		require.NotContains(t, msg, "heartbeatInterval", "a setting the relay shares is not refused (at %v)", p)
	}

	// A relay whose FCM cannot be watched: its apps are used as they are (so a scenario gives the
	// app's secret and changes nothing), and faults need a fakefcm.
	un := positions(t, sc.refusals(live.FeaturesOf(live.Config{Remote: &live.Remote{RelayURL: "http://r"}}), &settings))
	require.Contains(t, strings.Join(slices.Collect(maps.Values(un)), "\n"), "needs secretKey")
	require.Contains(t, un[[2]int{11, 5}], "FCM faults need a fakefcm")
}

// Against a relay whose apps exist already, every app and certificate setting the scenario
// gives is refused at its place, the push texts and the channel included: none would be used.
func TestUnwatchedRelayRefusesAppAndCertificateSettings(t *testing.T) {
	const src = `name: settings
apps:
  - sdkAppId: 5
    secretKey: s
    caps: {perMinute: 1}
    defaultLocale: zh
    pushTemplates: {zh: {summaryBody: "{count} 条"}}
certificates: [{id: 7, channelId: messages}]
devices: [{id: a, user: u, token: t}]
steps: [{wait: 1s}]
`
	sc, err := Parse("s.yaml", []byte(src))
	require.NoError(t, err)
	got := positions(t, sc.unwatchedRefusals())
	want := map[[2]int]string{{5, 11}: "caps", {6, 20}: "defaultLocale", {7, 20}: "pushTemplates", {8, 35}: "channelId"}
	require.Len(t, got, len(want), "%#v", got)
	for p, key := range want {
		require.Contains(t, got[p], ": "+key+": ", "at %v in %#v", p, got)
		require.Contains(t, got[p], "exist already and are never changed", "at %v", p)
	}
}

// A refused scenario is not run: it is reported as not run (neither passed nor failed), with
// every refusal in its error.
func TestARefusedScenarioIsReportedNotRun(t *testing.T) {
	sc, err := Parse("e.yaml", []byte(everything))
	require.NoError(t, err)
	res := Run(context.Background(), sc, Options{Live: true})
	require.True(t, res.NotRun)
	require.False(t, res.Passed)
	require.Empty(t, res.Steps, "nothing ran")
	require.Contains(t, res.Error, "e.yaml:3:20: network.latency")
	require.Contains(t, res.Error, "e.yaml:10:5: network:")
}

// The remote twin against a relay and fakefcm started elsewhere (a stack of their own): a
// scenario whose relay: block the relay shares runs and passes; one that asks for other rules is
// refused, naming the setting and its place; and the IDs a remote run uses are its own.
func TestRemoteRunHonoursOrRefuses(t *testing.T) {
	ctx := context.Background()
	st, err := live.StartStack(ctx, live.StackConfig{Seed: 1, Relay: relay.Config{HeartbeatInterval: duration.Of(4 * time.Second)}})
	require.NoError(t, err)
	defer func() { require.NoError(t, st.Close()) }()
	remote := &live.Remote{RelayURL: st.RelayURL, AdminKey: st.AdminKey, FCMURL: st.FCMURL}

	shared := `name: remote push
relay: {heartbeatInterval: 4s}
devices:
  - {id: alice-phone, user: alice}
  - {id: bob-phone, user: bob}
steps:
  - login: alice-phone
  - login: bob-phone
  - kill: alice-phone
  - send: {from: bob-phone, to: alice, text: hi}
  - expect: {device: alice-phone, push: {within: 5s, body: hi}}
  - expect: {device: alice-phone, trace: {reason: fcm-ok}}
`
	sc, err := Parse("shared.yaml", []byte(shared))
	require.NoError(t, err)
	res := Run(ctx, sc, Options{Seed: 2, Remote: remote})
	require.True(t, res.Passed, "%s %+v %+v", res.Error, res.Steps, res.Expectations)
	require.False(t, res.Oracle.Ran, "a remote relay has no tap")
	require.Contains(t, res.Oracle.NotRunWhy, "cannot be tapped")
	apps, err := st.Admin.Settings(ctx) // the relay is reachable and kept its rules
	require.NoError(t, err)
	require.Equal(t, 4*time.Second, apps.HeartbeatInterval.D())

	other := `name: other rules
relay: {heartbeatDeadline: 5s}
devices:
  - {id: alice-phone, user: alice}
steps:
  - login: alice-phone
`
	sc, err = Parse("other.yaml", []byte(other))
	require.NoError(t, err)
	res = Run(ctx, sc, Options{Remote: remote})
	require.True(t, res.NotRun)
	require.Contains(t, res.Error, "other.yaml:2:28: relay.heartbeatDeadline: the scenario needs 5s but the relay runs with 1m30s")
}

// Options that cannot work together are refused before anything runs.
func TestOptionsRefuseFCMWithoutRelay(t *testing.T) {
	err := Options{Remote: &live.Remote{FCMURL: "http://127.0.0.1:4000"}}.Validate()
	require.ErrorContains(t, err, "--fcm names the fakefcm of a relay started elsewhere")
}

// A remote fakefcm is shared: a run adds fault rules to it but may not clear everyone's.
func TestRemoteRefusesClearingSharedFaults(t *testing.T) {
	sc, err := Parse("c.yaml", []byte("name: c\ndevices: [{id: a, user: u}]\nsteps:\n  - fault: {status: 503, count: 1}\n  - fault: {clear: true}\n"))
	require.NoError(t, err)
	remote := live.FeaturesOf(live.Config{Remote: &live.Remote{RelayURL: "http://r", FCMURL: "http://f"}})
	got := positions(t, sc.refusals(remote, nil))
	require.Len(t, got, 1, "%v", got)
	require.Contains(t, got[[2]int{5, 5}], "shared with other runs")
	require.Empty(t, sc.refusals(live.FeaturesOf(live.Config{}), nil), "the embedded fakefcm is the run's own")
}

// On a relay whose rules are not the world's, the phones ping as often as that relay expects: a
// scenario that says nothing of heartbeats keeps its connections through a relay with a short
// deadline (they would be declared dead every 10 s at the 30 s default).
func TestRemotePhonesPingAsTheRelayExpects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st, err := live.StartStack(ctx, live.StackConfig{Seed: 1, InMemory: true, DB: live.MemoryDB,
			Relay: relay.Config{HeartbeatInterval: duration.Of(4 * time.Second), HeartbeatDeadline: duration.Of(10 * time.Second)}})
		require.NoError(t, err)
		defer func() {
			require.NoError(t, st.Close())
			synctest.Wait()
		}()
		sc, err := Parse("quiet.yaml", []byte(`name: a quiet minute
devices:
  - {id: alice-phone, user: alice}
steps:
  - login: alice-phone
  - wait: 1m
`))
		require.NoError(t, err)
		res := Run(ctx, sc, Options{Remote: &live.Remote{RelayURL: st.RelayURL, AdminKey: st.AdminKey, FCMURL: st.FCMURL,
			HTTP: st.HTTP, Dialer: st.Dialer}})
		require.True(t, res.Passed, "%s %+v", res.Error, res.Steps)
		for _, e := range res.Devices[0].Events {
			require.NotEqual(t, "closed", e.Kind, "the connection was lost at %d ms: %s", e.AtMs, e.Detail)
		}
	})
}
