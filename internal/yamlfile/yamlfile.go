// Package yamlfile decodes pushlab's YAML files (scenarios, relay and fakefcm configuration)
// strictly, with errors that name file:line:column and show the offending line.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/token"
)

// MaxSize is the largest YAML file pushlab reads; anything bigger is refused before parsing.
const MaxSize = 4 << 20

// ReadFile reads a YAML file of at most MaxSize bytes. A bigger one is refused without being
// read whole (it may be a device such as /dev/zero, or a log given by mistake).
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: larger than the %d-byte limit for YAML files; is this the right file?", path, MaxSize)
	}
	return data, nil
}

// Decode decodes data, read from the file called name, into v. Unknown fields are errors. The
// error reads "name:line:column: message" followed by the source around the problem.
func Decode(name string, data []byte, v any) (err error) {
	if len(data) > MaxSize {
		return fmt.Errorf("%s: %d bytes: larger than the %d-byte limit for YAML files; split it up", name, len(data), MaxSize)
	}
	// go-yaml panics on a few malformed inputs (a tag such as "!" on a mapping where a list is
	// expected: goccy/go-yaml#735, found by FuzzParse); a bad file must be an error, not a crash.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: not a file pushlab can read: the YAML decoder failed (%v); check the file's syntax, tags (!…) and anchors", name, p)
		}
	}()
	if err := guard(name, data); err != nil {
		return err
	}
	err = yaml.NewDecoder(bytes.NewReader(data), yaml.DisallowUnknownField()).Decode(v)
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
	if longLine(ye.GetToken()) {
		// go-yaml's excerpt takes time quadratic in the tokens of the line and would print all
		// of it: the place and the message say enough.
		return &Error{File: name, Line: pos.Line, Column: pos.Column, Msg: ye.GetMessage()}
	}
	excerpt := yaml.FormatError(err, false, true)
	// FormatError starts with "[line:col] message"; keep the excerpt that follows.
	if i := strings.IndexByte(excerpt, '\n'); i >= 0 {
		excerpt = excerpt[i:]
	} else {
		excerpt = ""
	}
	return &Error{File: name, Line: pos.Line, Column: pos.Column, Msg: ye.GetMessage(), excerpt: maskSecrets(excerpt)}
}

// secretValue matches a key that holds a secret (an app's secretKey, a certificate's serverKey
// or service account private_key, an admin key, a password) and what follows it on the line.
var secretValue = regexp.MustCompile(`(?i)((?:secret|server_?key|private_?key|password|admin_?key|api_?key)\w*["']?\s*:\s*)[^\n]+`)

// maskSecrets hides the values of secret keys in an excerpt: config files may hold secrets
// inline, and an error about a neighbouring line must not print them.
func maskSecrets(excerpt string) string {
	return secretValue.ReplaceAllString(excerpt, "${1}***")
}

// maxExcerptLine is the longest line an error shows the source of.
const maxExcerptLine = 1000

// longLine reports whether the line of tk is too long to show.
func longLine(tk *token.Token) bool {
	same := func(t *token.Token) bool { return t != nil && t.Position != nil && t.Position.Line == tk.Position.Line }
	n := 0
	for t := tk; same(t) && n <= maxExcerptLine; t = t.Prev {
		n += len(t.Origin)
	}
	for t := tk.Next; same(t) && n <= maxExcerptLine; t = t.Next {
		n += len(t.Origin)
	}
	return n > maxExcerptLine
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
