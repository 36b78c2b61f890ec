package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// repoNames lists the full names of a repositories answer.
func repoNames(t *testing.T, r apptest.Response) []string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("listing repositories: %d %s", r.Status, r.Body)
	}
	var names []string
	for _, rp := range r.List() {
		names = append(names, rp["full_name"].(string))
	}
	slices.Sort(names)
	return names
}

// includedRepositories reads an integration's "repositories" as the API
// answers it: nil for JSON null (every repository).
func includedRepositories(t *testing.T, r apptest.Response) []string {
	t.Helper()
	v, ok := r.JSON()["repositories"]
	if !ok {
		t.Fatalf("the integration has no repositories field: %s", r.Body)
	}
	if v == nil {
		return nil
	}
	out := []string{}
	for _, id := range v.([]any) {
		out = append(out, id.(string))
	}
	return out
}

// An integration that includes chosen repositories lists and acts only on
// those, on every host kind: acting on another repository is refused before
// the host is written to, and including every repository again restores
// them. Only administrators choose.
func TestIntegrationIncludesChosenRepositories(t *testing.T) {
	for _, f := range apptest.Fixtures() {
		t.Run(f.Label(), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e := apptest.New(t, db, apptest.Options{Fixture: &f})
				e.Sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "gadgets", Private: true, Writers: []string{apptest.BotLogin, apptest.BobLogin}})
				id := e.Integration(false, nil)
				base := "/api/v1/integrations/" + id
				listAs := func(token, query string) apptest.Response {
					return e.Do("GET", base+"/repositories"+query, token, nil)
				}
				gadgets := listAs(e.Admin, "?q=gadgets").List()
				if len(gadgets) != 1 {
					t.Fatalf("repositories matching gadgets: %v", gadgets)
				}
				gadgetsID := gadgets[0]["id"].(string)
				both := []string{"acme/gadgets", "acme/widgets"}

				if got := includedRepositories(t, e.Do("GET", base, e.Admin, nil)); got != nil {
					t.Fatalf("a new integration includes %q, want null (every repository)", got)
				}

				// The administrator includes only widgets.
				r := e.Do("PATCH", base, e.Admin, map[string]any{"repositories": []string{e.RepoID, e.RepoID}})
				wantStatus(t, r, http.StatusOK, "")
				if got, want := includedRepositories(t, r), []string{e.RepoID}; !slices.Equal(got, want) {
					t.Fatalf("after PATCH: repositories = %q, want %q (duplicates dropped)", got, want)
				}

				t.Run("listing shows only the included repositories", func(t *testing.T) {
					for who, token := range map[string]string{"admin": e.Admin, "bob": e.Bob} {
						if got, want := repoNames(t, listAs(token, "")), []string{"acme/widgets"}; !slices.Equal(got, want) {
							t.Errorf("%s lists %q, want %q", who, got, want)
						}
					}
					if got := repoNames(t, listAs(e.Admin, "?q=gadg")); len(got) != 0 {
						t.Errorf("searching for an excluded repository finds %q, want nothing", got)
					}
				})

				t.Run("administrators still find every repository to choose from", func(t *testing.T) {
					if got := repoNames(t, listAs(e.Admin, "?available=true")); !slices.Equal(got, both) {
						t.Errorf("available repositories = %q, want %q", got, both)
					}
					wantStatus(t, listAs(e.Bob, "?available=true"), http.StatusForbidden, "forbidden")
					wantStatus(t, listAs(e.Admin, "?available=maybe"), http.StatusUnprocessableEntity, "invalid_request")
				})

				t.Run("acting on an excluded repository is refused before any host write", func(t *testing.T) {
					before := len(e.Writes())
					e.Sim.AddBranch("acme/gadgets", "ABC-1-there", "")
					branch := e.Do("POST", "/api/v1/issues/ABC-1/branches", e.Bob, map[string]any{
						"integration_id": id, "repository_id": gadgetsID, "name": "ABC-1-excluded"})
					pr := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
						"integration_id": id, "repository_id": gadgetsID, "source": "ABC-1-there"})
					del := e.Do("DELETE", "/api/v1/issues/ABC-1/branches?"+url.Values{"integration_id": {id},
						"repository_id": {gadgetsID}, "name": {"ABC-1-there"}}.Encode(), e.Bob, nil)
					branches := e.Do("GET", base+"/repositories/"+url.PathEscape(gadgetsID)+"/branches", e.Bob, nil)
					for what, r := range map[string]apptest.Response{"create branch": branch, "create pull request": pr,
						"delete branch": del, "list branches": branches} {
						wantStatus(t, r, http.StatusForbidden, "forbidden")
						msg := r.ErrorField("message")
						if !strings.Contains(msg, "integration GHE") || !strings.Contains(msg, "administrator can include the repository in the integration's settings") {
							t.Errorf("%s: message %q does not name the integration and say how to include the repository", what, msg)
						}
					}
					if ws := e.Writes()[before:]; len(ws) != 0 {
						t.Fatalf("the host saw writes for an excluded repository: %+v", ws)
					}
					if got := e.Sim.Branches("acme/gadgets"); got["ABC-1-there"] == "" || got["ABC-1-excluded"] != "" {
						t.Fatalf("branches of acme/gadgets = %v, want ABC-1-there kept and no ABC-1-excluded", got)
					}
					refused := 0
					for _, row := range auditRows(t, e, "outcome=refused&integration_id="+id) {
						if row["error_code"] == "forbidden" && row["user"] == "bob" {
							refused++
						}
					}
					if refused != 3 {
						t.Errorf("audit has %d refused actions by bob, want 3 (create branch, create pull request, delete branch)", refused)
					}
				})

				t.Run("an included repository still works", func(t *testing.T) {
					wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-included"), http.StatusCreated, "")
				})

				t.Run("non-administrators cannot change the included repositories", func(t *testing.T) {
					for _, body := range []map[string]any{{"repositories": nil}, {"repositories": []string{gadgetsID}}} {
						wantStatus(t, e.Do("PATCH", base, e.Bob, body), http.StatusForbidden, "forbidden")
					}
					if got, want := includedRepositories(t, e.Do("GET", base, e.Admin, nil)), []string{e.RepoID}; !slices.Equal(got, want) {
						t.Fatalf("after bob's attempts: repositories = %q, want %q", got, want)
					}
				})

				t.Run("a PATCH without repositories keeps them", func(t *testing.T) {
					r := e.Do("PATCH", base, e.Admin, map[string]any{"name": "GHE"})
					wantStatus(t, r, http.StatusOK, "")
					if got, want := includedRepositories(t, r), []string{e.RepoID}; !slices.Equal(got, want) {
						t.Fatalf("repositories = %q, want %q", got, want)
					}
				})

				t.Run("PATCH null includes every repository again", func(t *testing.T) {
					r := e.Do("PATCH", base, e.Admin, map[string]any{"repositories": nil})
					wantStatus(t, r, http.StatusOK, "")
					if got := includedRepositories(t, r); got != nil {
						t.Fatalf("repositories = %q, want null", got)
					}
					if got := repoNames(t, listAs(e.Bob, "")); !slices.Equal(got, both) {
						t.Errorf("bob lists %q, want %q", got, both)
					}
					r = e.Do("POST", "/api/v1/issues/ABC-1/branches", e.Bob, map[string]any{
						"integration_id": id, "repository_id": gadgetsID, "name": "ABC-1-restored"})
					wantStatus(t, r, http.StatusCreated, "")
				})
			})
		})
	}
}

