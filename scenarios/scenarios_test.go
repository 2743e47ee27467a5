package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/pushlab/pushlab/internal/duration"
	"github.com/pushlab/pushlab/internal/yamlfile"
)

const header = "name: x\ndevices:\n  - {id: alice-phone, user: alice}\n  - {id: bob-phone, user: bob}\nsteps:\n"

func TestParseErrorsNameFileLineColumn(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		line, col  int
		want       string
	}{
		{"unknown step", "  - kil: alice-phone\n", 6, 5, `unknown step "kil"`},
		{"suggestion", "  - logot: alice-phone\n", 6, 5, `did you mean "logout"?`},
		{"unknown device", "  - kill: carol-phone\n", 6, 5, `unknown device "carol-phone": expected one of alice-phone, bob-phone`},
		{"bad duration", "  - wait: soon\n", 6, 11, `duration "soon"`},
		{"unknown field", "  - send: {from: bob-phone, to: alice, txt: hi}\n", 6, 40, `unknown field "txt"`},
		{"missing window", "  - expect: {device: alice-phone, push: {}}\n", 6, 5, "push needs within"},
		{"two kinds", "  - expect: {device: alice-phone, push: {within: 1s}, noPush: {for: 1s}}\n", 6, 5, "exactly one of"},
		{"send without to", "  - send: {from: bob-phone, text: hi}\n", 6, 5, "send needs to:"},
		{"unknown group", "  - sendGroup: {from: bob-phone, group: team, text: hi}\n", 6, 5, `group "team" is not created`},
		{"not a map", "  - kill\n", 6, 5, "a step is a map with one key"},
		{"two keys", "  - {kill: alice-phone, logout: alice-phone}\n", 6, 5, "a step is a map with one key"},
		{"unread on kill", "  - kill: {device: alice-phone, unread: 3}\n", 6, 5, "kill takes no unread"},
		{"network link", "  - network: {link: apns, partition: true}\n", 6, 5, `link "apns": the only named link is fcm`},
		{"network nothing", "  - network: {device: alice-phone}\n", 6, 5, "say what changes"},
		{"network fcm latency", "  - network: {link: fcm, latency: 1s}\n", 6, 5, "link fcm takes partition"},
		{"network loss", "  - network: {device: alice-phone, loss: 2}\n", 6, 5, "loss 2: expected a share"},
		{"bad opt", "  - setReceiveOpt: {device: alice-phone, conv: c2c_bob, opt: mute}\n", 6, 5, `opt "mute"`},
		{"count on holdAcks", "  - holdAcks: {device: alice-phone, count: 2}\n", 6, 5, "holdAcks takes no count or reverse"},
		{"negative count", "  - releaseAcks: {device: alice-phone, count: -1}\n", 6, 5, "releaseAcks count -1"},
		{"negative badge", "  - expect: {device: alice-phone, push: {within: 5s, badge: -1}}\n", 6, 5, "push badge -1"},
		{"badge not a number", "  - expect: {device: alice-phone, push: {within: 5s, badge: three}}\n", 6, 61, "cannot unmarshal string"},
		{"data not a map", "  - expect: {device: alice-phone, push: {within: 5s, data: [conv]}}\n", 6, 60, "sequence was used where mapping is expected"},
		{"data value not a scalar", "  - expect: {device: alice-phone, push: {within: 5s, data: {conv: [a]}}}\n", 6, 67, "cannot unmarshal"},
		{"empty data key", "  - expect: {device: alice-phone, push: {within: 5s, data: {'': a}}}\n", 6, 5, "a key is empty"},
		{"profile without user", "  - profile: {nickname: Bob}\n", 6, 5, "profile: {user: alice, nickname: Alice}"},
		{"profile field", "  - profile: {user: bob, name: Bob}\n", 6, 26, `unknown field "name"`},
		{"long nickname", "  - profile: {user: bob, nickname: " + strings.Repeat("x", 129) + "}\n", 6, 5, "nickname is 129 bytes; the limit is 128"},
		{"nickname with a newline", "  - profile: {user: bob, nickname: \"Bob\\nSmith\"}\n", 6, 5, `nickname "Bob\nSmith" has a control character`},
		{"nickname with DEL", "  - profile: {user: bob, nickname: \"Bob\\x7f\"}\n", 6, 5, "has a control character"},
		{"nickname not UTF-8", "  - profile: {user: bob, nickname: !!binary /w==}\n", 6, 5, "is not valid UTF-8"},
		{"group name with a tab", "  - createGroup: {id: g, members: [alice, bob], name: \"a\\tb\"}\n", 6, 5, `name "a\tb" has a control character`},
		{"long group name", "  - createGroup: {id: g, members: [alice, bob], name: " + strings.Repeat("x", 129) + "}\n", 6, 5, "name is 129 bytes; the limit is 128"},
		{"node step without a node", "  - killNode: {}\n", 6, 5, "killNode needs the node (n1, n2, …) or ownerOf: a user"},
		{"node and ownerOf", "  - killNode: {node: n1, ownerOf: carol}\n", 6, 5, "killNode names the node n1 and ownerOf: carol: give one of them"},
		{"restart the owner", "  - restartNode: {ownerOf: carol}\n", 6, 5, "restartNode {ownerOf: carol}: needs the node"},
		{"heal the owner", "  - partitionNode: {ownerOf: alice, from: db, heal: true}\n", 6, 5, "heal needs the node"},
		{"owner of nobody", "  - killNode: {ownerOf: carol}\n", 6, 5, `ownerOf "carol": no phone of the scenario is that user's: expected one of alice, bob`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(header+tc.body))
			require.Error(t, err)
			var ye *yamlfile.Error
			require.True(t, errors.As(err, &ye), "want a positioned error, got %v", err)
			require.Equal(t, tc.line, ye.Line, err.Error())
			require.Equal(t, tc.col, ye.Column, err.Error())
			require.Contains(t, err.Error(), tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "s.yaml:"))
		})
	}
	const twoApps = "name: x\napps: [{sdkAppId: 5}, {sdkAppId: 6}]\ncertificates: [{id: 1, app: 5}, {id: 2, app: 6}]\n"
	for _, tc := range []struct{ body, want string }{
		{"devices: [{id: a, user: u}]\nsteps: [{kill: a}]\n", "needs a name"},
		{"name: x\nsteps: [{wait: 1s}]\n", "at least one device"},
		{"name: x\ndevices: [{id: a, user: u}, {id: a, user: v}]\nsteps: [{wait: 1s}]\n", "listed twice"},
		{"name: x\napps: [{sdkAppId: 5}]\ncertificates: [{id: 1, app: 6}]\ndevices: [{id: a, user: u}]\nsteps: [{wait: 1s}]\n", "app 6 is not in apps"},
		{"name: x\ncertificates: [{id: 1, api: v2}]\ndevices: [{id: a, user: u}]\nsteps: [{wait: 1s}]\n", `api "v2"`},
		{"name: x\ndevices: [{id: a, user: u, locale: 'zh@CN'}]\nsteps: [{wait: 1s}]\n", `s.yaml:2:10: device "a": locale "zh@CN"`},
		{"name: x\napps: [{sdkAppId: 5, pushTemplates: {en: {summaryBody: '{n} new'}}}]\ndevices: [{id: a, user: u}]\nsteps: [{wait: 1s}]\n",
			`s.yaml:2:7: app 5: pushTemplates[en].summaryBody: unknown placeholder {n}: this field takes {count}`},
		{"name: x\napps: [{sdkAppId: 5, pushTemplates: {'e n': {summaryBody: x}}}]\ndevices: [{id: a, user: u}]\nsteps: [{wait: 1s}]\n",
			`pushTemplates key "e n"`},
		{"name: x\napps: [{sdkAppId: 5, pushTemplates: {en: {body: x}}}]\ndevices: [{id: a, user: u}]\nsteps: [{wait: 1s}]\n", `unknown field "body"`},
		// The same user ID in two apps is two users with two partitions: ownerOf cannot tell
		// whose, whether the second phone is the user's from the start or by switchUser.
		{twoApps + "devices: [{id: a, user: u, app: 5, certificate: 1}, {id: b, user: u, app: 6, certificate: 2}]\nsteps:\n  - killNode: {ownerOf: u}\n",
			`s.yaml:6:5: step 1 (killNode): ownerOf "u": that user has phones in apps 5 and 6, each its own user with its own partition`},
		{twoApps + "devices: [{id: a, user: u, app: 5, certificate: 1}, {id: b, user: v, app: 6, certificate: 2}]\nsteps:\n  - switchUser: {device: b, user: u}\n  - pauseNode: {ownerOf: u, for: 1s}\n",
			`s.yaml:7:5: step 2 (pauseNode): ownerOf "u": that user has phones in apps 5 and 6`},
		{"name: x\napps: [{sdkAppId: 5}, {sdkAppId: 6}, {sdkAppId: 7}]\ncertificates: [{id: 1, app: 5}, {id: 2, app: 6}, {id: 3, app: 7}]\n" +
			"devices: [{id: a, user: u, app: 5, certificate: 1}, {id: b, user: u, app: 6, certificate: 2}, {id: c, user: u, app: 7, certificate: 3}]\n" +
			"steps:\n  - killNode: {ownerOf: u}\n", `ownerOf "u": that user has phones in apps 5, 6 and 7, each`},
	} {
		_, err := Parse("s.yaml", []byte(tc.body))
		require.ErrorContains(t, err, tc.want)
	}
}

