package host

import "log/slog"

// Secret holds a credential's text so that nothing prints it: not fmt
// (with any verb), not slog, not encoding/json — also when it is an
// unexported field of a struct that gets printed, where fmt cannot call a
// String method and would print a plain string field as it is (this is how
// relay.Credential, a struct of strings, leaks). The text sits behind a
// pointer, which fmt prints as an address.
type Secret struct{ p *string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{p: &s} }

// Reveal returns the text, for the one place that sends it to the host.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

func (Secret) String() string               { return "[redacted]" }
func (Secret) GoString() string             { return "[redacted]" }
func (Secret) LogValue() slog.Value         { return slog.StringValue("[redacted]") }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }
