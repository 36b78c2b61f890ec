package store_test

import (
	"context"
	"testing"

	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func newBranch(id, issue, repo, name string, created int) relay.BranchRecord {
	return relay.BranchRecord{
		ID: id, TenantID: "t1", IssueKey: issue, IntegrationID: "i1", RepositoryID: repo,
		Repository: "acme/" + repo, Name: name, URL: "https://example.com/" + repo + "/" + name,
		ActedAs:   relay.ActedAs{Via: relay.ViaUserToken, Login: "alice-gh"},
		CreatedBy: "alice", CreatedAt: at(created),
	}
}

func TestBranchRecords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b1 := newBranch("b1", "ABC-1", "r1", "ABC-1-fix", 2)
		b2 := newBranch("b2", "ABC-1", "r2", "ABC-1-fix", 1) // same name, other repository
		b3 := newBranch("b3", "ABC-2", "r1", "ABC-2-other", 0)
		for _, b := range []relay.BranchRecord{b1, b2, b3} {
			must(t, db.RecordBranch(ctx, b, auditFor(relay.ActionBranchCreate)))
		}

		t.Run("an issue's branches are listed oldest first", func(t *testing.T) {
			got, err := db.IssueBranches(ctx, "t1", "ABC-1")
			must(t, err)
			wantEqual(t, "branches", got, []relay.BranchRecord{b2, b1})
		})

		t.Run("recording the same branch again refreshes the one record, keeping its id", func(t *testing.T) {
			again := newBranch("b1-again", "ABC-1", "r1", "ABC-1-fix", 5)
			again.ActedAs = relay.ActedAs{Via: relay.ViaIntegration, Login: "bot"}
			must(t, db.RecordBranch(ctx, again, auditFor(relay.ActionBranchCreate)))
			got, err := db.IssueBranches(ctx, "t1", "ABC-1")
			must(t, err)
			again.ID = "b1"
			wantEqual(t, "branches", got, []relay.BranchRecord{b2, again})
		})

		t.Run("a new record reusing an existing id is a conflict", func(t *testing.T) {
			dup := newBranch("b3", "ABC-3", "r9", "other", 0)
			err := db.RecordBranch(ctx, dup, auditFor(relay.ActionBranchCreate))
			wantCode(t, err, relay.EConflict, "")
		})

		t.Run("forgetting a branch removes its record and records the event", func(t *testing.T) {
			before := auditCount(t, db, "t1")
			must(t, db.ForgetBranch(ctx, "t1", "i1", "r2", "ABC-1-fix", auditFor(relay.ActionBranchDelete)))
			got, err := db.IssueBranches(ctx, "t1", "ABC-1")
			must(t, err)
			if len(got) != 1 || got[0].RepositoryID != "r1" {
				t.Fatalf("got %+v, want only the r1 branch", got)
			}
			if n := auditCount(t, db, "t1"); n != before+1 {
				t.Fatalf("got %d audit events, want %d", n, before+1)
			}
		})

		t.Run("forgetting an unknown branch is no error and still records the event", func(t *testing.T) {
			before := auditCount(t, db, "t1")
			must(t, db.ForgetBranch(ctx, "t1", "i1", "r2", "never-existed", auditFor(relay.ActionBranchDelete)))
			if n := auditCount(t, db, "t1"); n != before+1 {
				t.Fatalf("got %d audit events, want %d", n, before+1)
			}
		})

		t.Run("an issue without branches has an empty, non-nil list", func(t *testing.T) {
			got, err := db.IssueBranches(ctx, "t1", "ZZZ-9")
			must(t, err)
			if got == nil || len(got) != 0 {
				t.Fatalf("got %#v", got)
			}
		})
	})
}

func newPullRequest(id, issue, repo string, number, created int) relay.PullRequestRecord {
	return relay.PullRequestRecord{
		ID: id, TenantID: "t1", IssueKey: issue, IntegrationID: "i1", RepositoryID: repo,
		Repository: "acme/" + repo, Number: number, Title: issue + " title",
		URL: "https://example.com/pr", Source: issue + "-branch", Target: "main", Draft: true,
		ActedAs:   relay.ActedAs{Via: relay.ViaIntegration, Login: "bot"},
		CreatedBy: "alice", CreatedAt: at(created),
	}
}

func TestPullRequestRecords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p1 := newPullRequest("p1", "ABC-1", "r1", 10, 3)
		p2 := newPullRequest("p2", "ABC-1", "r2", 10, 1) // same number, other repository
		p2.Draft = false
		p3 := newPullRequest("p3", "ABC-2", "r1", 11, 0)
		for _, pr := range []relay.PullRequestRecord{p1, p2, p3} {
			must(t, db.RecordPullRequest(ctx, pr, auditFor(relay.ActionPullRequestCreate)))
		}

		t.Run("an issue's pull requests are listed oldest first", func(t *testing.T) {
			got, err := db.IssuePullRequests(ctx, "t1", "ABC-1")
			must(t, err)
			wantEqual(t, "pull requests", got, []relay.PullRequestRecord{p2, p1})
		})

		t.Run("recording the same number again refreshes the one record", func(t *testing.T) {
			again := newPullRequest("p1-again", "ABC-1", "r1", 10, 4)
			again.Title = "Retitled"
			again.Draft = false
			must(t, db.RecordPullRequest(ctx, again, auditFor(relay.ActionPullRequestCreate)))
			got, err := db.IssuePullRequests(ctx, "t1", "ABC-1")
			must(t, err)
			again.ID = "p1"
			wantEqual(t, "pull requests", got, []relay.PullRequestRecord{p2, again})
		})

		t.Run("each record wrote an audit event", func(t *testing.T) {
			events, err := db.Audit(ctx, "t1", relay.AuditFilter{Action: relay.ActionPullRequestCreate})
			must(t, err)
			if len(events) != 4 {
				t.Fatalf("got %d events, want 4", len(events))
			}
		})
	})
}

func TestSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()

		t.Run("a tenant that saved none gets the defaults", func(t *testing.T) {
			got, err := db.Settings(ctx, "t1")
			must(t, err)
			wantEqual(t, "settings", got, relay.DefaultSettings())
		})

		t.Run("saved settings read back, and saving again replaces them", func(t *testing.T) {
			for _, s := range []relay.Settings{
				{BranchesEnabled: false, PullRequestsEnabled: true, BranchTemplate: "${issuekey}", Separator: "_", MaxBranchLength: 60},
				{BranchesEnabled: true, PullRequestsEnabled: false, BranchTemplate: "feature/${issuekey}", Separator: "-", MaxBranchLength: 100},
			} {
				must(t, db.PutSettings(ctx, "t1", s))
				got, err := db.Settings(ctx, "t1")
				must(t, err)
				wantEqual(t, "settings", got, s)
			}
		})

		t.Run("another tenant still gets the defaults", func(t *testing.T) {
			got, err := db.Settings(ctx, "t2")
			must(t, err)
			wantEqual(t, "settings", got, relay.DefaultSettings())
		})
	})
}