func TestDefaultsAreFilledIn(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(header+"  - login: alice-phone\n  - background: {device: alice-phone, unread: 2}\n"))
	require.NoError(t, err)
	require.Equal(t, []App{{SDKAppID: DefaultSDKAppID}}, sc.Apps)
	require.Equal(t, []Certificate{{ID: DefaultCertificate, App: DefaultSDKAppID, PackageName: DefaultPackage, API: "v1"}}, sc.Certificates)
	require.Equal(t, DefaultCertificate, sc.Devices[0].Certificate)
	require.Equal(t, "android", sc.Devices[1].Platform)
	require.Equal(t, Step{Kind: StepBackground, Pos: Pos{Line: 7, Column: 5}, Device: "alice-phone", Unread: 2}, sc.Steps[1])
}

// The ack steps read in both forms and are written back in the form that reads the same.
func TestAckStepsReadAndWriteBack(t *testing.T) {
	requireReadAndWriteBack(t, "  - holdAcks: alice-phone\n  - releaseAcks: alice-phone\n"+
		"  - releaseAcks: {device: alice-phone, count: 2, reverse: true}\n",
		[]Step{{Kind: StepHoldAcks, Device: "alice-phone"}, {Kind: StepReleaseAcks, Device: "alice-phone"},
			{Kind: StepReleaseAcks, Device: "alice-phone", Count: 2, Reverse: true}},
		"releaseAcks:\n    device: alice-phone\n    count: 2\n    reverse: true")
}

