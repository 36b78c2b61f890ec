package app_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/action"
	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// wantNoHostCall fails when the simulated host (served in process, so
// every call adds to HostTime) was asked anything since before.
func wantNoHostCall(t *testing.T, e *apptest.Env, before int64, what string) {
	t.Helper()
	if got := int64(e.HostTime()); got != before {
		t.Fatalf("%s asked the host (host time grew from %d to %d ns), want answers from the store", what, before, got)
	}
}

// The repository picker searches gitrelay's cached list of an integration's
// repositories: within five minutes of a read no search asks the host;
// refresh=true reads the host again; the chosen subset still filters; and
// deleting the integration deletes the list.
func TestRepositorySearchIsAnsweredFromTheCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{InProcess: true})
		e.Sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "gadgets", Private: true, Writers: []string{apptest.BotLogin, apptest.BobLogin}})
		id := e.Integration(false, nil) // lists ?q=widgets: the first read of the host
		base := "/api/v1/integrations/" + id + "/repositories"

		t.Run("a second search within five minutes makes no host call", func(t *testing.T) {
			before := int64(e.HostTime())
			for _, q := range []string{"?q=widg", "?q=GADGETS", ""} {
				repoNames(t, e.Do("GET", base+q, e.Bob, nil))
			}
			if got, want := repoNames(t, e.Do("GET", base+"?q=acme/", e.Bob, nil)), []string{"acme/gadgets", "acme/widgets"}; !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			wantNoHostCall(t, e, before, "searches within five minutes")
		})

		t.Run("a repository created at the host appears after refresh=true", func(t *testing.T) {
			e.Sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "sprockets", Writers: []string{apptest.BotLogin}})
			before := int64(e.HostTime())
			if got, want := repoNames(t, e.Do("GET", base, e.Bob, nil)), []string{"acme/gadgets", "acme/widgets"}; !slices.Equal(got, want) {
				t.Fatalf("before refresh: got %q, want the cached %q", got, want)
			}
			wantNoHostCall(t, e, before, "a search before refresh")
			e.Advance(action.MinRepositoryReadInterval)
			want := []string{"acme/gadgets", "acme/sprockets", "acme/widgets"}
			if got := repoNames(t, e.Do("GET", base+"?refresh=true", e.Bob, nil)); !slices.Equal(got, want) {
				t.Fatalf("after refresh: got %q, want %q", got, want)
			}
			if e.HostTime() == 0 || int64(e.HostTime()) == before {
				t.Fatal("refresh=true did not ask the host")
			}
			wantStatus(t, e.Do("GET", base+"?refresh=maybe", e.Bob, nil), http.StatusUnprocessableEntity, "invalid_request")
		})

		t.Run("when the host fails the cached list answers and a warning is logged", func(t *testing.T) {
			e.Sim.Inject(hostsim.Fault{Method: "GET", PathContains: "/user/repos", Status: http.StatusInternalServerError, Times: 1})
			e.Advance(action.MinRepositoryReadInterval)
			if got, want := repoNames(t, e.Do("GET", base+"?q=sprock&refresh=true", e.Bob, nil)), []string{"acme/sprockets"}; !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			if logs := e.Logs.String(); !strings.Contains(logs, "answering from the cached list") {
				t.Errorf("no warning about the failed read in the log: %s", logs)
			}
		})

		t.Run("the chosen subset still filters cached answers", func(t *testing.T) {
			wantStatus(t, e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"repositories": []string{e.RepoID}}), http.StatusOK, "")
			before := int64(e.HostTime())
			if got, want := repoNames(t, e.Do("GET", base, e.Bob, nil)), []string{"acme/widgets"}; !slices.Equal(got, want) {
				t.Errorf("bob lists %q, want %q", got, want)
			}
			if got, want := repoNames(t, e.Do("GET", base+"?available=true", e.Admin, nil)), []string{"acme/gadgets", "acme/sprockets", "acme/widgets"}; !slices.Equal(got, want) {
				t.Errorf("available repositories = %q, want %q", got, want)
			}
			wantNoHostCall(t, e, before, "searches of a subset")
		})

		t.Run("deleting the integration empties its cache", func(t *testing.T) {
			ctx := context.Background()
			cached, err := db.SearchRepositories(ctx, relay.LocalTenant, id, "", 0)
			if err != nil || len(cached) != 3 {
				t.Fatalf("before deleting: %d cached repositories (%v), want 3", len(cached), err)
			}
			wantStatus(t, e.Do("DELETE", "/api/v1/integrations/"+id, e.Admin, nil), http.StatusNoContent, "")
			cached, err = db.SearchRepositories(ctx, relay.LocalTenant, id, "", 0)
			if err != nil || len(cached) != 0 {
				t.Fatalf("after deleting: %d cached repositories (%v), want 0", len(cached), err)
			}
			if _, err := db.RepositoriesSyncedAt(ctx, relay.LocalTenant, id); relay.ErrorCode(err) != relay.ENotFound {
				t.Fatalf("after deleting: sync time error %v, want not_found", err)
			}
		})

		if strings.Contains(e.Logs.String(), apptest.BotToken) {
			t.Error("the log holds the integration credential")
		}
	})
}

// With 3,000 repositories at the host, one read fills the cache and every
// later search, however narrow or wide, is answered from the store, capped
// by limit.
func TestThousandsOfRepositoriesAreSearchedInTheStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{InProcess: true})
		const total = 3000
		for i := range total {
			e.Sim.AddRepo(hostsim.Repo{Owner: fmt.Sprintf("org%02d", i%30), Name: fmt.Sprintf("service-%04d", i),
				Private: true, Writers: []string{apptest.BotLogin}})
		}
		id := e.Integration(false, nil)
		base := "/api/v1/integrations/" + id + "/repositories"
		before := int64(e.HostTime())

		tests := []struct {
			name  string
			query string
			want  int
			first string
		}{
			{"the last of them is found", "?q=SERVICE-2999", 1, "org29/service-2999"},
			{"a wide search is capped at 50 by default", "?q=service", 50, "org00/service-0000"},
			{"limit raises the cap", "?q=service&limit=500", 500, "org00/service-0000"},
			{"an owner's repositories", "?q=org07/&limit=500", total / 30, "org07/service-0007"},
			{"limit lowers the cap", "?limit=3", 3, "acme/widgets"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := repoNames(t, e.Do("GET", base+tt.query, e.Bob, nil))
				if len(got) != tt.want || got[0] != tt.first {
					t.Fatalf("got %d repositories starting with %q, want %d starting with %q", len(got), got[0], tt.want, tt.first)
				}
			})
		}
		for _, limit := range []string{"0", "501", "many"} {
			wantStatus(t, e.Do("GET", base+"?limit="+limit, e.Bob, nil), http.StatusUnprocessableEntity, "invalid_request")
		}
		wantNoHostCall(t, e, before, "searches after the first listing")
	})
}
