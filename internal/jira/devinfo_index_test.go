package jira_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/jira"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// What the index saved for a Jira site's repository — commits, branches
// and pull requests from outside gitrelay — is pushed to Jira's
// development information in bulk requests within Jira's limits: commits
// as commits, pull requests with their state.
func TestIndexedWorkIsPushedToJiraWithinItsLimits(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	e.install()
	integrationID := e.integration(false)
	repoID := e.repoID(e.bob(), integrationID)
	repo := jira.IndexedRepository{IntegrationID: integrationID, RepositoryID: repoID, Name: "acme/widgets", URL: "https://ghe.example.com/acme/widgets"}
	// 450 commits: over Jira's 400 per entity type and repository.
	const n = 450
	var x jira.Indexed
	for i := 0; i < n; i++ {
		sha := fmt.Sprintf("%040x", i+1)
		x.Commits = append(x.Commits, jira.IndexedCommit{SHA: sha, Message: fmt.Sprintf("ABC-1 Part %d", i), Author: "Dana",
			At: e.clock.Now(), URL: repo.URL + "/commit/" + sha, IssueKeys: []string{"ABC-1"}})
	}
	x.Branches = []jira.IndexedBranch{{Name: "feature/ABC-1-login", URL: repo.URL + "/tree/feature/ABC-1-login", IssueKeys: []string{"ABC-1"},
		LastCommit: x.Commits[0]}}
	x.PullRequests = []jira.IndexedPullRequest{
		{Number: 7, Title: "ABC-1 Login", State: "merged", Source: "feature/ABC-1-login", Target: "main", Author: "dana", URL: repo.URL + "/pull/7", UpdatedAt: e.clock.Now(), IssueKeys: []string{"ABC-1"}},
		{Number: 8, Title: "ABC-1 More", State: "draft", Source: "feature/ABC-1-more", Target: "main", Author: "dana", URL: repo.URL + "/pull/8", UpdatedAt: e.clock.Now(), IssueKeys: []string{"ABC-1"}},
	}
	indexSaved(t, e, installA, repo, x)
	// The built-in directory has no Jira to tell.
	indexSaved(t, e, relay.LocalTenant, repo, x)
	e.pushAll()

	commits, branches := 0, 0
	states := map[string]string{}
	pushes := e.fake.Pushes()
	for _, p := range pushes {
		var body bulkBody
		if err := json.Unmarshal(p.Body, &body); err != nil {
			t.Fatal(err)
		}
		entities := 0
		for _, r := range body.Repositories {
			if len(r.Commits) > 400 || len(r.Branches) > 400 || len(r.PullRequests) > 400 {
				t.Fatalf("a request carries %d commits, %d branches, %d pull requests for one repository; Jira allows 400 each",
					len(r.Commits), len(r.Branches), len(r.PullRequests))
			}
			if r.ID != jira.EntityID(integrationID+"/"+repoID) || r.Name != "acme/widgets" || r.URL != repo.URL {
				t.Errorf("repository: got %q %q %q", r.ID, r.Name, r.URL)
			}
			for _, raw := range r.Commits {
				var c struct {
					ID, Hash, Message, URL, DisplayID, AuthorTimestamp string
					IssueKeys                                          []string
					Author                                             struct{ Name string }
				}
				if err := json.Unmarshal(raw, &c); err != nil {
					t.Fatal(err)
				}
				if c.ID != c.Hash || len(c.ID) != 40 || c.DisplayID != c.ID[:7] || !strings.HasPrefix(c.Message, "ABC-1 ") ||
					c.Author.Name != "Dana" || c.URL == "" || c.AuthorTimestamp == "" || strings.Join(c.IssueKeys, ",") != "ABC-1" {
					t.Fatalf("commit: got %s", raw)
				}
			}
			for _, b := range r.Branches {
				if b.Name != "feature/ABC-1-login" || b.LastCommit.Hash != x.Commits[0].SHA || !validEntityID(b.ID) {
					t.Errorf("branch: got %+v", b)
				}
			}
			for _, pr := range r.PullRequests {
				states[pr.ID] = pr.Status
			}
			commits += len(r.Commits)
			branches += len(r.Branches)
			entities += len(r.Commits) + len(r.Branches) + len(r.PullRequests)
		}
		if entities > 1000 {
			t.Fatalf("a request carries %d entities; Jira allows 1000", entities)
		}
	}
	if len(pushes) != 2 || commits != n || branches != 1 {
		t.Fatalf("got %d requests with %d commits and %d branches, want 2 with %d and 1", len(pushes), commits, branches, n)
	}
	if states["7"] != "MERGED" || states["8"] != "DRAFT" {
		t.Errorf("pull request states: got %v, want 7 MERGED and 8 DRAFT", states)
	}
}

// indexSaved queues x as the index does, in a write transaction of the
// store's that commits.
func indexSaved(t *testing.T, e *env, tenantID string, repo jira.IndexedRepository, x jira.Indexed) {
	t.Helper()
	ctx := context.Background()
	tx, err := e.db.WritePool().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.devinfo.IndexSaved(ctx, tx, tenantID, repo, x); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