// The node steps read in both forms, by node or by the holder of a user's partition, and are
// written back in the form that reads the same.
func TestNodeStepsReadAndWriteBack(t *testing.T) {
	requireReadAndWriteBack(t, "  - killNode: n2\n  - killNode: {ownerOf: alice}\n"+
		"  - pauseNode: {ownerOf: bob, for: 7s}\n  - partitionNode: {ownerOf: alice, from: db}\n  - restartNode: n2\n",
		[]Step{{Kind: StepKillNode, Node: &NodeStep{Node: "n2"}}, {Kind: StepKillNode, Node: &NodeStep{OwnerOf: "alice"}},
			{Kind: StepPauseNode, Node: &NodeStep{OwnerOf: "bob", For: duration.Of(7 * time.Second)}},
			{Kind: StepPartitionNode, Node: &NodeStep{OwnerOf: "alice", From: "db"}}, {Kind: StepRestartNode, Node: &NodeStep{Node: "n2"}}},
		"- killNode: n2\n", "- killNode:\n    ownerOf: alice\n")
}

// requireReadAndWriteBack parses steps (after header) to want, writes them, finds each of
// written in what it wrote, and parses that back to want.
func requireReadAndWriteBack(t *testing.T, steps string, want []Step, written ...string) {
	t.Helper()
	read := func(name string, b []byte) *Scenario {
		sc, err := Parse(name, b)
		require.NoError(t, err, "%s", b)
		for i := range sc.Steps {
			sc.Steps[i].Pos = Pos{}
		}
		return sc
	}
	sc := read("s.yaml", []byte(header+steps))
	require.Equal(t, want, sc.Steps)
	b, err := yaml.Marshal(map[string]any{"name": "x", "devices": sc.Devices, "steps": sc.Steps})
	require.NoError(t, err)
	for _, w := range written {
		require.Contains(t, string(b), w)
	}
	require.Equal(t, want, read("again.yaml", b).Steps)
}

