package gitlab_test

import (
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/gitlab"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// FuzzAnswers: whatever a self-managed GitLab (or a server posing as it)
// answers, errors are bounded, clean and free of the token.
func FuzzAnswers(f *testing.F) {
	hosttest.FuzzAnswers(f, func(u string) (host.Adapter, relay.HostConfig) {
		return gitlab.SelfManaged(), relay.HostConfig{Kind: gitlab.KindSelfManaged, BaseURL: u}
	}, relay.TokenCredential("glpat-fuzzCANARY0123456789"),
		`{"message":"401 Unauthorized"}`,
		`{"error":"invalid_token","error_description":"Token is expired. `+hosttest.SecretMark+`"}`,
		`{"error":"insufficient_scope","error_description":"The request requires higher privileges.","scope":"api read_api"}`,
		`{"message":["Another open merge request already exists for this source branch: !38"]}`,
		`{"message":{"title":["can't be blank"],"source_branch":{"nested":["\u0007bell"]}}}`,
		`{"message":"Branch already exists"}`,
		`{"message":{"a":{"a":{"a":{"a":{"a":{"a":{"a":"deep"}}}}}}}}`,
		`{"id":1,"username":"alice","web_url":"javascript:alert(1)"}`,
		`[{"id":42,"path_with_namespace":"acme/widgets","web_url":"data:text/html,x","permissions":{"project_access":{"access_level":40}}}]`,
		`{"name":"ABC-1-fix","commit":{"id":"0123456789abcdef0123456789abcdef01234567"},"web_url":"//evil.example"}`,
		`{"iid":7,"web_url":"javascript:alert(7)","source_branch":"ABC-1-fix","target_branch":"main"}`,
	)
}
