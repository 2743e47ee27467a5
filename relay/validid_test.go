package relay

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// idPattern is the rule validID checks by hand, kept here to hold the two to the same answers.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.@:+-]{1,128}$`)

// TestValidIDMatchesThePattern compares validID with the pattern on the edges of its rule: every
// byte alone, the length limits, and non-ASCII text.
func TestValidIDMatchesThePattern(t *testing.T) {
	cases := []string{"", "a", "alice", "c2c_alice", "group_team", "u@x.com", "a:b+c-d", "a b", "a\n", "\na",
		"é", "aé", "a\x00", strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129),
		strings.Repeat("é", 64), strings.Repeat("é", 100)}
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}), "x"+string([]byte{byte(b)})+"y")
	}
	for _, s := range cases {
		require.Equal(t, idPattern.MatchString(s), validID(s), "%q", s)
	}
}

// FuzzValidID holds validID to the pattern on any input.
func FuzzValidID(f *testing.F) {
	for _, s := range []string{"alice", "c2c_alice", "", "a b", "é", strings.Repeat("a", 128)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if idPattern.MatchString(s) != validID(s) {
			t.Fatalf("%q: pattern %v, validID %v", s, idPattern.MatchString(s), validID(s))
		}
	})
}
