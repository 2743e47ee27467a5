package scenarios

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/yamlfile"
	"github.com/pushlab/pushlab/relay"
)

// UnmarshalYAML reads a step: a one-key map whose key names the step.
func (s *Step) UnmarshalYAML(node ast.Node) error {
	tok := node.GetToken()
	s.Pos = Pos{Line: tok.Position.Line, Column: tok.Position.Column}
	m, ok := node.(*ast.MappingNode)
	if !ok || len(m.Values) != 1 {
		return &yaml.SyntaxError{Token: tok, Message: "a step is a map with one key, the step's name, such as \"- kill: alice-phone\" or \"- send: {from: bob-phone, to: alice, text: hi}\""}
	}
	kv := m.Values[0]
	name := kv.Key.String()
	s.Kind = StepKind(name)
	keyTok := kv.Key.GetToken()
	s.Pos = Pos{Line: keyTok.Position.Line, Column: keyTok.Position.Column}
	val := kv.Value
	decode := func(v any) error { return yaml.NodeToValue(val, v, yaml.DisallowUnknownField()) }
	switch {
	case slices.Contains(DeviceSteps, s.Kind):
		if sc, ok := val.(ast.ScalarNode); ok && val.Type() != ast.NullType {
			s.Device = fmt.Sprint(sc.GetValue())
			return nil
		}
		var d DeviceStep
		if err := decode(&d); err != nil {
			return err
		}
		if d.Unread != 0 && s.Kind != StepBackground {
			return &yaml.SyntaxError{Token: keyTok, Message: fmt.Sprintf("%s takes no unread (only background does)", name)}
		}
		if d.ReportToken != nil && s.Kind != StepLogin {
			return &yaml.SyntaxError{Token: keyTok, Message: fmt.Sprintf("%s takes no reportToken (only login does)", name)}
		}
		if (d.Count != 0 || d.Reverse) && s.Kind != StepReleaseAcks {
			return &yaml.SyntaxError{Token: keyTok, Message: fmt.Sprintf("%s takes no count or reverse (only releaseAcks does)", name)}
		}
		if d.Count < 0 {
			return &yaml.SyntaxError{Token: keyTok, Message: fmt.Sprintf("releaseAcks count %d: how many held acks to send, 1 or more (leave it out for all)", d.Count)}
		}
		s.Device, s.ReportToken, s.Unread, s.Count, s.Reverse = d.Device, d.ReportToken, d.Unread, d.Count, d.Reverse
	case s.Kind == StepKick:
		if sc, ok := val.(ast.ScalarNode); ok && val.Type() != ast.NullType {
			s.User = fmt.Sprint(sc.GetValue())
			return nil
		}
		var k struct {
			User string `yaml:"user"`
		}
		if err := decode(&k); err != nil {
			return err
		}
		s.User = k.User
	case s.Kind == StepSwitchUser:
		var u SwitchUserStep
		if err := decode(&u); err != nil {
			return err
		}
		s.Device, s.User = u.Device, u.User
	case s.Kind == StepSend || s.Kind == StepSendGroup:
		s.Send = &SendStep{}
		return decode(s.Send)
	case s.Kind == StepCreateGroup:
		s.CreateGroup = &CreateGroupStep{}
		return decode(s.CreateGroup)
	case s.Kind == StepSetReceiveOpt:
		s.ReceiveOpt = &ReceiveOptStep{}
		return decode(s.ReceiveOpt)
	case s.Kind == StepPushSettings:
		s.PushSettings = &PushSettingsStep{}
		return decode(s.PushSettings)
	case s.Kind == StepProfile:
		s.Profile = &ProfileStep{}
		return decode(s.Profile)
	case s.Kind == StepFault:
		s.Fault = &FaultStep{}
		return decode(s.Fault)
	case s.Kind == StepNetwork:
		s.Network = &NetworkStep{}
		return decode(s.Network)
	case s.Kind == StepRestartRelay:
		return nil
	case slices.Contains(NodeSteps, s.Kind):
		s.Node = &NodeStep{}
		if sc, ok := val.(ast.ScalarNode); ok && val.Type() != ast.NullType {
			s.Node.Node = fmt.Sprint(sc.GetValue())
		} else if err := decode(s.Node); err != nil {
			return err
		}
		n := s.Node
		bad := func(msg string, args ...any) error {
			return &yaml.SyntaxError{Token: keyTok, Message: fmt.Sprintf("%s %s: ", name, n.target()) + fmt.Sprintf(msg, args...)}
		}
		switch {
		case n.Node == "" && n.OwnerOf == "":
			return &yaml.SyntaxError{Token: keyTok, Message: name + " needs the node (n1, n2, …) or ownerOf: a user, for the node holding that user's partition"}
		case n.Node != "" && n.OwnerOf != "":
			return &yaml.SyntaxError{Token: keyTok, Message: fmt.Sprintf("%s names the node %s and ownerOf: %s: give one of them", name, n.Node, n.OwnerOf)}
		case s.Kind == StepRestartNode && n.OwnerOf != "":
			return bad("needs the node: the node restartNode starts was killed, and holds no partition")
		case n.Heal && n.OwnerOf != "":
			return bad("heal needs the node: the cut moved the user's partition elsewhere, so its holder is no longer the node cut off")
		case s.Kind == StepPauseNode && n.For <= 0:
			return bad("needs for: how long the node stays paused (longer than its lease, 6s, to make it a zombie)")
		case s.Kind != StepPauseNode && n.For != 0:
			return bad("takes no for (only pauseNode does)")
		case s.Kind == StepPartitionNode && n.From != "bus" && n.From != "db":
			return bad("from: %q: a node is cut off the bus or the db", n.From)
		case s.Kind != StepPartitionNode && (n.From != "" || n.Heal):
			return bad("takes no from or heal (only partitionNode does)")
		}
	case s.Kind == StepWait:
		var d duration.Duration
		if err := d.UnmarshalYAML(val); err != nil {
			return err
		}
		s.Wait = d
	case s.Kind == StepExpect:
		s.Expect = &Expect{}
		return decode(s.Expect)
	default:
		return &yaml.SyntaxError{Token: keyTok, Message: fmt.Sprintf("unknown step %q: expected one of %s%s", name, stepNames(), suggest(name))}
	}
	return nil
}

