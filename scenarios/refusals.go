package scenarios

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/pushlab/pushlab/fakefcm"
	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
	"github.com/pushlab/pushlab/sim/live"
)

// refusals lists every setting of the scenario that a world with these features cannot honour,
// at its place in the file. settings are the rules of a relay that is not the world's to
// configure (a remote one); the scenario's relay: block must then ask for nothing else.
func (sc *Scenario) refusals(f sim.Features, settings *relay.Config) []error {
	var out []error
	refuse := func(p Pos, format string, args ...any) { out = append(out, sc.errorAt(p, format, args...)) }
	if f.FCM == sim.FCMUnwatched {
		out = append(out, sc.unwatchedRefusals()...)
	}
	if sc.Cluster != nil {
		switch {
		case f.Twin == "virtual":
			f = sim.ClusterFeatures(f) // the scenario runs on the cluster twin
		case f.Twin == "live" && f.RelayConfig:
			f = live.ClusterFeatures(f) // the live world starts a cluster of relay processes
			if sc.Cluster.RenewEvery != 0 {
				refuse(sc.keyPos("cluster", "renewEvery"), "cluster.renewEvery: a relay node renews its leases every third of its lease TTL, "+
					"which the live cluster cannot change: drop renewEvery (set leaseTTL), or run it in virtual time (without --live)")
			}
		case !f.NodeFaults:
			refuse(sc.keyPos("cluster"), "cluster: the %s world's relay is not a cluster pushsim starts, so its nodes are not pushsim's to kill, "+
				"pause or cut: run it with --live (a cluster of relay processes) or without --live/--relay (the cluster twin in virtual time)", f.Twin)
		}
	}
	if !f.NetworkLatency {
		for _, k := range []string{"latency", "jitter"} {
			if (k == "latency" && sc.Network.Latency != 0) || (k == "jitter" && sc.Network.Jitter != 0) {
				refuse(sc.keyPos("network", k), "network.%s is virtual-only: the %s network is the real one (loss works; run it without --live/--relay, or drop the setting)", k, f.Twin)
			}
		}
	}
	if !f.RelayConfig && settings != nil {
		for _, d := range relayDifferences(sc.Relay, *settings) {
			refuse(sc.keyPos(append([]string{"relay"}, d.path...)...), "relay.%s: the scenario needs %s but the relay runs with %s, and a %s relay's rules are its operator's: "+
				"start it with that setting (relay --config) or drop it from the scenario", strings.Join(d.path, "."), d.want, d.have, f.Twin)
		}
	}
	if !sc.settles() && f.Twin != "virtual" && f.Twin != "cluster" {
		refuse(sc.keyPos("replay", "settle"), "replay.settle: false replays a run step for step, back to back, which only the virtual world "+
			"can: the %s world is not deterministic (its clock and network are real); run it without --live/--relay", f.Twin)
	}
	for _, st := range sc.Steps {
		switch st.Kind {
		case StepRestartRelay:
			if !f.RelayRestart {
				refuse(st.Pos, "restartRelay: the %s world cannot restart its relay (it did not start it)", f.Twin)
			}
		case StepKillNode, StepRestartNode, StepPauseNode, StepPartitionNode:
			if !f.NodeFaults {
				if f.Twin == "remote" {
					refuse(st.Pos, "%s: a relay started elsewhere has no nodes pushsim can act on: run the scenario, with cluster: {nodes: 3}, "+
						"with --live (pushsim starts the cluster) or without --live/--relay (in virtual time)", st.Kind)
				} else {
					refuse(st.Pos, "%s: the %s world's relay is one process with no nodes to act on: run the scenario on a cluster (add cluster: {nodes: 3})", st.Kind, f.Twin)
				}
			} else if sc.Cluster != nil && st.Node.Node != "" {
				if !validNode(st.Node.Node, sc.Cluster.Nodes) {
					refuse(st.Pos, "%s %s: the cluster's nodes are n1 … n%d", st.Kind, st.Node.Node, clusterNodes(sc.Cluster))
				}
			}
		case StepNetwork:
			n := st.Network
			if n.Link == "fcm" && !f.FCMPartition {
				refuse(st.Pos, "network link fcm: the relay's link to FCM is not the %s world's to cut (only the embedded relay's is)", f.Twin)
			}
			if (n.Latency != 0 || n.Jitter != 0) && !f.NetworkLatency {
				refuse(st.Pos, "network: a phone's latency and jitter are virtual-only (the %s network is the real one; partition and loss work)", f.Twin)
			}
		case StepFault:
			switch {
			case f.FCM != sim.FCMWatched:
				refuse(st.Pos, "fault: FCM faults need a fakefcm (give --fcm)")
			case st.Fault.Clear && f.FCMShared:
				refuse(st.Pos, "fault clear: the %s fakefcm's rules are shared with other runs, so this run cannot clear them (use count: on the rules it adds)", f.Twin)
			}
		}
	}
	return out
}

