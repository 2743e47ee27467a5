// Package duration holds Duration, a time.Duration that reads and writes as Go duration text
// ("1m30s", "250ms") in JSON and YAML, as pushlab's configuration, APIs and scenario files
// spell durations.
package duration

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Duration is a time.Duration written as text. It also reads a bare number, as seconds, so that
// "retryAfter": 2 means two seconds, as an HTTP Retry-After header would.
type Duration time.Duration

// Of converts a time.Duration.
func Of(d time.Duration) Duration { return Duration(d) }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration as Go duration text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads Go duration text such as "90s" or "1h30m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: expected a number with a unit, like \"250ms\", \"30s\" or \"1h30m\"", b)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalJSON reads a JSON string of duration text, or a JSON number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] != '"' {
		var secs float64
		if err := json.Unmarshal(b, &secs); err != nil {
			return fmt.Errorf("duration %s: expected a string like \"30s\" or a number of seconds", b)
		}
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	return d.UnmarshalText([]byte(s))
}

// UnmarshalYAML reads duration text from a YAML scalar; an error carries the node's position so
// that the file's line and column are reported.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	text := node.String()
	if s, ok := node.(*ast.StringNode); ok {
		text = s.Value
	}
	if err := d.UnmarshalText([]byte(text)); err != nil {
		return &yaml.SyntaxError{Message: err.Error(), Token: node.GetToken()}
	}
	return nil
}