func run(t *testing.T, body string, seed uint64) (*Scenario, string) {
	t.Helper()
	sc, err := Parse("s.yaml", []byte(body))
	require.NoError(t, err)
	res := Run(context.Background(), sc, Options{Seed: seed})
	b, err := json.Marshal(res)
	require.NoError(t, err)
	return sc, string(b)
}

func TestAFalseExpectationFailsAndSaysWhatWasSeen(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(header+`  - login: alice-phone
  - login: bob-phone
  - send: {from: bob-phone, to: alice, text: hi}
  - expect: {device: alice-phone, push: {within: 2s}}
  - expect: {device: alice-phone, delivered: {text: hi, within: 1s}}
`))
	require.NoError(t, err)
	res := Run(context.Background(), sc, Options{Seed: 1})
	require.False(t, res.Passed, "alice is online: no push")
	require.False(t, res.Expectations[0].Held)
	require.Equal(t, "no push", res.Expectations[0].Seen)
	require.True(t, res.Expectations[1].Held, "the message arrived live instead")
	require.Equal(t, 1, res.Totals.Expectations-res.Totals.Held)
}

func TestAStepThatCannotLandFailsTheScenario(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(header+"  - send: {from: bob-phone, to: alice, text: hi}\n"))
	require.NoError(t, err)
	res := Run(context.Background(), sc, Options{Seed: 1})
	require.False(t, res.Passed)
	require.Contains(t, res.Steps[0].Error, "bob-phone is not logged in")
}

// TestSameSeedSameReport runs a scenario twice with one seed: the reports (all of which lies
// outside the run object) are identical; another seed with network jitter differs.
func TestSameSeedSameReport(t *testing.T) {
	body := `name: jittery
network: {latency: 30ms, jitter: 40ms}
fcm: {latency: 100ms, jitter: 200ms}
devices:
  - {id: alice-phone, user: alice}
  - {id: bob-phone, user: bob}
steps:
  - login: alice-phone
  - login: bob-phone
  - kill: alice-phone
  - send: {from: bob-phone, to: alice, text: one}
  - send: {from: bob-phone, to: alice, text: two}
  - expect: {device: alice-phone, push: {within: 5s, count: 2}}
  - relaunch: alice-phone
  - expect: {device: alice-phone, synced: {count: 2}}
`
	_, a := run(t, body, 7)
	_, b := run(t, body, 7)
	require.Equal(t, a, b)
	_, c := run(t, body, 8)
	require.NotEqual(t, a, c)
}

