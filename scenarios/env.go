package scenarios

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pushlab/pushlab/internal/yamlfile"
)

// Lookup finds an environment variable's value, as os.LookupEnv does; tests pass their own.
type Lookup func(name string) (value string, ok bool)

// varRef is a reference to an environment variable in a scenario file: ${NAME}.
var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// plainSafe is what a value may hold to stand in an unquoted scalar as it is: nothing YAML would
// read as structure (a comment, a key, a flow collection, a quote).
var plainSafe = regexp.MustCompile(`^[A-Za-z0-9_.:/+=@~%-]*$`)

// expandVars replaces every ${NAME} in the file's values with the variable's value, before the
// file is parsed, so that a secret or a phone's token stays out of the file. $${ stands for a
// literal ${. Comments are left as they are. A value goes in as written where it stands in an
// unquoted scalar (so that `id: ${CERT}` is a number), escaped inside a quoted one; an unset
// variable, a value on several lines, or one YAML would read as structure where it stands
// unquoted, is an error at its file:line:column.
func expandVars(name string, data []byte, lookup Lookup) ([]byte, error) {
	if !strings.Contains(string(data), "${") {
		return data, nil
	}
	lines := strings.SplitAfter(string(data), "\n")
	var out strings.Builder
	for i, line := range lines {
		l, err := expandLine(line, func(col int, msg string, args ...any) error {
			return &yamlfile.Error{File: name, Line: i + 1, Column: col, Msg: fmt.Sprintf(msg, args...)}
		}, lookup)
		if err != nil {
			return nil, err
		}
		out.WriteString(l)
	}
	return []byte(out.String()), nil
}

// expandLine expands the references on one line, keeping track of quotes and comments.
func expandLine(line string, errAt func(col int, msg string, args ...any) error, lookup Lookup) (string, error) {
	var out strings.Builder
	var quote byte // 0, '"' or '\''
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == 0 && c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			out.WriteString(line[i:]) // a comment: left as it is
			return out.String(), nil
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == '"' && c == '\\' && i+1 < len(line):
			out.WriteByte(c)
			i++
			c = line[i]
		case quote == '\'' && c == '\'' && i+1 < len(line) && line[i+1] == '\'':
			out.WriteByte(c)
			i++
		case quote != 0 && c == quote:
			quote = 0
		case c == '$' && strings.HasPrefix(line[i:], "$${"):
			out.WriteString("${")
			i += 2
			continue
		case c == '$' && strings.HasPrefix(line[i:], "${"):
			m := varRef.FindStringSubmatch(line[i:])
			if m == nil || !strings.HasPrefix(line[i:], m[0]) {
				return "", errAt(i+1, "%q: a variable is written ${NAME} (letters, digits and _); write $${ for a literal ${", line[i:min(len(line), i+12)])
			}
			v, ok := lookup(m[1])
			if !ok {
				return "", errAt(i+1, "${%s}: the environment variable %s is not set: set it (export %s=…) or write the value in the file", m[1], m[1], m[1])
			}
			if strings.ContainsAny(v, "\r\n") {
				return "", errAt(i+1, "${%s}: the value spans several lines; a scenario's values are one line", m[1])
			}
			switch quote {
			case '"':
				q := fmt.Sprintf("%q", v)
				v = q[1 : len(q)-1]
			case '\'':
				v = strings.ReplaceAll(v, "'", "''")
			default:
				if !plainSafe.MatchString(v) {
					return "", errAt(i+1, "${%s}: the value holds characters YAML would read as structure: quote the reference, as \"${%s}\"", m[1], m[1])
				}
			}
			out.WriteString(v)
			i += len(m[0]) - 1
			continue
		}
		out.WriteByte(c)
	}
	return out.String(), nil
}
