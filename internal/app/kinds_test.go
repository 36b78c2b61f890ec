package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// The core Require User PAT scenarios (no PAT refused before the host; a
// saved PAT acts for branch, pull request and deletion; a revoked PAT is
// refused and never replaced by the integration account; a PAT acts even
// when not required) hold for every host kind.
func TestRequireUserPATOnEveryKind(t *testing.T) {
	for _, f := range apptest.Fixtures() {
		t.Run(f.Label(), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e := apptest.New(t, db, apptest.Options{Fixture: &f})
				id := e.Integration(true, nil)

				// No PAT: refused, and the host saw no write.
				wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-none"), http.StatusPreconditionRequired, "user_token_required")
				if len(e.Writes()) != 0 {
					t.Fatalf("host writes without a PAT: %+v", e.Writes())
				}
				// A token the host accepts but that cannot write.
				if code := f.WeakToken(e.Sim, "weak-CANARY-token-000000000000000000001", "weak-user"); code != "" {
					wantStatus(t, e.SaveToken(e.Bob, id, "weak-CANARY-token-000000000000000000001"), http.StatusUnprocessableEntity, code)
				}
				// Bob's PAT acts for every action.
				wantStatus(t, e.SaveToken(e.Bob, id, apptest.BobToken), http.StatusOK, "")
				r := e.CreateBranch(e.Bob, id, "ABC-1-mine")
				wantStatus(t, r, http.StatusCreated, "")
				if acted := r.JSON()["acted_as"].(map[string]any); acted["via"] != "user_token" || acted["login"] != apptest.BobLogin {
					t.Fatalf("acted_as = %v", acted)
				}
				if !strings.Contains(r.JSON()["url"].(string), f.BranchURLContains("ABC-1-mine")) {
					t.Errorf("branch url %v does not contain %q", r.JSON()["url"], f.BranchURLContains("ABC-1-mine"))
				}
				wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-mine"), http.StatusCreated, "") // repeat: already there
				// Then bob pushes work to propose.
				e.Push("ABC-1-mine")
				pr := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
					"integration_id": id, "repository_id": e.RepoID, "source": "ABC-1-mine"})
				wantStatus(t, pr, http.StatusCreated, "")
				again := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
					"integration_id": id, "repository_id": e.RepoID, "source": "ABC-1-mine"})
				wantStatus(t, again, http.StatusConflict, "pull_request_exists")
				if again.ErrorField("url") == "" || again.ErrorField("url") != pr.JSON()["url"] {
					t.Errorf("existing pull request url = %q, want %v", again.ErrorField("url"), pr.JSON()["url"])
				}
				del := e.Do("DELETE", "/api/v1/issues/ABC-1/branches?integration_id="+id+"&repository_id="+e.RepoID+"&name=ABC-1-mine", e.Bob, nil)
				wantStatus(t, del, http.StatusNoContent, "")
				for _, w := range e.Writes() {
					if w.Login != apptest.BobLogin {
						t.Fatalf("a write was not made with bob's token: %+v", w)
					}
				}
				if writesBy(e.Writes(), apptest.BobLogin) < 3 {
					t.Fatalf("bob's token made too few writes: %+v", e.Writes())
				}

				// Revoked at the host: refused, never replaced.
				e.Sim.RevokeToken(apptest.BobToken)
				before := len(e.Writes())
				wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-late"), http.StatusPreconditionRequired, "user_token_revoked")
				for _, w := range e.Writes()[before:] {
					if w.Login == apptest.BotLogin {
						t.Fatalf("the integration credential was tried: %+v", w)
					}
				}

				// Not required, but a valid PAT saved: it acts.
				wantStatus(t, e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"require_user_pat": false}), http.StatusOK, "")
				e.Sim.AddToken(f.Token("fresh-CANARY-token-00000000000000000002"))
				wantStatus(t, e.SaveToken(e.Bob, id, "fresh-CANARY-token-00000000000000000002"), http.StatusOK, "")
				r = e.CreateBranch(e.Bob, id, "ABC-1-self")
				wantStatus(t, r, http.StatusCreated, "")
				if acted := r.JSON()["acted_as"].(map[string]any); acted["via"] != "user_token" {
					t.Fatalf("acted_as = %v", acted)
				}
				// Without a PAT, the integration account acts.
				wantStatus(t, e.Do("DELETE", "/api/v1/me/tokens/"+id, e.Bob, nil), http.StatusNoContent, "")
				r = e.CreateBranch(e.Bob, id, "ABC-1-bot")
				wantStatus(t, r, http.StatusCreated, "")
				if acted := r.JSON()["acted_as"].(map[string]any); acted["via"] != "integration" || acted["login"] != apptest.BotLogin {
					t.Fatalf("acted_as = %v", acted)
				}
			})
		})
	}
}

// Every list in GET /api/v1/kinds is a list, never null: a kind without
// required scopes (CodeCommit) answers [].
func TestKindsListScopesAsArrays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		r := e.Do("GET", "/api/v1/kinds", e.Bob, nil)
		wantStatus(t, r, http.StatusOK, "")
		if strings.Contains(string(r.Body), "null") {
			t.Fatalf("kinds answer holds null: %s", r.Body)
		}
		kinds := r.List()
		if len(kinds) == 0 {
			t.Fatal("no kinds listed")
		}
		for _, k := range kinds {
			if _, ok := k["required_scopes"].([]any); !ok {
				t.Errorf("kind %v: required_scopes = %#v, want a list", k["kind"], k["required_scopes"])
			}
		}
	})
}
