package main

import (
	"context"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/relay"
)

// The demo shows the host's real answer to a pull request from a branch
// with no commits of its own (GitHub refuses it, GitLab opens it), and
// offers a branch with work to propose.
func TestDemoAnswersAPullRequestWithoutCommitsLikeTheHost(t *testing.T) {
	ctx := context.Background()
	d := startSeededDemo(t)
	db, a := d.db, d.app
	u, err := db.UserByUsername(ctx, relay.LocalTenant, "bob")
	if err != nil {
		t.Fatal(err)
	}
	bob := directory.Principal(u)
	ins, err := a.Actions.Integrations(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		t.Run(in.Name, func(t *testing.T) {
			repos, err := a.Actions.Repositories(ctx, bob, in.ID, "")
			if err != nil || len(repos) == 0 {
				t.Fatalf("no repositories: %v", err)
			}
			var repo relay.Repository
			for _, r := range repos {
				if _, ok := map[string]bool{"acme/widgets": true, "platform/backend": true}[r.FullName]; ok {
					repo = r
				}
			}
			if _, err := a.Actions.CreateBranch(ctx, bob, "DEMO-1", action.BranchRequest{IntegrationID: in.ID, RepositoryID: repo.ID, Name: "DEMO-1-fresh"}); err != nil {
				t.Fatalf("creating a branch: %v", err)
			}
			_, err = a.Actions.CreatePullRequest(ctx, bob, "DEMO-1", action.PullRequestRequest{IntegrationID: in.ID, RepositoryID: repo.ID,
				Source: "DEMO-1-fresh", Title: "DEMO-1 Nothing yet"})
			switch {
			case strings.HasPrefix(string(in.Kind), "gitlab"):
				// GitLab opens a merge request from a fresh branch (its own
				// "Create merge request" on an issue does just that).
				if err != nil {
					t.Errorf("a merge request from a branch without commits: %v, want it opened as GitLab does", err)
				}
			default:
				if msg := relay.ErrorMessage(err); err == nil || !strings.Contains(msg, "nothing to propose yet") {
					t.Errorf("a pull request from a branch without commits: %v, want the host's refusal", err)
				}
			}
			if _, err := a.Actions.CreatePullRequest(ctx, bob, "DEMO-1", action.PullRequestRequest{IntegrationID: in.ID, RepositoryID: repo.ID,
				Source: demoWorkBranch, Title: "DEMO-1 Work"}); err != nil {
				t.Errorf("a pull request from %s: %v", demoWorkBranch, err)
			}
		})
	}
}
