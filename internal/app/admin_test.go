package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

func TestDirectoryAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		r := e.Do("POST", "/api/v1/users", e.Admin, map[string]any{"username": "dora", "display_name": "Dora"})
		wantStatus(t, r, http.StatusCreated, "")
		if len(r.JSON()["password"].(string)) < 16 {
			t.Fatalf("no generated password: %s", r.Body)
		}
		wantStatus(t, e.Do("POST", "/api/v1/users", e.Admin, map[string]any{"username": "dora"}), http.StatusConflict, "conflict")
		wantStatus(t, e.Do("POST", "/api/v1/users", e.Bob, map[string]any{"username": "eve"}), http.StatusForbidden, "forbidden")
		bad := e.Do("POST", "/api/v1/users", e.Admin, map[string]any{"username": "no spaces"})
		wantStatus(t, bad, http.StatusUnprocessableEntity, "invalid_request")
		if f, _ := bad.JSON()["error"].(map[string]any)["fields"].(map[string]any); f["username"] == nil {
			t.Fatalf("field error missing: %s", bad.Body)
		}

		wantStatus(t, e.Do("POST", "/api/v1/projects", e.Admin, map[string]any{"key": "NEW", "name": "New"}), http.StatusCreated, "")
		wantStatus(t, e.Do("POST", "/api/v1/projects/NEW/grants", e.Admin, map[string]any{"username": "dora"}), http.StatusCreated, "")
		wantStatus(t, e.Do("POST", "/api/v1/projects/NEW/grants", e.Admin, map[string]any{"everyone": true}), http.StatusCreated, "")
		wantStatus(t, e.Do("POST", "/api/v1/projects/NEW/grants", e.Admin, map[string]any{}), http.StatusUnprocessableEntity, "invalid_request")
		grants := e.Do("GET", "/api/v1/projects/NEW/grants", e.Admin, nil).List()
		if len(grants) != 2 {
			t.Fatalf("grants = %v", grants)
		}
		wantStatus(t, e.Do("DELETE", "/api/v1/projects/NEW/grants?username=dora", e.Admin, nil), http.StatusNoContent, "")
		wantStatus(t, e.Do("DELETE", "/api/v1/projects/NEW/grants?everyone=true", e.Admin, nil), http.StatusNoContent, "")

		tok := e.Do("POST", "/api/v1/users/dora/api-tokens", e.Admin, nil)
		wantStatus(t, tok, http.StatusCreated, "")
		dora := tok.JSON()["token"].(string)
		me := e.Do("GET", "/api/v1/me", dora, nil)
		if me.JSON()["username"] != "dora" || me.JSON()["admin"] != false {
			t.Fatalf("me = %s", me.Body)
		}
		wantStatus(t, e.Do("POST", "/api/v1/users/bob/api-tokens", dora, nil), http.StatusForbidden, "forbidden")
		wantStatus(t, e.Do("DELETE", "/api/v1/users/dora", e.Admin, nil), http.StatusNoContent, "")
		wantStatus(t, e.Do("GET", "/api/v1/me", dora, nil), http.StatusUnauthorized, "unauthenticated")
		wantStatus(t, e.Do("DELETE", "/api/v1/users/admin", e.Admin, nil), http.StatusUnprocessableEntity, "invalid_request")
	})
}

func TestSettingsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)
		st := e.Do("GET", "/api/v1/settings", e.Bob, nil).JSON()
		if st["branch_template"] != "${issuekey}-${summary}" || st["max_branch_length"] != float64(250) || st["separator"] != "-" {
			t.Fatalf("defaults = %v", st)
		}
		r := e.Do("PUT", "/api/v1/settings", e.Admin, map[string]any{"branch_template": "${issuetype:Bug,bugfix,Story,feature,task}/${issuekey}_${summary}", "separator": "_"})
		wantStatus(t, r, http.StatusOK, "")
		if r.JSON()["pull_requests_enabled"] != true {
			t.Fatalf("a partial update changed other settings: %s", r.Body)
		}
		name := e.Do("GET", "/api/v1/issues/ABC-9/branch-name?summary=Crash+on+start&type=Bug", e.Bob, nil).JSON()["name"]
		if name != "bugfix/ABC-9_crash_on_start" {
			t.Fatalf("rendered name = %v", name)
		}
		created := e.Do("POST", "/api/v1/issues/ABC-9/branches", e.Bob, map[string]any{
			"integration_id": id, "repository_id": e.RepoID, "summary": "Crash on start", "issue_type": "Story"})
		wantStatus(t, created, http.StatusCreated, "")
		if created.JSON()["name"] != "feature/ABC-9_crash_on_start" {
			t.Fatalf("created name = %v", created.JSON()["name"])
		}
		for _, body := range []map[string]any{
			{"branch_template": "${summary}"},
			{"branch_template": "${issuekey}-${nope}"},
			{"separator": "~"},
			{"max_branch_length": 5},
		} {
			r := e.Do("PUT", "/api/v1/settings", e.Admin, body)
			wantStatus(t, r, http.StatusUnprocessableEntity, "invalid_request")
		}
		wantStatus(t, e.Do("PUT", "/api/v1/settings", e.Bob, map[string]any{"branches_enabled": false}), http.StatusForbidden, "forbidden")
		wantStatus(t, e.Do("PUT", "/api/v1/settings", e.Admin, map[string]any{"branches_enabled": false}), http.StatusOK, "")
		r = e.CreateBranch(e.Bob, id, "ABC-1-off")
		wantStatus(t, r, http.StatusForbidden, "forbidden")
		if !strings.Contains(r.ErrorField("message"), "turned off") {
			t.Errorf("message = %q", r.ErrorField("message"))
		}
	})
}

func TestAuditFiltersAndExport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		// After the set-up, whose API tokens are audited too.
		start := time.Now().UTC().Format(time.RFC3339Nano)
		id := e.Integration(false, nil)
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-a"), http.StatusCreated, "")
		wantStatus(t, e.CreateBranch(e.Bob, id, "bad name"), http.StatusUnprocessableEntity, "invalid_branch_name")
		wantStatus(t, e.CreateBranch(e.Bob, id, "=cmd|' /C calc'!A0-ABC-1"), http.StatusUnprocessableEntity, "invalid_branch_name")

		for _, tc := range []struct {
			query string
			want  int
		}{
			{"user=bob", 3},
			{"user=bob&outcome=refused", 2},
			{"action=integration.create", 1},
			{"integration_id=" + id + "&action=branch.create", 3},
			{"since=" + start, 4},
			{"until=2000-01-01", 0},
			{"user=bob&limit=1", 1},
		} {
			if got := len(auditRows(t, e, tc.query)); got != tc.want {
				t.Errorf("audit?%s: %d rows, want %d", tc.query, got, tc.want)
			}
		}
		wantStatus(t, e.Do("GET", "/api/v1/audit?since=yesterday", e.Admin, nil), http.StatusUnprocessableEntity, "invalid_request")
		wantStatus(t, e.Do("GET", "/api/v1/audit?limit=0", e.Admin, nil), http.StatusUnprocessableEntity, "invalid_request")
		csv := e.Do("GET", "/api/v1/audit?format=csv&action=branch.create", e.Admin, nil)
		lines := strings.Split(strings.TrimSpace(string(csv.Body)), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "id,at,user,action") {
			t.Fatalf("csv = %s", csv.Body)
		}
		if strings.Contains(string(csv.Body), ",=cmd") {
			t.Fatal("a formula reached the CSV unescaped")
		}
	})
}

// The stored credential is never sent to a new host URL: changing the host
// needs the credential again.
func TestChangingHostNeedsTheCredentialAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)
		r := e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"base_url": "https://elsewhere.example"})
		wantStatus(t, r, http.StatusUnprocessableEntity, "invalid_request")
		before := len(e.Writes())
		r = e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"base_url": e.HostURL + "/", "credential": map[string]string{"token": apptest.BotToken}})
		wantStatus(t, r, http.StatusOK, "")
		if len(e.Writes()) != before {
			t.Fatal("validation wrote to the host")
		}
		if r.JSON()["account"].(map[string]any)["login"] != apptest.BotLogin {
			t.Fatalf("account after re-validation: %s", r.Body)
		}
	})
}
