// Package jsonappend appends JSON text by hand, byte for byte as encoding/json writes it, for
// the frames written once per push (a reply to a send, a device channel's message), where a
// reflective encoder costs several times as much as the text itself.
package jsonappend

import (
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
	"strconv"
)

// String appends s quoted as encoding/json quotes it: <, > and &, U+2028 and U+2029 escaped
// too. It reports false, b unchanged, when s is not valid UTF-8, which encoding/json would
// repair: the caller then marshals the whole value with encoding/json.
func String(b []byte, s string) ([]byte, bool) {
	start := len(b)
	out, err := jsontext.AppendQuote(b, s)
	if err != nil {
		return b[:start], false
	}
	if bytes.ContainsAny(out[start:], "<>&\u2028\u2029") {
		j, _ := json.Marshal(s) // valid UTF-8: cannot fail
		out = append(out[:start], j...)
	}
	return out, true
}

// Writer appends JSON text to B by hand: the frames' hand-written encoders write through it.
// A string that is not valid UTF-8 marks it failed (OK false), and the caller then marshals
// the whole value with encoding/json.
type Writer struct {
	B      []byte
	failed bool
}

// OK reports whether every string written was valid UTF-8, so that B is what encoding/json
// would have written.
func (w *Writer) OK() bool { return !w.failed }

// Raw appends s as it is: punctuation and member names with their quotes.
func (w *Writer) Raw(s string) { w.B = append(w.B, s...) }

// Str appends s quoted as encoding/json quotes it.
func (w *Writer) Str(s string) {
	var ok bool
	if w.B, ok = String(w.B, s); !ok {
		w.failed = true
	}
}

// OptStr appends a member named by prefix (its comma, name and colon) when s is not empty, as
// omitempty does.
func (w *Writer) OptStr(prefix, s string) {
	if s != "" {
		w.Raw(prefix)
		w.Str(s)
	}
}

// Int appends n in decimal.
func (w *Writer) Int(n int64) { w.B = strconv.AppendInt(w.B, n, 10) }
