package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/index"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// indexNow discovers the integrations' repositories, removes the clones
// no longer read and reads every due repository, as the server's jobs do
// every few seconds.
func indexNow(t *testing.T, e *apptest.Env) {
	t.Helper()
	ctx := context.Background()
	if err := e.App.Indexer.Discover(ctx); err != nil {
		t.Fatalf("discover: %v", err)
	}
	if err := e.App.Indexer.RemoveOrphanClones(ctx); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	for {
		n, err := e.App.Indexer.PollDue(ctx)
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

func development(t *testing.T, e *apptest.Env, key string) httpx.Development {
	t.Helper()
	r := e.Do("GET", "/api/v1/issues/"+key+"/development", e.Bob, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("development of %s: %d %s", key, r.Status, r.Body)
	}
	var d httpx.Development
	if err := json.Unmarshal(r.Body, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// A developer's push to a repository shows on the issue — its branch and
// commits — for every host kind, on both databases; what
// gitrelay created keeps its attribution; an unchanged repository then
// costs one refs request and nothing else.
func TestAPushShowsOnTheIssueForEveryKind(t *testing.T) {
	for _, f := range apptest.Fixtures() {
		t.Run(f.Label(), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e := apptest.New(t, db, apptest.Options{Fixture: &f, Index: true})
				id := e.Integration(false, nil)
				if r := e.CreateBranch(e.Bob, id, "ABC-1-from-gitrelay"); r.Status != http.StatusCreated {
					t.Fatalf("create branch: %d %s", r.Status, r.Body)
				}
				sha, err := e.Git.Commit(apptest.Repo, "feature/ABC-1-login",
					hostsim.Change{Message: "ABC-1 Log in with a passkey\n\nThe long story.", AuthorName: "Dana Dev", AuthorEmail: "dana@example.com"},
					hostsim.Change{Message: "Unrelated work"})
				if err != nil {
					t.Fatal(err)
				}
				indexNow(t, e)

				d := development(t, e, "ABC-1")
				var indexed, created *httpx.BranchRecord
				for i, b := range d.Branches {
					switch b.Name {
					case "feature/ABC-1-login":
						indexed = &d.Branches[i]
					case "ABC-1-from-gitrelay":
						created = &d.Branches[i]
					}
				}
				if indexed == nil || indexed.Origin != httpx.OriginIndexed || indexed.State != httpx.BranchActive ||
					indexed.LastCommit == nil || indexed.LastCommit.SHA != sha || indexed.ActedAs != nil {
					t.Errorf("got pushed branch %+v, want it indexed, active, at the pushed commit, without attribution", indexed)
				}
				if indexed != nil && !strings.Contains(indexed.URL, f.BranchURLContains("feature/ABC-1-login")) {
					t.Errorf("got the pushed branch's link %q, want the host's branch page (%q)", indexed.URL, f.BranchURLContains("feature/ABC-1-login"))
				}
				if created == nil || created.Origin != httpx.OriginGitrelay || created.ActedAs == nil || created.CreatedBy == "" {
					t.Errorf("got created branch %+v, want it from gitrelay with its attribution", created)
				}
				var found *httpx.Commit
				for i, c := range d.Commits {
					if c.Message == "ABC-1 Log in with a passkey" {
						found = &d.Commits[i]
					}
				}
				if found == nil || found.AuthorEmail != "dana@example.com" || found.ShortSHA != found.SHA[:7] || found.URL == "" ||
					len(found.Branches) != 1 || found.Branches[0] != "feature/ABC-1-login" {
					t.Errorf("got commits %+v, want the pushed commit with its first line, author, link and branch", d.Commits)
				}
				if len(d.Commits) != 1 {
					t.Errorf("got %d commits, want only the one naming ABC-1", len(d.Commits))
				}

				// An issue of a project the user may not see is refused,
				// indexed or not.
				if r := e.Do("GET", "/api/v1/issues/XYZ-1/development", e.Bob, nil); r.Status != http.StatusForbidden {
					t.Errorf("development of XYZ-1 for bob: %d, want 403", r.Status)
				}

				e.Git.ResetStats()
				e.Advance(index.MaxPoll)
				indexNow(t, e)
				if got := e.Git.Stats(apptest.Repo); got.Refs != 1 || got.ListRefs != 0 || got.Fetches != 0 {
					t.Errorf("an unchanged repository cost %+v, want exactly one refs request", got)
				}
			})
		})
	}
}

// Indexed work shows only from integrations associated with the issue's
// project.
func TestIndexedWorkShowsOnlyFromAssociatedIntegrations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{Index: true})
		e.Integration(false, []string{"XYZ"})
		if _, err := e.Git.Commit(apptest.Repo, "main", hostsim.Change{Message: "ABC-1 Fix"}); err != nil {
			t.Fatal(err)
		}
		indexNow(t, e)
		if d := development(t, e, "ABC-1"); len(d.Commits)+len(d.Branches) != 0 {
			t.Errorf("ABC-1 lists %+v from an integration of project XYZ only", d)
		}
	})
}

