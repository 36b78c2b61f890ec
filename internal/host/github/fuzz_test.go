package github_test

import (
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/github"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// FuzzAnswers: whatever GitHub Enterprise (or a server posing as it)
// answers, errors are bounded, clean and free of the token.
func FuzzAnswers(f *testing.F) {
	hosttest.FuzzAnswers(f, func(u string) (host.Adapter, relay.HostConfig) {
		return github.Enterprise(), relay.HostConfig{Kind: github.KindEnterprise, BaseURL: u}
	}, relay.TokenCredential("ghp_fuzzCANARY0123456789abcdefghijklmnop"),
		`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`,
		`{"message":"Resource not accessible by personal access token: `+hosttest.SecretMark+`"}`,
		`{"message":"API rate limit exceeded for user"}`,
		`{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:ABC-1-fix."}]}`,
		`{"message":"Reference already exists"}`,
		`{"message":"Validation Failed","errors":[{"field":"head","code":"invalid"},{"field":"\u0000\n","code":"\u001b[31m"}]}`,
		`{"message":"Git Repository is empty."}`,
		`{"login":"alice","id":1,"html_url":"javascript:alert(1)"}`,
		`[{"id":42,"name":"widgets","full_name":"acme/widgets","html_url":"javascript:alert(1)","permissions":{"push":true}}]`,
		`{"ref":"refs/heads/ABC-1-fix","object":{"sha":"0123456789abcdef0123456789abcdef01234567"}}`,
		`{"number":7,"html_url":"//evil.example/pr/7","title":"x","head":{"ref":"ABC-1-fix"},"base":{"ref":"main"}}`,
		`[{"number":7,"html_url":"https://github.example.com/acme/widgets/pull/7","head":{"ref":"ABC-1-fix"},"base":{"ref":"main"}}]`,
	)
}