// clusterNodes is the node count of a scenario's cluster.
func clusterNodes(c *Cluster) int {
	if c.Nodes == 0 {
		return 3
	}
	return c.Nodes
}

// validNode reports whether name is one of a cluster of nodes nodes' (0: the default count).
func validNode(name string, nodes int) bool {
	if nodes == 0 {
		nodes = 3
	}
	for i := range nodes {
		if name == fmt.Sprintf("n%d", i+1) {
			return true
		}
	}
	return false
}

// difference is one relay setting a scenario asks for that a relay does not run with.
type difference struct {
	path       []string
	want, have string
}

// relayDifferences compares the settings a scenario's relay: block asks for (its non-zero
// fields) with those a relay runs with, field by field, through their JSON form.
func relayDifferences(want, have relay.Config) []difference {
	var w, h map[string]any
	wb, _ := json.Marshal(want) // plain values: cannot fail
	hb, _ := json.Marshal(have)
	_ = json.Unmarshal(wb, &w)
	_ = json.Unmarshal(hb, &h)
	var out []difference
	var walk func(path []string, w, h map[string]any)
	walk = func(path []string, w, h map[string]any) {
		for _, k := range slices.Sorted(maps.Keys(w)) {
			wv, hv := w[k], h[k]
			p := append(slices.Clone(path), k)
			if wm, ok := wv.(map[string]any); ok {
				hm, _ := hv.(map[string]any)
				walk(p, wm, hm)
				continue
			}
			if isZero(wv) || fmt.Sprint(wv) == fmt.Sprint(hv) {
				continue
			}
			have := "nothing"
			if hv != nil {
				have = fmt.Sprint(hv)
			}
			out = append(out, difference{path: p, want: fmt.Sprint(wv), have: have})
		}
	}
	walk(nil, w, h)
	return out
}

// isZero reports whether a JSON value is its type's zero: a setting left out.
func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case float64:
		return v == 0
	case string:
		return v == "" || v == "0s"
	}
	return false
}

