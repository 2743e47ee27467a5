// Package secret holds Secret, a string that cannot leak by accident: printing, logging or
// JSON-encoding it shows a placeholder, and only Reveal gives the value, so every place that
// needs it (signing, persisting, sending to FCM) says so in the code.
package secret

import (
	"encoding/json"
	"log/slog"
)

// Redacted is what a Secret shows in place of its value.
const Redacted = "[redacted]"

// Secret is a credential: an app secret, a server key, a service account's private key.
type Secret struct {
	v string
}

// New wraps a value.
func New(v string) Secret { return Secret{v: v} }

// Reveal returns the value. Call it only where the value must leave the program's memory on
// purpose: to sign, to authenticate to FCM, or to persist.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// String shows the placeholder, so that fmt never prints the value.
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return Redacted
}

// GoString shows the placeholder for %#v too.
func (s Secret) GoString() string { return `secret.Secret{` + Redacted + `}` }

// LogValue shows the placeholder in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes the placeholder: API answers and reports never carry the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a value from a JSON string (requests carry secrets in; answers never out).
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s.v = v
	return nil
}

// MarshalText writes the placeholder (YAML and other text encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a value from text (configuration files).
func (s *Secret) UnmarshalText(b []byte) error {
	s.v = string(b)
	return nil
}

// Equal reports whether two secrets hold the same value.
func (s Secret) Equal(o Secret) bool { return s.v == o.v }
