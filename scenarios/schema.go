package scenarios

import (
	"encoding/json"
	"reflect"
	"slices"

	"github.com/invopop/jsonschema"
	orderedmap "github.com/pb33f/ordered-map/v2"

	"github.com/pushlab/pushlab/internal/duration"
)

// Schema returns the JSON Schema of scenario files, generated from the Go types, so that editors
// can complete and check them (point yaml-language-server's schema setting at it).
func Schema() ([]byte, error) {
	r := schemaReflector()
	s := r.Reflect(&Scenario{})
	s.ID = "https://pushlab.dev/schemas/scenario.json"
	s.Title = "pushlab scenario"
	s.Description = "A pushsim scenario: devices, and steps that drive them and check what they observe."
	return json.MarshalIndent(s, "", "  ")
}

func schemaReflector() *jsonschema.Reflector {
	r := &jsonschema.Reflector{FieldNameTag: "yaml", RequiredFromJSONSchemaTags: true, DoNotReference: true, ExpandedStruct: true}
	durationType := reflect.TypeOf(duration.Duration(0))
	stepType := reflect.TypeOf(Step{})
	r.Mapper = func(t reflect.Type) *jsonschema.Schema {
		switch t {
		case durationType:
			return &jsonschema.Schema{Type: "string", Pattern: `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`,
				Description: "a duration such as 250ms, 30s or 1h30m", Examples: []any{"5s"}}
		case stepType:
			return stepSchema()
		}
		return nil
	}
	return r
}

// stepSchema describes a step: a map with one key, the step's name.
func stepSchema() *jsonschema.Schema {
	sub := &jsonschema.Reflector{FieldNameTag: "yaml", RequiredFromJSONSchemaTags: true, DoNotReference: true, ExpandedStruct: true}
	sub.Mapper = func(t reflect.Type) *jsonschema.Schema {
		if t == reflect.TypeOf(duration.Duration(0)) {
			return &jsonschema.Schema{Type: "string", Pattern: `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}
		}
		return nil
	}
	strip := func(s *jsonschema.Schema) *jsonschema.Schema { s.Version, s.ID = "", ""; return s }
	one := func(name string, value *jsonschema.Schema) *jsonschema.Schema {
		props := jsonschema.NewProperties()
		props.Set(name, value)
		return &jsonschema.Schema{Type: "object", Properties: props, Required: []string{name}, AdditionalProperties: jsonschema.FalseSchema}
	}
	nodeName := &jsonschema.Schema{Type: "string", MinLength: ptr(uint64(1)), Description: "the node, n1, n2, …"}
	var alts []*jsonschema.Schema
	deviceLong := strip(sub.Reflect(&DeviceStep{}))
	for _, k := range DeviceSteps {
		alts = append(alts, one(string(k), &jsonschema.Schema{OneOf: []*jsonschema.Schema{
			{Type: "string", Description: "the device's id"}, deviceLong}}))
	}
	alts = append(alts,
		one(string(StepSwitchUser), strip(sub.Reflect(&SwitchUserStep{}))),
		one(string(StepKick), &jsonschema.Schema{OneOf: []*jsonschema.Schema{{Type: "string"}, {Type: "object", Properties: props("user", &jsonschema.Schema{Type: "string"}), Required: []string{"user"}}}}),
		one(string(StepSend), strip(sub.Reflect(&SendStep{}))),
		one(string(StepSendGroup), strip(sub.Reflect(&SendStep{}))),
		one(string(StepCreateGroup), strip(sub.Reflect(&CreateGroupStep{}))),
		one(string(StepSetReceiveOpt), strip(sub.Reflect(&ReceiveOptStep{}))),
		one(string(StepPushSettings), strip(sub.Reflect(&PushSettingsStep{}))),
		one(string(StepProfile), strip(sub.Reflect(&ProfileStep{}))),
		one(string(StepFault), strip(sub.Reflect(&FaultStep{}))),
		one(string(StepNetwork), strip(sub.Reflect(&NetworkStep{}))),
		one(string(StepRestartRelay), &jsonschema.Schema{Type: "null"}),
		one(string(StepKillNode), &jsonschema.Schema{OneOf: []*jsonschema.Schema{nodeName, nodeStepSchema(sub, "node", "ownerOf")}}),
		one(string(StepRestartNode), &jsonschema.Schema{OneOf: []*jsonschema.Schema{nodeName, nodeStepSchema(sub, "node")}}),
		one(string(StepPauseNode), nodeStepSchema(sub, "node", "ownerOf", "for")),
		one(string(StepPartitionNode), nodeStepSchema(sub, "node", "ownerOf", "from", "heal")),
		one(string(StepWait), &jsonschema.Schema{Type: "string", Pattern: `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}),
		one(string(StepExpect), strip(sub.Reflect(&Expect{}))),
	)
	return &jsonschema.Schema{OneOf: alts, Description: "a step: a map with one key, the step's name"}
}

// nodeStepSchema is a node step's long form with the fields that step takes: the node or the
// holder of a user's partition (ownerOf), exactly one of them, and what the step needs besides
// (pauseNode its for, partitionNode its from; heal only with the node, as the parser asks).
func nodeStepSchema(sub *jsonschema.Reflector, fields ...string) *jsonschema.Schema {
	all := sub.Reflect(&NodeStep{})
	s := &jsonschema.Schema{Type: "object", Properties: jsonschema.NewProperties(), AdditionalProperties: jsonschema.FalseSchema}
	for _, f := range fields {
		fs, _ := all.Properties.Get(f)
		if f == "node" || f == "ownerOf" {
			fs.MinLength = ptr(uint64(1))
		}
		s.Properties.Set(f, fs)
	}
	if slices.Contains(fields, "ownerOf") {
		s.OneOf = []*jsonschema.Schema{{Required: []string{"node"}}, {Required: []string{"ownerOf"}}}
	} else {
		s.Required = []string{"node"}
	}
	for _, f := range fields {
		if f == "for" || f == "from" {
			s.Required = append(s.Required, f)
		}
	}
	if slices.Contains(fields, "heal") {
		s.If = &jsonschema.Schema{Properties: props("heal", &jsonschema.Schema{Const: true}), Required: []string{"heal"}}
		s.Then = &jsonschema.Schema{Required: []string{"node"}}
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func props(name string, s *jsonschema.Schema) *orderedmap.OrderedMap[string, *jsonschema.Schema] {
	p := jsonschema.NewProperties()
	p.Set(name, s)
	return p
}
