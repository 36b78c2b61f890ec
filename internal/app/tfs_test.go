package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// TFS 2013 and 2015 have no personal access tokens. By default the
// integration account (user name and password) acts; with Require User PAT
// ticked, branch creation and deletion and pull request creation are
// refused with pat_not_supported before the host is asked, saving a PAT is
// refused the same way, and the administrator is warned when ticking the
// box.
func TestTFSWithoutPersonalAccessTokens(t *testing.T) {
	for _, version := range []string{"2013", "2015"} {
		t.Run(version, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				f := apptest.TFSWithPassword(version)
				e := apptest.New(t, db, apptest.Options{Fixture: &f})

				// Default: the integration account acts with its password.
				id := e.Integration(false, nil)
				r := e.CreateBranch(e.Bob, id, "ABC-1-by-bot")
				wantStatus(t, r, http.StatusCreated, "")
				if acted := r.JSON()["acted_as"].(map[string]any); acted["via"] != "integration" || acted["login"] != apptest.BotLogin {
					t.Fatalf("acted_as = %v, want the integration account", acted)
				}
				if !strings.Contains(r.JSON()["url"].(string), f.BranchURLContains("ABC-1-by-bot")) {
					t.Errorf("branch url = %v", r.JSON()["url"])
				}
				pr := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
					"integration_id": id, "repository_id": e.RepoID, "source": "ABC-1-by-bot", "draft": true})
				wantStatus(t, pr, http.StatusCreated, "")
				if pr.JSON()["draft"] == true {
					t.Errorf("pull request = %s, want a regular one (TFS %s has no drafts)", pr.Body, version)
				}

				// The user settings entry says a PAT cannot be set up.
				mine := e.Do("GET", "/api/v1/me/tokens/"+id, e.Bob, nil)
				wantStatus(t, mine, http.StatusOK, "")
				if got := mine.JSON(); got["pat_supported"] != false || got["status"] != "unsupported" || got["new_token_url"] != "" {
					t.Errorf("token entry = %s, want unsupported without a New token link", mine.Body)
				}

				// Ticking Require User PAT warns the administrator.
				tick := e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"require_user_pat": true})
				wantStatus(t, tick, http.StatusOK, "")
				if w, _ := tick.JSON()["warnings"].([]any); len(w) == 0 || !strings.Contains(w[0].(string), "personal access tokens") {
					t.Errorf("warnings = %v, want one about the missing personal access tokens", tick.JSON()["warnings"])
				}
				untick := e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"name": "TFS"})
				if w, _ := untick.JSON()["warnings"].([]any); len(w) == 0 {
					t.Errorf("warnings while the box stays ticked = %v, want the same warning", untick.JSON()["warnings"])
				}
				created := e.Integration(true, nil)

				before := len(e.Writes())
				for _, in := range []string{id, created} {
					wantStatus(t, e.CreateBranch(e.Bob, in, "ABC-1-refused"), http.StatusUnprocessableEntity, "pat_not_supported")
					del := e.Do("DELETE", "/api/v1/issues/ABC-1/branches?integration_id="+in+"&repository_id="+e.RepoID+"&name=ABC-1-by-bot", e.Bob, nil)
					wantStatus(t, del, http.StatusUnprocessableEntity, "pat_not_supported")
					again := e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", e.Bob, map[string]any{
						"integration_id": in, "repository_id": e.RepoID, "source": "ABC-1-by-bot", "title": "again"})
					wantStatus(t, again, http.StatusUnprocessableEntity, "pat_not_supported")

					// No PAT can be saved, in either credential shape.
					wantStatus(t, e.SaveToken(e.Bob, in, apptest.BobToken), http.StatusUnprocessableEntity, "pat_not_supported")
					wantStatus(t, e.Do("PUT", "/api/v1/me/tokens/"+in, e.Bob, map[string]string{"token": apptest.BobToken}),
						http.StatusUnprocessableEntity, "pat_not_supported")
				}
				if after := e.Writes(); len(after) != before {
					t.Fatalf("the host saw writes under Require User PAT: %+v", after[before:])
				}
				if _, still := e.Sim.Branches(apptest.Repo)["ABC-1-by-bot"]; !still {
					t.Error("the refused deletion removed the branch")
				}
				for _, secret := range []string{apptest.BotToken, apptest.BobToken} {
					if strings.Contains(e.Responses(), secret) || strings.Contains(e.Logs.String(), secret) {
						t.Fatalf("a password shows in responses or logs")
					}
				}
			})
		})
	}
}
