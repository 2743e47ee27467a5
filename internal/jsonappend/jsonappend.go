// Package jsonappend appends JSON text by hand, byte for byte as encoding/json writes it, for
// the frames written once per push (a reply to a send, a device channel's message), where a
// reflective encoder costs several times as much as the text itself.
package jsonappend

import (
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
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
