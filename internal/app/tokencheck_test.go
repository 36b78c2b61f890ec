package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// The issue routes take the user of an API token used moments ago from
// memory and check the token and the grant with their first database
// read. A token revoked, expired or stripped of its grant since its last
// use is refused by the very next request, and a refused token leaves no
// audit row and reaches no host.
func TestIssueRequestsCheckTheTokenUsedMomentsAgo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db, apptest.Options{InProcess: true})
		ctx := context.Background()
		id := e.Integration(false, nil)
		tok, created, err := e.App.Directory.CreateAPIToken(ctx, relay.Principal{TenantID: relay.LocalTenant, Username: "admin"}, "bob",
			directory.NewToken{Name: "script", ExpiresInDays: 1})
		if err != nil {
			t.Fatal(err)
		}
		panel := func() apptest.Response {
			return e.Do("GET", "/api/v1/issues/ABC-1/development", tok, nil)
		}
		branch := func(name string) apptest.Response {
			return e.Do("POST", "/api/v1/issues/ABC-1/branches", tok, map[string]any{
				"integration_id": id, "repository_id": e.RepoID, "name": name})
		}
		wantStatus := func(what string, r apptest.Response, want int) {
			t.Helper()
			if r.Status != want {
				t.Fatalf("%s: %d %s, want %d", what, r.Status, r.Body, want)
			}
			if want == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("%s: 401 without WWW-Authenticate", what)
			}
		}
		audits := func() int {
			events, err := db.Audit(ctx, relay.LocalTenant, relay.AuditFilter{Limit: store.MaxAuditLimit})
			if err != nil {
				t.Fatal(err)
			}
			return len(events)
		}

		wantStatus("first panel read", panel(), http.StatusOK)
		wantStatus("second panel read", panel(), http.StatusOK)
		wantStatus("create branch", branch("ABC-1-first"), http.StatusCreated)

		t.Run("a revoked grant", func(t *testing.T) {
			if err := e.App.Directory.Revoke(ctx, relay.LocalTenant, "ABC", "bob"); err != nil {
				t.Fatal(err)
			}
			wantStatus("panel read", panel(), http.StatusForbidden)
			wantStatus("create branch", branch("ABC-1-no-grant"), http.StatusForbidden)
			if _, err := e.App.Directory.Grant(ctx, relay.LocalTenant, "ABC", "bob"); err != nil {
				t.Fatal(err)
			}
			wantStatus("panel read with the grant given again", panel(), http.StatusOK)
		})

		t.Run("an expired token", func(t *testing.T) {
			e.Advance(24 * time.Hour)
			defer e.Advance(-24 * time.Hour)
			before, writes := audits(), len(e.Writes())
			wantStatus("panel read", panel(), http.StatusUnauthorized)
			wantStatus("create branch", branch("ABC-1-expired"), http.StatusUnauthorized)
			if got := audits() - before; got != 0 {
				t.Fatalf("%d audit rows for the expired token, want 0", got)
			}
			if got := len(e.Writes()) - writes; got != 0 {
				t.Fatalf("%d host writes for the expired token, want 0", got)
			}
		})

		t.Run("a revoked token", func(t *testing.T) {
			wantStatus("panel read", panel(), http.StatusOK)
			if r := e.Do("DELETE", "/api/v1/me/api-tokens/"+created.ID, e.Bob, nil); r.Status != http.StatusNoContent {
				t.Fatalf("revoke: %d %s", r.Status, r.Body)
			}
			before, writes := audits(), len(e.Writes())
			wantStatus("panel read", panel(), http.StatusUnauthorized)
			wantStatus("create branch", branch("ABC-1-revoked"), http.StatusUnauthorized)
			wantStatus("delete branch", e.Do("DELETE", "/api/v1/issues/ABC-1/branches?integration_id="+id+
				"&repository_id="+e.RepoID+"&name=ABC-1-first", tok, nil), http.StatusUnauthorized)
			wantStatus("create pull request", e.Do("POST", "/api/v1/issues/ABC-1/pull-requests", tok, map[string]any{
				"integration_id": id, "repository_id": e.RepoID, "source": "ABC-1-first", "title": "t"}), http.StatusUnauthorized)
			if got := audits() - before; got != 0 {
				t.Fatalf("%d audit rows for the revoked token, want 0", got)
			}
			if got := len(e.Writes()) - writes; got != 0 {
				t.Fatalf("%d host writes for the revoked token, want 0", got)
			}
		})
	})
}
