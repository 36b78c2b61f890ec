package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// No user can make gitrelay read an integration's repositories from the
// host more than once per interval: refresh=true and searches that find
// nothing within it are answered from the stored list.
func TestRefreshesReadTheHostOncePerInterval(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{InProcess: true})
		id := e.Integration(false, nil)
		base := "/api/v1/integrations/" + id + "/repositories"
		const list = "GET /api/v3/user/repos"
		if n := e.HostRequests(list); n != 1 {
			t.Fatalf("%d repository listings after creating the integration, want 1", n)
		}
		e.Advance(action.MinRepositoryReadInterval)
		for i := range 10 {
			repoNames(t, e.Do("GET", base+"?refresh=true", e.Bob, nil))
			e.Do("GET", base+"?q=nothing-like-"+strings.Repeat("z", i), e.Bob, nil)
		}
		if n := e.HostRequests(list); n != 2 {
			t.Fatalf("%d repository listings after 10 refreshes and 10 missed searches in one interval, want 2", n)
		}
		e.Advance(action.MinRepositoryReadInterval)
		repoNames(t, e.Do("GET", base+"?refresh=true", e.Bob, nil))
		if n := e.HostRequests(list); n != 3 {
			t.Fatalf("%d repository listings after the next interval, want 3", n)
		}
	})
}

// Search text is bounded: a huge q answers 422 on q, not a database error.
func TestHugeSearchTextIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)
		q := url.QueryEscape(strings.Repeat("%_a", 50001/3+1))
		for _, path := range []string{
			"/api/v1/integrations/" + id + "/repositories?q=" + q,
			"/api/v1/integrations/" + id + "/repositories/" + e.RepoID + "/branches?q=" + q,
		} {
			r := e.Do("GET", path, e.Bob, nil)
			wantStatus(t, r, http.StatusUnprocessableEntity, "invalid_request")
			if f, _ := r.JSON()["error"].(map[string]any)["fields"].(map[string]any); f == nil || !strings.Contains(f["q"].(string), "at most 200 characters") {
				t.Fatalf("%s: %s", path[:60], r.Body)
			}
		}
	})
}