// unwatchedRefusals lists what a scenario asks of a relay whose FCM pushsim cannot watch (a
// staging relay on Google's FCM) that such a run cannot honour: its apps and certificates exist
// already and are not changed, there is no fakefcm to steer, and a push is seen only as FCM's
// acceptance in the relay's trace.
func (sc *Scenario) unwatchedRefusals() []error {
	var out []error
	refuse := func(p Pos, format string, args ...any) { out = append(out, sc.errorAt(p, format, args...)) }
	const existing = "against a relay whose pushes pushsim cannot watch (no --fcm), apps and certificates exist already and are never changed"
	for i, a := range sc.Apps {
		app := fmt.Sprintf("apps[%d]", i)
		for _, k := range []string{"name", "loginPolicy", "caps", "defaultLocale", "pushTemplates"} {
			if p, ok := sc.keyAt(app, k); ok {
				refuse(p, "apps: app %d: %s: %s: set it on the relay (admin API or console) and drop it from the scenario", a.SDKAppID, k, existing)
			}
		}
		if a.SecretKey == "" {
			refuse(sc.keyPos(app), "apps: app %d needs secretKey: the app's secret on the relay, to sign the devices' UserSigs (write secretKey: \"${APP_SECRET}\" and set APP_SECRET)", a.SDKAppID)
		}
	}
	for i, c := range sc.Certificates {
		for _, k := range []string{"packageName", "api", "channelId"} {
			if p, ok := sc.keyAt(fmt.Sprintf("certificates[%d]", i), k); ok {
				refuse(p, "certificates: certificate %d: %s: %s: a certificate is named by its id only", c.ID, k, existing)
			}
		}
	}
	if sc.FCM != (fakefcm.Behaviour{}) {
		refuse(sc.keyPos("fcm"), "fcm: FCM's behaviour is set on a fakefcm, and this relay pushes to an FCM pushsim cannot watch (no --fcm): drop the fcm: block or give the relay's fakefcm with --fcm")
	}
	tokens := map[string]bool{}
	for _, d := range sc.Devices {
		tokens[d.ID] = d.Token != ""
	}
	noToken := "device %q has no token: against a relay whose pushes pushsim cannot watch (no --fcm) a device gets no token from a fakefcm, " +
		"so %s needs the phone's real FCM token: token: \"${PHONE_TOKEN}\" on the device"
	for _, st := range sc.Steps {
		switch st.Kind {
		case StepTokenRefresh, StepUninstall, StepTap:
			refuse(st.Pos, "%s: the phone's FCM side is the real phone's, which pushsim does not drive (no --fcm): do it by hand, or run with --fcm", st.Kind)
		case StepInstall:
			if !tokens[st.Device] {
				refuse(st.Pos, noToken, st.Device, "installing the app")
			}
		case StepExpect:
			e := st.Expect
			if e.Push == nil && e.NoPush == nil {
				continue
			}
			if !tokens[e.Device] {
				refuse(st.Pos, noToken, e.Device, "a push expectation for it")
			}
			if p := e.Push; p != nil && p.content() {
				refuse(st.Pos, "expect push on %s: title, body, badge, collapseKey, channelId, sound, clickAction, silent and data are seen only on the phone, and pushsim sees "+
					"only FCM's acceptance in the relay's trace (no --fcm): drop them, or check them on the phone by eye", e.Device)
			}
		}
	}
	return out
}

// keyAt is where a setting stands in the file, if the file writes it (keys such as "apps[0]",
// "caps").
func (sc *Scenario) keyAt(keys ...string) (Pos, bool) {
	file, err := parser.ParseBytes(sc.src, 0)
	if err != nil {
		return Pos{}, false
	}
	path, err := yaml.PathString("$." + strings.Join(keys, "."))
	if err != nil {
		return Pos{}, false
	}
	node, err := path.FilterFile(file)
	if err != nil || node == nil || node.GetToken() == nil {
		return Pos{}, false
	}
	p := node.GetToken().Position
	return Pos{Line: p.Line, Column: p.Column}, true
}

// keyPos is where a setting stands in the file (its key path, such as "relay",
// "heartbeatInterval"); the top of the file if it cannot be found.
func (sc *Scenario) keyPos(keys ...string) Pos {
	top := Pos{Line: 1, Column: 1}
	file, err := parser.ParseBytes(sc.src, 0)
	if err != nil {
		return top
	}
	for n := len(keys); n > 0; n-- {
		path, err := yaml.PathString("$." + strings.Join(keys[:n], "."))
		if err != nil {
			continue
		}
		node, err := path.FilterFile(file)
		if err != nil || node == nil || node.GetToken() == nil {
			continue
		}
		p := node.GetToken().Position
		return Pos{Line: p.Line, Column: p.Column}
	}
	return top
}
