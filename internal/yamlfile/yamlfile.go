// Package yamlfile decodes pushlab's YAML files (scenarios, relay and fakefcm configuration)
// strictly, with errors that name file:line:column and show the offending line.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/goccy/go-yaml"
)

// MaxSize is the largest YAML file pushlab reads; anything bigger is refused before parsing.
const MaxSize = 4 << 20

// Decode decodes data, read from the file called name, into v. Unknown fields are errors. The
// error reads "name:line:column: message" followed by the source around the problem.
func Decode(name string, data []byte, v any) error {
	if len(data) > MaxSize {
		return fmt.Errorf("%s: %d bytes: larger than the %d-byte limit for YAML files; split it up", name, len(data), MaxSize)
	}
	err := yaml.NewDecoder(bytes.NewReader(data), yaml.DisallowUnknownField()).Decode(v)
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: the file is empty", name)
	}
	return Errorf(name, err)
}

// Errorf formats a go-yaml error as "name:line:column: message" plus the source excerpt.
func Errorf(name string, err error) error {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	pos := ye.GetToken().Position
	excerpt := yaml.FormatError(err, false, true)
	// FormatError starts with "[line:col] message"; keep the excerpt that follows.
	if i := strings.IndexByte(excerpt, '\n'); i >= 0 {
		excerpt = excerpt[i:]
	} else {
		excerpt = ""
	}
	return &Error{File: name, Line: pos.Line, Column: pos.Column, Msg: ye.GetMessage(), excerpt: excerpt}
}

// Error is a problem at a place in a YAML file.
type Error struct {
	File         string
	Line, Column int
	Msg          string
	excerpt      string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s%s", e.File, e.Line, e.Column, e.Msg, e.excerpt)
}
