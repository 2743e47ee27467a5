package scenarios

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/reports"
)

// Library scenario 51 tests what its name says only if carol's login is in fact answered 5002:
// it kills the node holding her partition, whatever the seed, and her phone is refused before
// it logs in.
func TestLoginRetryScenarioMeetsA5002(t *testing.T) {
	sc, err := Load("library/51-cluster-login-while-the-partition-has-no-owner-is-retried.yaml")
	require.NoError(t, err)
	for _, seed := range []uint64{1, 2, 3} {
		res := Run(context.Background(), sc, Options{Seed: seed})
		require.True(t, res.Passed, "seed %d: %s %+v", seed, res.Error, res.Expectations)
		require.Positive(t, unavailableLogins(res, "carol-phone"), "seed %d: carol's login was never answered 5002: the scenario tests nothing", seed)
		require.Contains(t, stepText(res, "killNode"), "(holding carol's partition) is killed", "seed %d", seed)
	}
}

// killNode {ownerOf: user} kills the node holding the user's partition when the step runs:
// once the cluster twin's nodes have evened out their shares, each of five users has the node
// of their own partition killed, which is not the same node for all of them.
func TestKillNodeOwnerOfKillsTheNodeHoldingTheUsersPartition(t *testing.T) {
	killed := map[string]string{}
	for _, user := range []string{"alice", "bob", "carol", "dave", "erin"} {
		sc, err := Parse("s.yaml", []byte("name: x\ncluster: {nodes: 3, partitions: 16}\ndevices:\n  - {id: p, user: "+user+"}\n"+
			"steps:\n  - login: p\n  - wait: 10s\n  - killNode: {ownerOf: "+user+"}\n"))
		require.NoError(t, err)
		res := Run(context.Background(), sc, Options{Seed: 1})
		require.True(t, res.Passed, "%s: %s", user, res.Error)
		text := stepText(res, "killNode")
		node, ok := strings.CutPrefix(text, "node ")
		require.True(t, ok, text)
		node, _, _ = strings.Cut(node, " ")
		require.Equal(t, "node "+node+" (holding "+user+"'s partition) is killed", text)
		killed[user] = node
	}
	// Five users' partitions on three nodes: the step followed them to more than one node.
	nodes := map[string]bool{}
	for _, n := range killed {
		nodes[n] = true
	}
	require.Greater(t, len(nodes), 1, "every user's partition on one node? %v", killed)
}

// unavailableLogins counts the logins of a device the relay answered 5002 (unavailable, retry).
func unavailableLogins(res reports.Scenario, device string) int {
	n := 0
	for _, d := range res.Devices {
		for _, e := range d.Events {
			if d.ID == device && e.Kind == "refused" && strings.HasPrefix(e.Detail, "login: 5002") {
				n++
			}
		}
	}
	return n
}

// stepText is what the run's first step of that kind did, in words.
func stepText(res reports.Scenario, kind string) string {
	for _, st := range res.Steps {
		if st.Kind == kind {
			return st.Text
		}
	}
	return ""
}

// appOfUser answers the app of the user's phones: one that is the user's from the start, else
// one a later switchUser step gives them, and only then the scenario's first app.
func TestAppOfUserIsTheAppOfTheUsersPhones(t *testing.T) {
	sc, err := Parse("s.yaml", []byte("name: x\napps: [{sdkAppId: 5}, {sdkAppId: 6}]\ncertificates: [{id: 1, app: 5}, {id: 2, app: 6}]\n"+
		"devices: [{id: a, user: u, app: 5, certificate: 1}, {id: b, user: v, app: 6, certificate: 2}]\n"+
		"steps:\n  - wait: 1s\n  - switchUser: {device: b, user: w}\n"))
	require.NoError(t, err)
	r := &runner{sc: sc, usersApps: sc.usersApps()} // as the run's setup reads them
	require.Equal(t, uint64(5), r.appOfUser("u"))
	require.Equal(t, uint64(6), r.appOfUser("v"))
	require.Equal(t, uint64(6), r.appOfUser("w"), "b becomes w's later: w is app 6's")
	require.Equal(t, uint64(5), r.appOfUser("nobody"), "no phone of theirs: the first app")
}