func stepNames() string {
	var names []string
	for _, k := range AllSteps {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// suggest names the known step closest to a misspelt one.
func suggest(name string) string {
	best, bestD := "", 3
	for _, k := range AllSteps {
		if d := editDistance(strings.ToLower(name), strings.ToLower(string(k))); d < bestD {
			best, bestD = string(k), d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Parse reads a scenario from data, read from the file called name, fills in the defaults and
// validates it. Errors name file:line:column and what was expected. No environment variable is
// set for it: a ${NAME} in the file is an error (ParseEnv looks them up).
func Parse(name string, data []byte) (*Scenario, error) {
	return ParseEnv(name, data, nil)
}

// ParseEnv is Parse with the file's ${NAME} references replaced by lookup's values (nil: none is
// set); see expandVars.
func ParseEnv(name string, data []byte, lookup Lookup) (*Scenario, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	data, err := expandVars(name, data, lookup)
	if err != nil {
		return nil, err
	}
	var sc Scenario
	if err := yamlfile.Decode(name, data, &sc); err != nil {
		return nil, err
	}
	sc.File, sc.src = name, data
	for i, st := range sc.Steps {
		if st.Kind == "" {
			// A bare "-" or "- null": the decoder calls no UnmarshalYAML for it, so it says nothing.
			return nil, sc.errorAt(emptyStepPos(data, i), "step %d is empty: a step is a map with one key, the step's name, such as \"- kill: alice-phone\"", i+1)
		}
	}
	if len(sc.Steps) == 0 {
		return nil, sc.errorAt(Pos{Line: 1, Column: 1}, "the scenario needs steps:")
	}
	if err := sc.Prepare(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// Prepare fills in the defaults of a scenario built in code, as Parse does for a file, and
// validates it; its steps may still be empty (a Replayer is given them one at a time).
func (sc *Scenario) Prepare() error {
	sc.applyDefaults()
	return sc.validate()
}

// emptyStepPos finds the "-" of the i-th entry under steps:, for a step that decoded to nothing;
// the top of the file if it cannot be found.
func emptyStepPos(data []byte, i int) (pos Pos) {
	pos = Pos{Line: 1, Column: 1}
	defer func() { _ = recover() }() // go-yaml's AST is for the message only: never crash on it
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return pos
	}
	path, err := yaml.PathString("$.steps")
	if err != nil {
		return pos
	}
	n, err := path.FilterFile(f)
	if err != nil {
		return pos
	}
	if seq, ok := n.(*ast.SequenceNode); ok && i < len(seq.Entries) && seq.Entries[i].Start != nil {
		p := seq.Entries[i].Start.Position
		pos = Pos{Line: p.Line, Column: p.Column}
	}
	return pos
}

// Load reads and parses a scenario file. A file over yamlfile.MaxSize is refused without being
// read whole (it may be a device such as /dev/zero, or a log given by mistake).
func Load(path string) (*Scenario, error) {
	return LoadEnv(path, nil)
}

// LoadEnv is Load with the file's ${NAME} references looked up (pushsim passes os.LookupEnv).
func LoadEnv(path string, lookup Lookup) (*Scenario, error) {
	data, err := yamlfile.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseEnv(path, data, lookup)
}

// Expand turns files and folders into the scenario files they hold (*.yaml and *.yml, sorted).
func Expand(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}

func (sc *Scenario) applyDefaults() {
	if len(sc.Apps) == 0 {
		sc.Apps = []App{{SDKAppID: DefaultSDKAppID}}
	}
	if len(sc.Certificates) == 0 {
		sc.Certificates = []Certificate{{ID: DefaultCertificate}}
	}
	for i := range sc.Certificates {
		c := &sc.Certificates[i]
		if c.App == 0 {
			c.App = sc.Apps[0].SDKAppID
		}
		if c.PackageName == "" {
			c.PackageName = DefaultPackage
		}
		if c.API == "" {
			c.API = "v1"
		}
	}
	for i := range sc.Devices {
		d := &sc.Devices[i]
		if d.Platform == "" {
			d.Platform = "android"
		}
		if d.App == 0 {
			d.App = sc.Apps[0].SDKAppID
		}
		if d.Certificate == 0 {
			for _, c := range sc.Certificates {
				if c.App == d.App {
					d.Certificate = c.ID
					break
				}
			}
		}
	}
}

// errorAt is a validation error at a place in the file.
func (sc *Scenario) errorAt(p Pos, format string, args ...any) error {
	return &yamlfile.Error{File: sc.File, Line: p.Line, Column: p.Column, Msg: fmt.Sprintf(format, args...)}
}

// validate checks what the YAML shape cannot: references between parts of the scenario.
func (sc *Scenario) validate() error {
	top := Pos{Line: 1, Column: 1}
	if sc.Name == "" {
		return sc.errorAt(top, "the scenario needs a name saying what behaviour it checks")
	}
	if len(sc.Devices) == 0 {
		return sc.errorAt(top, "the scenario needs at least one device under devices:")
	}
	if sc.Replay != nil && sc.Replay.Seed == nil && sc.Replay.Settle == nil {
		return sc.errorAt(sc.keyPos("replay"), "replay: say what it pins: seed: N (the world's seed) and/or settle: false (steps back to back)")
	}
	apps := map[uint64]bool{}
	for _, a := range sc.Apps {
		if a.SDKAppID == 0 {
			return sc.errorAt(top, "apps: sdkAppId is required")
		}
		apps[a.SDKAppID] = true
		// Templates a relay would refuse are refused before anything runs.
		if _, _, err := relay.ValidatePushTemplates(a.DefaultLocale, a.PushTemplates); err != nil {
			return sc.errorAt(sc.keyPos("apps"), "app %d: %v", a.SDKAppID, err)
		}
	}
	certs := map[int64]Certificate{}
	for _, c := range sc.Certificates {
		if !apps[c.App] {
			return sc.errorAt(top, "certificate %d: app %d is not in apps", c.ID, c.App)
		}
		if c.API != "v1" && c.API != "legacy" {
			return sc.errorAt(top, "certificate %d: api %q: use v1 or legacy", c.ID, c.API)
		}
		certs[c.ID] = c
	}
	devices := map[string]bool{}
	for _, d := range sc.Devices {
		if d.ID == "" || d.User == "" {
			return sc.errorAt(top, "devices: each device needs an id and a user")
		}
		if devices[d.ID] {
			return sc.errorAt(top, "devices: %q is listed twice", d.ID)
		}
		if d.Locale != "" {
			if _, err := relay.CanonicalLocale(d.Locale); err != nil {
				return sc.errorAt(sc.keyPos("devices"), "device %q: locale %q: %v; use a BCP 47 tag such as en, zh-CN or zh-HK", d.ID, d.Locale, err)
			}
		}
		if !apps[d.App] {
			return sc.errorAt(top, "device %q: app %d is not in apps", d.ID, d.App)
		}
		if c, ok := certs[d.Certificate]; !ok || c.App != d.App {
			return sc.errorAt(top, "device %q: certificate %d is not a certificate of app %d", d.ID, d.Certificate, d.App)
		}
		devices[d.ID] = true
	}
	known := func(p Pos, what, dev string) error {
		if !devices[dev] {
			return sc.errorAt(p, "%s: unknown device %q: expected one of %s", what, dev, strings.Join(sortedKeys(devices), ", "))
		}
		return nil
	}
	users := sc.usersApps()
	groups := map[string]bool{}
	for i, st := range sc.Steps {
		what := fmt.Sprintf("step %d (%s)", i+1, st.Kind)
		var err error
		switch {
		case slices.Contains(DeviceSteps, st.Kind):
			err = known(st.Pos, what, st.Device)
		case st.Kind == StepSwitchUser:
			if err = known(st.Pos, what, st.Device); err == nil && st.User == "" {
				err = sc.errorAt(st.Pos, "%s: to whom? switchUser: {device: %s, user: bob}", what, st.Device)
			}
		case slices.Contains(NodeSteps, st.Kind) && st.Node.OwnerOf != "" && users[st.Node.OwnerOf] == nil:
			err = sc.errorAt(st.Pos, "%s: ownerOf %q: no phone of the scenario is that user's: expected one of %s", what, st.Node.OwnerOf,
				strings.Join(sortedKeys(users), ", "))
		case slices.Contains(NodeSteps, st.Kind) && st.Node.OwnerOf != "" && len(users[st.Node.OwnerOf]) > 1:
			// A partition is an app's user's: the same user ID in two apps is two users, whose
			// partitions may lie on different nodes.
			apps := make([]string, 0, len(users[st.Node.OwnerOf]))
			for _, app := range slices.Sorted(slices.Values(users[st.Node.OwnerOf])) {
				apps = append(apps, strconv.FormatUint(app, 10))
			}
			last := len(apps) - 1
			err = sc.errorAt(st.Pos, "%s: ownerOf %q: that user has phones in apps %s and %s, each its own user with its own partition: ownerOf names a user of one app; give the user another ID in the other apps, or name the node",
				what, st.Node.OwnerOf, strings.Join(apps[:last], ", "), apps[last])
		case st.Kind == StepKick:
			if st.User == "" {
				err = sc.errorAt(st.Pos, "%s: which user? kick: {user: alice}", what)
			}
		case st.Kind == StepSend || st.Kind == StepSendGroup:
			s := st.Send
			if err = known(st.Pos, what+": from", s.From); err != nil {
				break
			}
			switch {
			case st.Kind == StepSend && (s.To == "" || s.Group != ""):
				err = sc.errorAt(st.Pos, "%s: send needs to: (a user); use sendGroup for groups", what)
			case st.Kind == StepSendGroup && (s.Group == "" || s.To != ""):
				err = sc.errorAt(st.Pos, "%s: sendGroup needs group: (a group created by createGroup)", what)
			case st.Kind == StepSendGroup && !groups[s.Group]:
				err = sc.errorAt(st.Pos, "%s: group %q is not created by an earlier createGroup step", what, s.Group)
			}
		case st.Kind == StepCreateGroup:
			if st.CreateGroup.ID == "" || len(st.CreateGroup.Members) == 0 {
				err = sc.errorAt(st.Pos, "%s: needs id and members", what)
			} else if why := relay.DisplayNameProblem("name", st.CreateGroup.Name); why != "" {
				err = sc.errorAt(st.Pos, "%s: %s", what, why)
			}
			groups[st.CreateGroup.ID] = true
		case st.Kind == StepSetReceiveOpt:
			if err = known(st.Pos, what, st.ReceiveOpt.Device); err == nil && st.ReceiveOpt.Opt != "receive" && st.ReceiveOpt.Opt != "notNotify" {
				err = sc.errorAt(st.Pos, "%s: opt %q: use receive or notNotify", what, st.ReceiveOpt.Opt)
			}
		case st.Kind == StepPushSettings:
			ps := st.PushSettings
			switch {
			case (ps.User == "") == (ps.Device == ""):
				err = sc.errorAt(st.Pos, "%s: whose? give user (the administrator sets them: pushSettings: {user: alice, enabled: false}) "+
					"or device (the app on that phone sets its user's: pushSettings: {device: alice-phone, enabled: false}), not both", what)
			case ps.Enabled == nil:
				err = sc.errorAt(st.Pos, "%s: enabled is required: false turns the user's pushes off, true turns them on", what)
			case ps.Device != "" && ps.App != 0:
				err = sc.errorAt(st.Pos, "%s: app goes with user: the app on device %s sets its own app's settings", what, ps.Device)
			case ps.Device != "":
				err = known(st.Pos, what, ps.Device)
			case ps.App != 0 && !apps[ps.App]:
				err = sc.errorAt(st.Pos, "%s: app %d is not in apps", what, ps.App)
			}
		case st.Kind == StepProfile:
			p := st.Profile
			switch why := relay.DisplayNameProblem("nickname", p.Nickname); {
			case p.User == "":
				err = sc.errorAt(st.Pos, "%s: whose? profile: {user: alice, nickname: Alice}", what)
			case why != "":
				err = sc.errorAt(st.Pos, "%s: %s", what, why)
			case p.App != 0 && !apps[p.App]:
				err = sc.errorAt(st.Pos, "%s: app %d is not in apps", what, p.App)
			}
		case st.Kind == StepFault:
			if st.Fault.Device != "" {
				err = known(st.Pos, what, st.Fault.Device)
			}
		case st.Kind == StepNetwork:
			err = sc.validateNetwork(st.Pos, what, st.Network, known)
		case st.Kind == StepWait:
			if st.Wait <= 0 {
				err = sc.errorAt(st.Pos, "%s: wait needs a positive duration such as 10s", what)
			}
		case st.Kind == StepExpect:
			err = sc.validateExpect(st.Pos, what, st.Expect, known)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (sc *Scenario) validateNetwork(p Pos, what string, n *NetworkStep, known func(Pos, string, string) error) error {
	switch {
	case n.Link != "" && n.Link != "fcm":
		return sc.errorAt(p, "%s: link %q: the only named link is fcm (the relay's link to FCM); for a phone's link write device: ID", what, n.Link)
	case n.Link == "fcm" && n.Device != "":
		return sc.errorAt(p, "%s: give device (a phone's link to the relay) or link: fcm, not both", what)
	case n.Link == "fcm" && (n.Partition == nil || n.Latency != 0 || n.Jitter != 0 || n.Loss != nil):
		return sc.errorAt(p, "%s: link fcm takes partition: true or false, and nothing else", what)
	case n.Link == "":
		if err := known(p, what, n.Device); err != nil {
			return err
		}
		if n.Partition == nil && n.Latency == 0 && n.Jitter == 0 && n.Loss == nil {
			return sc.errorAt(p, "%s: say what changes: partition, latency, jitter or loss", what)
		}
		if n.Loss != nil && (*n.Loss < 0 || *n.Loss > 1) {
			return sc.errorAt(p, "%s: loss %v: expected a share between 0 and 1", what, *n.Loss)
		}
	}
	return nil
}

func (sc *Scenario) validateExpect(p Pos, what string, e *Expect, known func(Pos, string, string) error) error {
	if err := known(p, what, e.Device); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{e.Push != nil, e.NoPush != nil, e.Delivered != nil, e.Synced != nil, e.Kicked != nil, e.Trace != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return sc.errorAt(p, "%s: an expectation names its device and exactly one of push, noPush, delivered, synced, kicked, trace", what)
	}
	switch {
	case e.Push != nil && e.Push.Within <= 0:
		return sc.errorAt(p, "%s: push needs within: such as 5s", what)
	case e.NoPush != nil && e.NoPush.For <= 0:
		return sc.errorAt(p, "%s: noPush needs for: such as 1m", what)
	case e.Delivered != nil && e.Delivered.Within <= 0:
		return sc.errorAt(p, "%s: delivered needs within: such as 2s", what)
	case e.Kicked != nil && e.Kicked.Within <= 0:
		return sc.errorAt(p, "%s: kicked needs within: such as 2s", what)
	case e.Trace != nil && e.Trace.Reason == "":
		return sc.errorAt(p, "%s: trace needs reason: such as pushed or logged-out", what)
	case e.Push != nil && e.Push.Count != nil && *e.Push.Count < 0:
		return sc.errorAt(p, "%s: push count must not be negative", what)
	case e.Push != nil && e.Push.Badge != nil && *e.Push.Badge < 0:
		return sc.errorAt(p, "%s: push badge %d: expected the unread count, 0 or more", what, *e.Push.Badge)
	}
	if e.Push != nil {
		if _, empty := e.Push.Data[""]; empty {
			return sc.errorAt(p, "%s: push data: a key is empty; name the payload's keys (conv, seq, msgId, sender, ext, summary)", what)
		}
	}
	return nil
}

// usersApps is each user the scenario's phones are or become by switchUser, with the apps of
// those phones, each once, in the order they first appear: the devices', then the switchUser
// steps'. A switchUser naming no device of the scenario adds nothing (validate refuses it).
func (sc *Scenario) usersApps() map[string][]uint64 {
	users := map[string][]uint64{}
	add := func(user string, app uint64) {
		if !slices.Contains(users[user], app) {
			users[user] = append(users[user], app)
		}
	}
	appOf := map[string]uint64{}
	for _, d := range sc.Devices {
		appOf[d.ID] = d.App
		add(d.User, d.App)
	}
	for _, st := range sc.Steps {
		if app, ok := appOf[st.Device]; ok && st.Kind == StepSwitchUser && st.User != "" {
			add(st.User, app)
		}
	}
	return users
}

// sortedKeys is m's keys in order, for the lists an error offers.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