func TestChosenRepositoriesAreValidated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)
		tooMany := make([]string, 5001)
		for i := range tooMany {
			tooMany[i] = fmt.Sprint(i + 1)
		}
		tests := []struct {
			name string
			body map[string]any
		}{
			{"an empty id is refused", map[string]any{"repositories": []string{e.RepoID, " "}}},
			{"more than 5000 ids are refused", map[string]any{"repositories": tooMany}},
			{"a value that is not a list is refused", map[string]any{"repositories": "all"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, tt.body)
				wantStatus(t, r, http.StatusUnprocessableEntity, "invalid_request")
				if got := includedRepositories(t, e.Do("GET", "/api/v1/integrations/"+id, e.Admin, nil)); got != nil {
					t.Fatalf("a refused PATCH changed repositories to %q", got)
				}
			})
		}

		t.Run("an integration can be created with chosen repositories", func(t *testing.T) {
			body := e.Fixture.Integration(e.HostURL)
			body["name"], body["credential"] = "Chosen", e.Fixture.Credential(apptest.BotToken)
			body["repositories"] = []string{" " + e.RepoID + " "}
			r := e.Do("POST", "/api/v1/integrations", e.Admin, body)
			wantStatus(t, r, http.StatusCreated, "")
			if got, want := includedRepositories(t, r), []string{e.RepoID}; !slices.Equal(got, want) {
				t.Fatalf("repositories = %q, want %q", got, want)
			}
			read := e.Do("GET", "/api/v1/integrations/"+r.JSON()["id"].(string), e.Admin, nil)
			if got, want := includedRepositories(t, read), []string{e.RepoID}; !slices.Equal(got, want) {
				t.Fatalf("read back: repositories = %q, want %q", got, want)
			}
		})

		t.Run("an empty list includes no repository", func(t *testing.T) {
			r := e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"repositories": []string{}})
			wantStatus(t, r, http.StatusOK, "")
			if got := includedRepositories(t, r); got == nil || len(got) != 0 {
				t.Fatalf("repositories = %#v, want an empty list, not null", got)
			}
			if got := repoNames(t, e.Do("GET", "/api/v1/integrations/"+id+"/repositories", e.Bob, nil)); len(got) != 0 {
				t.Fatalf("bob lists %q, want nothing", got)
			}
			wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-none"), http.StatusForbidden, "forbidden")
		})
	})
}
