package gitea_test

import (
	"testing"

	"github.com/gitrelay/gitrelay/internal/host"
	"github.com/gitrelay/gitrelay/internal/host/gitea"
	"github.com/gitrelay/gitrelay/internal/host/hosttest"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// FuzzAnswers: whatever a Gitea server (or a server posing as it) answers,
// errors are bounded, clean and free of the token.
func FuzzAnswers(f *testing.F) {
	hosttest.FuzzAnswers(f, func(u string) (host.Adapter, relay.HostConfig) {
		return gitea.New(), relay.HostConfig{Kind: gitea.Kind, BaseURL: u}
	}, relay.TokenCredential("fuzzCANARY0123456789abcdef0123456789abcd"),
		`{"message":"token is required","url":"https://gitea.example.com/api/swagger"}`,
		`{"message":"token does not have at least one of required scope(s): [write:repository read:user]"}`,
		`{"message":"user should be an owner or a collaborator with write access `+hosttest.SecretMark+`"}`,
		`{"message":"The target couldn't be found.","errors":["\u001b[2J","x"]}`,
		`{"message":"branch already exists"}`,
		`{"message":"repository is empty"}`,
		`{"message":"pull request already exists for these targets [id: 7, issue_id: 9, head_repo_id: 1, base_repo_id: 1, head_branch: ABC-1-fix, base_branch: main]"}`,
		`{"id":1,"login":"alice","html_url":"javascript:alert(1)"}`,
		`[{"id":42,"name":"widgets","full_name":"acme/widgets","html_url":"data:text/html,x","permissions":{"push":true}}]`,
		`{"name":"ABC-1-fix","commit":{"id":"0123456789abcdef0123456789abcdef01234567"}}`,
		`{"number":7,"html_url":"javascript:alert(7)","title":"WIP: x","head":{"ref":"ABC-1-fix"},"base":{"ref":"main"}}`,
	)
}