// TestLibraryMatchesTheSchema checks every bundled scenario against the generated JSON Schema,
// so that the schema editors use accepts what the parser accepts.
func TestLibraryMatchesTheSchema(t *testing.T) {
	raw, err := Schema()
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("scenario.json", doc))
	schema, err := c.Compile("scenario.json")
	require.NoError(t, err)
	files, err := filepath.Glob("library/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		sc, err := Load(f)
		require.NoError(t, err, f)
		require.NotEmpty(t, sc.Steps)
		var v any
		data, err := yaml.YAMLToJSON(mustRead(t, f))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &v))
		require.NoError(t, schema.Validate(v), f)
	}
	// And the schema refuses what the parser refuses.
	var bad any
	require.NoError(t, json.Unmarshal([]byte(`{"name":"x","devices":[{"id":"a","user":"u"}],"steps":[{"kil":"a"}]}`), &bad))
	require.Error(t, schema.Validate(bad))

	// The node steps, form by form: the schema takes what the parser takes, and no more.
	for _, step := range []string{
		`killNode: n2`, `killNode: ''`, `killNode: {node: n2}`, `killNode: {ownerOf: alice}`, `killNode: {}`,
		`killNode: {ownerOf: ''}`, `killNode: {node: n1, ownerOf: alice}`, `killNode: {ownerOf: alice, for: 5s}`,
		`killNode: {node: n1, from: db}`, `restartNode: n2`, `restartNode: {node: n2}`, `restartNode: {ownerOf: alice}`,
		`pauseNode: {node: n2, for: 7s}`, `pauseNode: {ownerOf: alice, for: 7s}`, `pauseNode: {for: 7s}`, `pauseNode: {node: n2}`,
		`pauseNode: {node: n2, for: 7s, from: db}`, `partitionNode: {node: n2, from: db}`, `partitionNode: {ownerOf: alice, from: bus}`,
		`partitionNode: {node: n2, from: db, heal: true}`, `partitionNode: {ownerOf: alice, from: db, heal: true}`,
		`partitionNode: {ownerOf: alice, from: db, heal: false}`, `partitionNode: {from: db}`, `partitionNode: {node: n2}`,
		`partitionNode: {node: n2, from: nats}`, `partitionNode: {node: n2, from: db, for: 3s}`,
	} {
		body := "name: x\ncluster: {nodes: 3}\ndevices: [{id: a, user: alice}]\nsteps:\n  - " + step + "\n"
		_, perr := Parse("s.yaml", []byte(body))
		data, err := yaml.YAMLToJSON([]byte(body))
		require.NoError(t, err)
		var v any
		require.NoError(t, json.Unmarshal(data, &v))
		serr := schema.Validate(v)
		require.Equal(t, perr == nil, serr == nil, "%s: the parser says %v, the schema %v", step, perr, serr)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	sc, err := Expand([]string{path})
	require.NoError(t, err)
	require.Equal(t, []string{path}, sc)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// With count, a push expectation counts every push in its window, and each must match.
func TestPushCountCountsEveryPushAndEachMustMatch(t *testing.T) {
	steps := header + `  - login: alice-phone
  - login: bob-phone
  - kill: alice-phone
  - send: {from: bob-phone, to: alice, text: lunch?}
  - send: {from: bob-phone, to: alice, text: dinner?}
  - expect: {device: alice-phone, push: {within: 5s, count: %d, body: %s}}
`
	for _, tc := range []struct {
		count int
		body  string
		held  bool
	}{{2, "?", true}, {1, "lunch", false}, {2, "lunch", false}, {3, "?", false}} {
		sc, err := Parse("s.yaml", fmt.Appendf(nil, steps, tc.count, tc.body))
		require.NoError(t, err)
		res := Run(context.Background(), sc, Options{Seed: 1})
		require.Equal(t, tc.held, res.Expectations[0].Held, "count %d body %q: seen %s", tc.count, tc.body, res.Expectations[0].Seen)
	}
}

// An empty step ("-" alone or "- null") is refused where it stands, not accepted as a step of
// no kind (found by FuzzParse).
func TestEmptyStepIsRefusedWhereItStands(t *testing.T) {
	for _, body := range []string{header + "  - kill: alice-phone\n  -\n", header + "  - kill: alice-phone\n  - null\n", header + "  - kill: alice-phone\n  - ~\n"} {
		_, err := Parse("s.yaml", []byte(body))
		var ye *yamlfile.Error
		require.True(t, errors.As(err, &ye), "want a positioned error, got %v", err)
		require.Equal(t, 7, ye.Line, err.Error())
		require.Equal(t, 3, ye.Column, err.Error())
		require.Contains(t, err.Error(), "step 2 is empty")
	}
}

// A fault step adds a rule to those in force without bringing back what the earlier ones have
// spent: alice's 503 rule has two answers, one used before carol's rule is added, so alice's next
// push fails and the one after goes through (with no retries, each failure is final). Both modes.
func TestFaultStepsKeepWhatEarlierRulesHaveSpent(t *testing.T) {
	body := `name: spent faults stay spent
relay: {retry: {maxAttempts: 1}}
devices:
  - {id: alice-phone, user: alice}
  - {id: carol-phone, user: carol}
  - {id: bob-phone, user: bob}
steps:
  - login: alice-phone
  - login: carol-phone
  - login: bob-phone
  - kill: alice-phone
  - kill: carol-phone
  - fault: {device: alice-phone, status: 503, count: 2}
  - send: {from: bob-phone, to: alice, text: one}
  - expect: {device: alice-phone, trace: {reason: fcm-UNAVAILABLE}}
  - fault: {device: carol-phone, status: 500, count: 1}
  - send: {from: bob-phone, to: alice, text: two}
  - send: {from: bob-phone, to: carol, text: three}
  - expect: {device: carol-phone, trace: {reason: fcm-INTERNAL}}
  - send: {from: bob-phone, to: alice, text: four}
  - expect: {device: alice-phone, push: {within: 5s, count: 1, body: four}}
  - send: {from: bob-phone, to: carol, text: five}
  - expect: {device: carol-phone, push: {within: 5s, count: 1, body: five}}
`
	sc, err := Parse("s.yaml", []byte(body))
	require.NoError(t, err)
	for _, live := range []bool{false, true} {
		res := Run(context.Background(), sc, Options{Seed: 1, Live: live})
		require.True(t, res.Passed, "live %v: %+v", live, res.Expectations)
	}
}

// Push expectations check a push's Android channel, sound, click action and whether it is
// silent: each expectation that names another value fails and says what arrived.
func TestPushExpectationsCheckTheAndroidOptions(t *testing.T) {
	sc, err := Parse("s.yaml", []byte(`name: x
certificates: [{id: 6768, channelId: chat}]
devices:
  - {id: alice-phone, user: alice}
  - {id: bob-phone, user: bob}
steps:
  - login: alice-phone
  - login: bob-phone
  - kill: alice-phone
  - send: {from: bob-phone, to: alice, text: hi, offlinePush: {android: {sound: ring, clickAction: OPEN_CHAT}}}
  - expect: {device: alice-phone, push: {within: 5s, count: 1, channelId: chat, sound: ring, clickAction: OPEN_CHAT, silent: false}}
  - send: {from: bob-phone, to: alice, text: quiet, offlinePush: {silent: true}}
  - expect: {device: alice-phone, push: {within: 5s, count: 1, channelId: other}}
  - send: {from: bob-phone, to: alice, text: quiet again, offlinePush: {silent: true}}
  - expect: {device: alice-phone, push: {within: 5s, count: 1, silent: false}}
  - send: {from: bob-phone, to: alice, text: loud}
  - expect: {device: alice-phone, push: {within: 5s, count: 1, clickAction: OPEN_CHAT}}
`))
	require.NoError(t, err)
	res := Run(context.Background(), sc, Options{Seed: 1})
	var held []bool
	for _, e := range res.Expectations {
		held = append(held, e.Held)
	}
	require.Equal(t, []bool{true, false, false, false}, held)
	require.Contains(t, res.Expectations[1].Seen, `"bob"/"quiet" badge 2 key "c2c_bob" silent channel "chat"`, "a silent push carries the channel in its data")
	require.Contains(t, res.Expectations[1].Text, `channel "other"`)
	require.Contains(t, res.Expectations[2].Text, "with a notification")
	require.NotContains(t, res.Expectations[3].Seen, "click")
}
