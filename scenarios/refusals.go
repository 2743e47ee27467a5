package scenarios

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/pushlab/pushlab/relay"
	"github.com/pushlab/pushlab/sim"
)

// refusals lists every setting of the scenario that a world with these features cannot honour,
// at its place in the file. settings are the rules of a relay that is not the world's to
// configure (a remote one); the scenario's relay: block must then ask for nothing else.
func (sc *Scenario) refusals(f sim.Features, settings *relay.Config) []error {
	var out []error
	refuse := func(p Pos, format string, args ...any) { out = append(out, sc.errorAt(p, format, args...)) }
	if f.FCM == sim.FCMUnwatched {
		refuse(Pos{Line: 1, Column: 1}, "the relay pushes to an FCM pushsim cannot watch (no --fcm): simulated devices get their "+
			"tokens from a fakefcm and pushes are observed there; give the relay's fakefcm with --fcm")
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
	if !sc.settles() && f.Twin != "virtual" {
		refuse(sc.keyPos("replay", "settle"), "replay.settle: false replays a run step for step, back to back, which only the virtual world "+
			"can: the %s world is not deterministic (its clock and network are real); run it without --live/--relay", f.Twin)
	}
	for _, st := range sc.Steps {
		switch st.Kind {
		case StepRestartRelay:
			if !f.RelayRestart {
				refuse(st.Pos, "restartRelay: the %s world cannot restart its relay (it did not start it)", f.Twin)
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
