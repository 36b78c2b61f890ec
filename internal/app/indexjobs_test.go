package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/httpx"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// waitFor asks the issue panel until ok says it shows what the test
// waits for. The minute bounds a hung test, not the speed.
func waitFor(t *testing.T, e *apptest.Env, key string, ok func(httpx.Development) bool) httpx.Development {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		d := development(t, e, key)
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still shows %+v after a minute", key, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasCommit(msg string) func(httpx.Development) bool {
	return func(d httpx.Development) bool {
		for _, c := range d.Commits {
			if c.Message == msg {
				return true
			}
		}
		return false
	}
}

// The index runs as background jobs: a new integration's repositories are
// discovered and read, and a push is found, without anything driving it.
func TestTheIndexJobsFindAPush(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{Index: true, Jobs: true,
			IndexSchedule: app.IndexConfig{PollEvery: 100 * time.Millisecond, DiscoverEvery: 100 * time.Millisecond}})
		e.Integration(false, nil)
		if _, err := e.Git.Commit(apptest.Repo, "feature/ABC-9-jobs", hostsim.Change{Message: "ABC-9 Found by the jobs"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, e, "ABC-9", hasCommit("ABC-9 Found by the jobs"))
	})
}

// A push on the host reaches the issue through the host's webhook, within
// seconds rather than at the next scheduled poll (which these tests put an
// hour away): the verified delivery queues the change, a job makes the
// repository due and reads it; the queue of changes is left empty.
func TestAPushReachesTheIssueThroughItsWebhook(t *testing.T) {
	for _, f := range apptest.Fixtures() {
		format, ok := hookFormats[string(f.Kind)]
		if !ok {
			continue
		}
		t.Run(f.Label(), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e := apptest.New(t, db, apptest.Options{Fixture: &f, Index: true, Jobs: true,
					IndexSchedule: app.IndexConfig{PollEvery: time.Hour, DiscoverEvery: time.Hour}})
				id := e.Integration(false, nil)
				indexNow(t, e)
				hook := e.Do("GET", "/api/v1/integrations/"+id+"/webhook", e.Admin, nil).JSON()
				e.Sim.AddHook(apptest.Repo, hostsim.Hook{URL: e.URL + "/hooks/" + id, Secret: hook["secret"].(string), Format: format, Client: e.Client})

				if _, err := e.Git.Commit(apptest.Repo, "feature/ABC-7-hooks", hostsim.Change{Message: "ABC-7 Pushed with a webhook"}); err != nil {
					t.Fatal(err)
				}
				got := e.Sim.Deliveries()
				if len(got) == 0 || got[len(got)-1].Status != http.StatusAccepted {
					t.Fatalf("the host's deliveries = %+v, want the push accepted (202)", got)
				}
				waitFor(t, e, "ABC-7", hasCommit("ABC-7 Pushed with a webhook"))
				st := e.Do("GET", "/api/v1/integrations/"+id+"/index", e.Admin, nil).JSON()
				accepted := 0
				for _, d := range e.Sim.Deliveries() {
					if d.Status == http.StatusAccepted {
						accepted++
					}
				}
				if w, _ := st["webhook"].(map[string]any); w == nil || w["received"] != float64(accepted) || w["refused"] != float64(0) || w["last_delivery_at"] == nil {
					t.Errorf("the index status's webhook = %v, want the %d deliveries received", st["webhook"], accepted)
				}
				changes, err := db.RepositoryChanges(context.Background(), 10)
				if err != nil || len(changes) != 0 {
					t.Errorf("queued repository changes after the read: %+v, %v; want none", changes, err)
				}
			})
		})
	}
}

// Re-indexing from the API reads the repository at once, not at the next
// scheduled poll.
func TestAReindexRequestIsReadAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{Index: true, Jobs: true,
			IndexSchedule: app.IndexConfig{PollEvery: time.Hour, DiscoverEvery: time.Hour}})
		id := e.Integration(false, nil)
		indexNow(t, e)
		if _, err := e.Git.Commit(apptest.Repo, "main", hostsim.Change{Message: "ABC-8 Re-indexed"}); err != nil {
			t.Fatal(err)
		}
		if r := e.Do("POST", "/api/v1/integrations/"+id+"/index", e.Admin, nil); r.Status != http.StatusAccepted {
			t.Fatalf("re-index: %d %s", r.Status, r.Body)
		}
		waitFor(t, e, "ABC-8", hasCommit("ABC-8 Re-indexed"))
	})
}
