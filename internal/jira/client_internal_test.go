package jira

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gitrelay/gitrelay/internal/host"
)

// What a failed Jira call records (devinfo failures shown to
// administrators) comes from the answer's error fields only, bounded, and
// never from the raw body of whatever answered.
func TestJiraErrorsQuoteOnlyErrorFields(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"REST errorMessages and errors", `{"errorMessages":["Issue does not exist"],"errors":{"summary":"required"}}`, "Issue does not exist; summary: required"},
		{"development information errors", `{"errors":[{"message":"Invalid repository id"}]}`, "Invalid repository id"},
		{"OAuth error", `{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}`, "invalid_grant; Unknown or invalid refresh token."},
		{"control characters removed", `{"message":"bad\u001b[31m request\u202e"}`, "bad[31m request"},
		{"an HTML page says nothing", "<html><body>CANARY proxy error</body></html>", ""},
		{"an unknown JSON shape says nothing", `{"detail":"CANARY"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errorSaid([]byte(tc.body)); got != tc.want {
				t.Errorf("errorSaid = %q, want %q", got, tc.want)
			}
		})
	}
	long := errorSaid([]byte(`{"message":"` + strings.Repeat("x", 10000) + `"}`))
	if n := utf8.RuneCountInString(long); n > host.MaxQuote {
		t.Errorf("a long message is quoted with %d characters, want at most %d", n, host.MaxQuote)
	}
}
