package lab

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/scenarios"
	"github.com/pushlab/pushlab/sim"
)

// scenarioFile is a saved session in the scenario format (scenarios.Scenario's keys, in the order
// people write them, without the defaults the lab does not change).
type scenarioFile struct {
	Name        string           `yaml:"name"`
	Description string           `yaml:"description"`
	Devices     []scenarioDevice `yaml:"devices"`
	Steps       []scenarios.Step `yaml:"steps"`
}

type scenarioDevice struct {
	ID        string `yaml:"id"`
	User      string `yaml:"user"`
	Platform  string `yaml:"platform"`
	Installed bool   `yaml:"installed"`
}

// Minimum windows of the expectations the lab writes: the virtual world's FCM and relay are not
// the live ones' in timing, so a window is what was seen plus room, and never less than these.
const (
	minPushWithin      = 10 * time.Second
	minDeliveredWithin = 5 * time.Second
	// minWait is the shortest pause between two actions written as a wait step.
	minWait = time.Second
)

// Scenario writes the session as a scenario file: the phones (none installed at the start), the
// actions in order with the pauses between them as waits, and after each action the expectations
// ticked on what it brought about.
func (l *Lab) Scenario() ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.actions) == 0 {
		return nil, refuse("nothing to save yet: the session has no action")
	}
	f := scenarioFile{Name: "device lab session",
		Description: fmt.Sprintf("Recorded in pushsim serve's device lab: %d action(s) over %s; each wait is a pause "+
			"between two actions, each expect is an expectation ticked on what a phone got.",
			len(l.actions), l.actions[len(l.actions)-1].At.Sub(l.actions[0].At).Round(100*time.Millisecond))}
	for _, p := range l.phones {
		f.Devices = append(f.Devices, scenarioDevice{ID: p.ID, User: p.User, Platform: p.Platform})
	}
	after := l.expectations()
	for i, a := range l.actions {
		if i > 0 {
			if gap := a.At.Sub(l.actions[i-1].At).Truncate(100 * time.Millisecond); gap >= minWait {
				f.Steps = append(f.Steps, scenarios.Step{Kind: scenarios.StepWait, Wait: duration.Of(gap)})
			}
		}
		f.Steps = append(f.Steps, a.Step)
		for _, e := range after[i] {
			f.Steps = append(f.Steps, scenarios.Step{Kind: scenarios.StepExpect, Expect: e})
		}
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("write the session as a scenario: %w", err)
	}
	// A scenario file reads ${NAME} as a variable and $${ as a literal ${: every ${ a person typed
	// (a message's text, a user) is written as $${. The marshalled file has no comment, where
	// $${ would stay as it is.
	out = []byte(strings.ReplaceAll(string(out), "${", "$${"))
	// What pushsim run reads must be what was written: check it parses.
	if _, err := scenarios.Parse("lab-session.yaml", out); err != nil {
		return nil, fmt.Errorf("the session written as a scenario does not read back: %w", err)
	}
	return out, nil
}

// expectations are the ticked expectations, by the index of the action each follows: the last
// action before what was seen. Ticks on synced messages of one login are one expectation, the
// number of messages that login synced.
func (l *Lab) expectations() map[int][]*scenarios.Expect {
	type ticked struct {
		at time.Time
		e  *scenarios.Expect
	}
	var all []ticked
	syncedDone := map[string]bool{} // phone/login index
	for _, p := range l.phones {
		for i, o := range p.obs {
			if !l.ticks[tickKey{Phone: p.ID, Obs: i}] {
				continue
			}
			cause := l.causeOf(o.At)
			waited := time.Duration(0)
			if cause >= 0 {
				waited = o.At.Sub(l.actions[cause].At)
			}
			e := &scenarios.Expect{Device: p.ID}
			switch o.Kind {
			case sim.ObsPush:
				pe := &scenarios.PushExpect{Within: within(waited, minPushWithin), Title: o.Title, Body: o.Text}
				if o.Badge > 0 {
					b := o.Badge
					pe.Badge = &b
				}
				e.Push = pe
			case sim.ObsMsg:
				e.Delivered = &scenarios.DeliveredExpect{Text: o.Text, Within: within(waited, minDeliveredWithin)}
			case sim.ObsSynced:
				login, count, last := syncedBatch(p.obs, i)
				key := fmt.Sprintf("%s/%d", p.ID, login)
				if syncedDone[key] {
					continue
				}
				syncedDone[key] = true
				e.Synced = &scenarios.SyncedExpect{Count: count}
				o = p.obs[last]
			default:
				continue
			}
			all = append(all, ticked{at: o.At, e: e})
		}
	}
	slices.SortStableFunc(all, func(a, b ticked) int { return a.at.Compare(b.at) })
	out := map[int][]*scenarios.Expect{}
	for _, t := range all {
		i := max(l.causeOf(t.at), 0)
		out[i] = append(out[i], t.e)
	}
	return out
}

// causeOf is the index of the last action taken at or before t (-1: none).
func (l *Lab) causeOf(t time.Time) int {
	return l.firstAfter(t) - 1 // equal times count as before: the action came first
}

// within is an expectation's window: what it took, doubled for room, rounded up to the second,
// and at least least.
func within(took, least time.Duration) duration.Duration {
	return duration.Of(max(least, (2*took + time.Second - 1).Truncate(time.Second)))
}

// syncedBatch finds the login a synced observation belongs to (the index of the connected
// observation before it), how many messages that login synced, and the last of them.
func syncedBatch(obs []sim.Observation, i int) (login, count, last int) {
	login = -1
	for j := i; j >= 0; j-- {
		if obs[j].Kind == sim.ObsConnected {
			login = j
			break
		}
	}
	for j := login + 1; j < len(obs); j++ {
		if obs[j].Kind == sim.ObsConnected {
			break
		}
		if obs[j].Kind == sim.ObsSynced {
			count, last = count+1, j
		}
	}
	return login, count, last
}
