package app_test

import (
	"net/http"
	"time"

	"github.com/gitrelay/gitrelay/internal/relay"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/index"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// pullRequestKinds are the host kinds whose pull requests the index reads
// through their API, true for those answering an unchanged list with 304
// (If-None-Match); Gitea and Azure DevOps list only what changed since the
// cursor instead.
var pullRequestKinds = map[string]bool{"github": true, "github-enterprise": true, "gitlab": true, "gitlab-self-managed": true,
	"gitea": false, "azure-devops": false, "vsts": false, "tfs": false}

// Pull requests opened on the host show on the issue they name — in their
// title, source branch or description — with their state; on hosts with
// conditional requests a later poll of an unchanged list costs one request
// answered 304.
func TestPullRequestsOpenedOnTheHostShowOnTheIssue(t *testing.T) {
	for _, f := range apptest.Fixtures() {
		conditional, ok := pullRequestKinds[string(f.Kind)]
		if !ok {
			continue
		}
		t.Run(f.Label(), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e := apptest.New(t, db, apptest.Options{Fixture: &f, Index: true})
				e.Integration(false, nil)
				for _, b := range []string{"feature/ABC-3-title", "feature/ABC-3-source", "feature/described", "feature/unrelated"} {
					if _, err := e.Git.Commit(apptest.Repo, b, hostsim.Change{Message: "Work"}); err != nil {
						t.Fatal(err)
					}
				}
				e.Sim.OpenPullRequest(apptest.Repo, hostsim.PR{Title: "ABC-3 Passkeys", Source: "feature/ABC-3-title", Target: "main", Author: apptest.BobLogin})
				merged := e.Sim.OpenPullRequest(apptest.Repo, hostsim.PR{Title: "Tidy", Source: "feature/ABC-3-source", Target: "main", Author: apptest.BobLogin})
				e.Sim.MergePullRequest(apptest.Repo, merged.Number)
				e.Sim.OpenPullRequest(apptest.Repo, hostsim.PR{Title: "Docs", Body: "Part of ABC-3.", Source: "feature/described", Target: "main", Author: apptest.BobLogin})
				e.Sim.OpenPullRequest(apptest.Repo, hostsim.PR{Title: "Other", Source: "feature/unrelated", Target: "main", Author: apptest.BobLogin})
				indexNow(t, e)

				d := development(t, e, "ABC-3")
				got := map[string]httpx.PullRequestRecord{}
				for _, p := range d.PullRequests {
					if p.Origin == httpx.OriginIndexed {
						got[p.Title] = p
					}
				}
				want := map[string]string{"ABC-3 Passkeys": "open", "Tidy": "merged", "Docs": "open"}
				if len(got) != len(want) {
					t.Fatalf("got indexed pull requests %+v, want %v", d.PullRequests, want)
				}
				for title, state := range want {
					if p := got[title]; p.State != state || p.URL == "" || p.Target != "main" {
						t.Errorf("pull request %q: got %+v, want state %s, a link and its target", title, p, state)
					}
				}

				before := e.Sim.NotModified()
				e.Advance(index.MaxPoll)
				indexNow(t, e)
				if n := e.Sim.NotModified() - before; conditional && n != 1 {
					t.Errorf("an unchanged list of pull requests was answered 304 %d times, want once", n)
				}
			})
		})
	}
}

// An integration the host rate-limits pauses its indexing reads of pull
// requests until the host's reset, while commits are still read (git is
// not counted against the API's limit) and users' actions keep working;
// after the reset the pull requests are read.
func TestARateLimitedIntegrationPausesIndexingWhileActionsKeepWorking(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{Index: true, RateBudgetOnEnvClock: true})
		id := e.Integration(false, nil)
		if _, err := e.Git.Commit(apptest.Repo, "feature/ABC-6-limits", hostsim.Change{Message: "ABC-6 Limits"}); err != nil {
			t.Fatal(err)
		}
		e.Sim.OpenPullRequest(apptest.Repo, hostsim.PR{Title: "ABC-6 Limits", Source: "feature/ABC-6-limits", Target: "main", Author: apptest.BobLogin})
		e.Sim.Inject(hostsim.Fault{Op: hostsim.OpListPullRequests, RetryAfter: time.Hour, Times: 1})
		indexNow(t, e)

		d := development(t, e, "ABC-6")
		if len(d.Commits) != 1 || indexedPullRequests(d) != 0 {
			t.Fatalf("while rate-limited: got %d commits and %d indexed pull requests, want the commit and no pull request", len(d.Commits), indexedPullRequests(d))
		}
		if st, ok := e.App.RateBudget.StateOf(index.BudgetName(relay.LocalTenant, id)); !ok || !st.PausedUntil.After(e.Now()) {
			t.Fatalf("the integration's budget = %+v, %v; want indexing paused", st, ok)
		}
		st := e.Do("GET", "/api/v1/integrations/"+id+"/index", e.Admin, nil).JSON()
		if b, _ := st["rate_budget"].(map[string]any); b == nil || b["paused_until"] == nil || b["remaining"] != float64(0) || b["reset_at"] == nil {
			t.Errorf("the index status's rate budget = %v, want none remaining, paused until the reset", st["rate_budget"])
		}
		if r := e.CreateBranch(e.Bob, id, "ABC-1-while-paused"); r.Status != http.StatusCreated {
			t.Fatalf("an action while indexing is paused: %d %s", r.Status, r.Body)
		}

		e.Advance(time.Hour + time.Minute)
		e.Advance(index.MaxPoll)
		indexNow(t, e)
		if n := indexedPullRequests(development(t, e, "ABC-6")); n != 1 {
			t.Errorf("after the reset: %d indexed pull requests, want the one naming ABC-6", n)
		}
	})
}

func indexedPullRequests(d httpx.Development) int {
	n := 0
	for _, p := range d.PullRequests {
		if p.Origin == httpx.OriginIndexed {
			n++
		}
	}
	return n
}