// Administrators see the index's progress and can read a repository or
// the whole integration again; removing the integration removes its index
// and clones.
func TestIndexStatusAndReindex(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{Index: true})
		id := e.Integration(false, nil)
		if _, err := e.Git.Commit(apptest.Repo, "main", hostsim.Change{Message: "ABC-1 Fix"}); err != nil {
			t.Fatal(err)
		}
		status := func() httpx.IndexStatus {
			t.Helper()
			r := e.Do("GET", "/api/v1/integrations/"+id+"/index", e.Admin, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("index status: %d %s", r.Status, r.Body)
			}
			var s httpx.IndexStatus
			_ = json.Unmarshal(r.Body, &s)
			return s
		}
		if err := e.App.Indexer.Discover(context.Background()); err != nil {
			t.Fatal(err)
		}
		if s := status(); s.Total != 1 || s.Indexed != 0 || s.Queued != 1 || s.Repositories[0].State != httpx.IndexQueued {
			t.Errorf("before the first read got %+v, want one repository queued", s)
		}
		indexNow(t, e)
		s := status()
		if s.Total != 1 || s.Indexed != 1 || s.Queued != 0 || s.Failing != 0 || s.DiskBytes == 0 || s.Commits != 2 ||
			s.LastCheckedAt == nil || s.NextCheckAt == nil || s.Repositories[0].State != httpx.IndexIndexed {
			t.Errorf("after the first read got %+v, want it indexed with its clone's size", s)
		}
		if r := e.Do("GET", "/api/v1/integrations/"+id+"/index", e.Bob, nil); r.Status != http.StatusForbidden {
			t.Errorf("index status for a non-administrator: %d, want 403", r.Status)
		}

		repoID := s.Repositories[0].RepositoryID
		r := e.Do("POST", "/api/v1/integrations/"+id+"/repositories/"+repoID+"/index", e.Admin, nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("re-index: %d %s", r.Status, r.Body)
		}
		if s := status(); s.Queued != 1 {
			t.Errorf("after a re-index request got %+v, want the repository queued", s)
		}
		indexNow(t, e)
		if s := status(); s.Queued != 0 || s.Commits != 4 {
			t.Errorf("after the re-index got %+v, want every commit walked again (2 + 2)", s)
		}
		if r := e.Do("POST", "/api/v1/integrations/"+id+"/index", e.Admin, nil); r.Status != http.StatusAccepted {
			t.Errorf("re-index of the integration: %d %s", r.Status, r.Body)
		}

		if r := e.Do("DELETE", "/api/v1/integrations/"+id, e.Admin, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete integration: %d %s", r.Status, r.Body)
		}
		indexNow(t, e)
		if d := development(t, e, "ABC-1"); len(d.Commits) != 0 {
			t.Errorf("the deleted integration's commits remain: %+v", d.Commits)
		}
		if n := cloneCount(t, e); n != 0 {
			t.Errorf("%d clones remain after the integration was deleted", n)
		}
	})
}

// cloneCount counts the clones on disk.
func cloneCount(t *testing.T, e *apptest.Env) int {
	t.Helper()
	entries, err := os.ReadDir(e.App.Indexer.Dir())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range entries {
		if strings.HasSuffix(d.Name(), ".git") {
			n++
		}
	}
	return n
}

// A commit whose author email is a directory user's names that user.
func TestIndexedCommitsNameTheDirectoryUserOfTheirEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{Index: true})
		ctx := context.Background()
		bob, err := db.UserByUsername(ctx, relay.LocalTenant, "bob")
		if err != nil {
			t.Fatal(err)
		}
		bob.Email = "bob@example.com"
		if err := db.UpdateUser(ctx, bob); err != nil {
			t.Fatal(err)
		}
		e.Integration(false, nil)
		if _, err := e.Git.Commit(apptest.Repo, "main",
			hostsim.Change{Message: "ABC-4 By bob", AuthorName: "B.", AuthorEmail: "Bob@Example.com"},
			hostsim.Change{Message: "ABC-4 By a stranger", AuthorName: "S.", AuthorEmail: "stranger@example.com"}); err != nil {
			t.Fatal(err)
		}
		indexNow(t, e)
		d := development(t, e, "ABC-4")
		if len(d.Commits) != 2 {
			t.Fatalf("got commits %+v, want two", d.Commits)
		}
		for _, c := range d.Commits {
			switch c.Message {
			case "ABC-4 By bob":
				if c.AuthorUser == nil || c.AuthorUser.Username != "bob" {
					t.Errorf("bob's commit names %+v, want the directory user bob", c.AuthorUser)
				}
			default:
				if c.AuthorUser != nil {
					t.Errorf("a stranger's commit names %+v", c.AuthorUser)
				}
			}
		}
	})
}

// A repository taken out of the integration no longer shows on issues,
// and leaves the index and its clone at the next pass.
func TestARepositoryTakenOutOfTheIntegrationLeavesTheIssue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{Index: true})
		id := e.Integration(false, nil)
		if _, err := e.Git.Commit(apptest.Repo, "main", hostsim.Change{Message: "ABC-5 Fix"}); err != nil {
			t.Fatal(err)
		}
		indexNow(t, e)
		if d := development(t, e, "ABC-5"); len(d.Commits) != 1 {
			t.Fatalf("got commits %+v, want one", d.Commits)
		}
		if r := e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"repositories": []string{}}); r.Status != http.StatusOK {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		if d := development(t, e, "ABC-5"); len(d.Commits) != 0 {
			t.Errorf("a repository no longer included still shows %+v", d.Commits)
		}
		indexNow(t, e)
		if n := cloneCount(t, e); n != 0 {
			t.Errorf("%d clones remain of a repository no longer included", n)
		}
	})
}
