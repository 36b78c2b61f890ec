package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/directory"
	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// forge calls a Forge remote endpoint as the Forge app does for a user of
// a site.
func (e *jiraSessions) forge(method, path, install, cloud, account, userToken string) int {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.fake.FIT(jiratest.Claims{InstallationID: install, CloudID: cloud, AccountID: account}))
	req.Header.Set("x-forge-oauth-user", userToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// In a Jira tenant Jira is the only directory: a Jira administrator cannot
// create local users, passwords, API tokens, projects or grants, by any
// edge, and is told why.
func TestAJiraSiteAdministratorCannotCreateLocalUsersOrTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newJiraSessions(t, db)
		alice := e.browser()
		page := alice.signIn("acc-alice", "/issues/ABC-1")
		csrf := alice.csrf(page)
		for _, c := range []struct {
			name, method, path string
			body               any
		}{
			{"add a user", "POST", "/api/v1/users", map[string]any{"username": "mallory", "admin": true, "password": "long enough password"}},
			{"list users", "GET", "/api/v1/users", nil},
			{"mint an API token", "POST", "/api/v1/users/acc-alice/api-tokens", map[string]any{"name": "backdoor"}},
			{"list own API tokens", "GET", "/api/v1/me/api-tokens", nil},
			{"add a project", "POST", "/api/v1/projects", map[string]any{"key": "ABC"}},
			{"grant a project", "POST", "/api/v1/projects/ABC/grants", map[string]any{"everyone": true}},
		} {
			t.Run(c.name+" through the API", func(t *testing.T) {
				got := alice.api(c.method, c.path, csrf, c.body)
				if got.Status != http.StatusForbidden || !strings.Contains(got.Body, "manage people in Jira") {
					t.Fatalf("got %d %s, want 403 saying Jira manages people", got.Status, got.Body)
				}
			})
		}
		t.Run("the users page and its forms", func(t *testing.T) {
			if got := alice.get("/admin/directory"); got.Status != http.StatusForbidden || !strings.Contains(got.Body, "manage people in Jira") {
				t.Errorf("users page: got %d, want 403 saying why", got.Status)
			}
			got := alice.postForm("/admin/users", url.Values{"csrf": {csrf}, "username": {"mallory"}, "password": {"long enough password"}, "admin": {"on"}})
			if got.Status != http.StatusForbidden {
				t.Errorf("add-user form: got %d, want 403", got.Status)
			}
			if got := alice.get("/settings/api-tokens"); got.Status != http.StatusForbidden {
				t.Errorf("API tokens page: got %d, want 403", got.Status)
			}
		})
		if users, err := db.Users(context.Background(), sessInstallA); err != nil || len(users) != 0 {
			t.Fatalf("site A's local users: %+v %v, want none", users, err)
		}
	})
}

// Disconnecting a site removes every credential of its tenant in one go;
// each answers 401 afterwards while the audit trail stays readable.
func TestDisconnectingASiteEndsEveryCredentialOfItsTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newJiraSessions(t, db)
		ctx := context.Background()
		alice := e.browser()
		page := alice.signIn("acc-alice", "/issues/ABC-1")
		csrf := alice.csrf(page)
		created := alice.api("POST", "/api/v1/integrations", csrf, map[string]any{
			"kind": "github-enterprise", "name": "Site A GHE", "base_url": e.hostURL,
			"credential": map[string]string{"token": sessBotToken}})
		if created.Status != http.StatusCreated {
			t.Fatalf("adding an integration: got %d %s", created.Status, created.Body)
		}
		dave := e.browser()
		dave.signIn("acc-dave", "/issues/ABC-1")

		// A local user with an API token in site A's tenant, as an older
		// version let a Jira administrator create.
		if err := db.CreateUser(ctx, relay.User{ID: "u-mallory", TenantID: sessInstallA, Username: "mallory", Admin: true}, ""); err != nil {
			t.Fatal(err)
		}
		planted := directory.APITokenPrefix + "planted-before-the-rule"
		if err := db.CreateAPIToken(ctx, relay.APIToken{ID: "a1", TenantID: sessInstallA, UserID: "u-mallory", Name: "x",
			Hash: directory.HashToken(planted)}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
		auditBefore, err := db.Audit(ctx, sessInstallA, relay.AuditFilter{})
		if err != nil || len(auditBefore) == 0 {
			t.Fatalf("site A's audit before: %d events, %v", len(auditBefore), err)
		}

		aliceForge := e.fake.AddUser(sessCloudA, jiratest.User{AccountID: "acc-alice", DisplayName: "Alice Admin", Admin: true, DevTools: []string{"ABC"}})
		if got := e.forge("GET", "/forge/me/tokens", sessInstallA, sessCloudA, "acc-alice", aliceForge); got != http.StatusOK {
			t.Fatalf("a Forge call before disconnecting: got %d, want 200", got)
		}
		if got := e.forge("POST", "/forge/admin/uninstall", sessInstallA, sessCloudA, "acc-alice", aliceForge); got != http.StatusNoContent {
			t.Fatalf("disconnecting: got %d, want 204", got)
		}

		t.Run("the session cookie answers 401", func(t *testing.T) {
			if got := alice.api("GET", "/api/v1/me", "", nil); got.Status != http.StatusUnauthorized {
				t.Errorf("got %d, want 401", got.Status)
			}
		})
		t.Run("the API token answers 401", func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.url+"/api/v1/me", nil)
			req.Header.Set("Authorization", "Bearer "+planted)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("got %d, want 401", resp.StatusCode)
			}
		})
		t.Run("a Forge invocation for the removed installation answers 401", func(t *testing.T) {
			if got := e.forge("GET", "/forge/me/tokens", sessInstallA, sessCloudA, "acc-alice", aliceForge); got != http.StatusUnauthorized {
				t.Errorf("got %d, want 401", got)
			}
			if _, err := db.JiraInstallation(ctx, sessInstallA); relay.ErrorCode(err) != relay.ENotFound {
				t.Errorf("the installation after a refused invocation: %v, want not found", err)
			}
		})
		t.Run("users, API tokens, integrations and sessions are gone", func(t *testing.T) {
			if _, _, err := db.APITokenUser(ctx, directory.HashToken(planted)); relay.ErrorCode(err) != relay.ENotFound {
				t.Errorf("API token: %v", err)
			}
			if users, _ := db.Users(ctx, sessInstallA); len(users) != 0 {
				t.Errorf("users: %+v", users)
			}
			if ins, _ := db.Integrations(ctx, sessInstallA); len(ins) != 0 {
				t.Errorf("integrations: %+v", ins)
			}
		})
		t.Run("the audit trail stays, readable by tenant id", func(t *testing.T) {
			after, err := db.Audit(ctx, sessInstallA, relay.AuditFilter{})
			if err != nil || len(after) != len(auditBefore) {
				t.Errorf("audit after: %d events (%v), want %d", len(after), err, len(auditBefore))
			}
		})
		t.Run("the other site is untouched", func(t *testing.T) {
			if got := dave.api("GET", "/api/v1/me", "", nil); got.Status != http.StatusOK {
				t.Errorf("site B's session: got %d, want 200", got.Status)
			}
		})
	})
}

func TestAPITokensAreListedAndRevokedByTheirOwnerAndAdministrators(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		created := e.Do("POST", "/api/v1/users/bob/api-tokens", e.Bob, map[string]any{"name": "deploy", "expires_in_days": 30})
		wantStatus(t, created, http.StatusCreated, "")
		deploy := created.JSON()
		if deploy["expires_at"] == nil || deploy["id"] == "" || deploy["name"] != "deploy" {
			t.Fatalf("created: %s", created.Body)
		}
		secret := deploy["token"].(string)

		t.Run("expires_in_days out of range is a clear 422", func(t *testing.T) {
			for _, days := range []any{0.5, -1, 3651, "ten"} {
				r := e.Do("POST", "/api/v1/users/bob/api-tokens", e.Bob, map[string]any{"expires_in_days": days})
				fields, _ := r.JSON()["fields"].(map[string]any)
				if r.Status != http.StatusUnprocessableEntity || fields["expires_in_days"] == nil {
					t.Errorf("%v days: %d %s, want 422 naming expires_in_days", days, r.Status, r.Body)
				}
			}
		})
		t.Run("the owner lists their tokens without secrets", func(t *testing.T) {
			r := e.Do("GET", "/api/v1/me/api-tokens", e.Bob, nil)
			wantStatus(t, r, http.StatusOK, "")
			if strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), e.Bob) || strings.Contains(string(r.Body), `"token"`) {
				t.Fatalf("a secret is listed: %s", r.Body)
			}
			list := r.List()
			if len(list) != 2 || list[1]["name"] != "deploy" || list[0]["last_used_at"] == nil {
				t.Fatalf("bob's tokens: %s", r.Body)
			}
			for _, k := range []string{"id", "name", "created_at", "last_used_at", "expires_at"} {
				if _, ok := list[0][k]; !ok {
					t.Errorf("field %s missing: %v", k, list[0])
				}
			}
		})
		t.Run("a user cannot see or revoke another user's tokens", func(t *testing.T) {
			wantStatus(t, e.Do("GET", "/api/v1/users/bob/api-tokens", e.Carol, nil), http.StatusForbidden, "forbidden")
			wantStatus(t, e.Do("DELETE", "/api/v1/users/bob/api-tokens/"+deploy["id"].(string), e.Carol, nil), http.StatusForbidden, "forbidden")
			wantStatus(t, e.Do("DELETE", "/api/v1/me/api-tokens/"+deploy["id"].(string), e.Carol, nil), http.StatusNotFound, "not_found")
			wantStatus(t, e.Do("GET", "/api/v1/me", secret, nil), http.StatusOK, "")
		})
		t.Run("an administrator lists and revokes another user's token: 401 at once", func(t *testing.T) {
			list := e.Do("GET", "/api/v1/users/bob/api-tokens", e.Admin, nil).List()
			if len(list) != 2 {
				t.Fatalf("bob's tokens as the administrator sees them: %v", list)
			}
			wantStatus(t, e.Do("DELETE", "/api/v1/users/bob/api-tokens/"+deploy["id"].(string), e.Admin, nil), http.StatusNoContent, "")
			wantStatus(t, e.Do("GET", "/api/v1/me", secret, nil), http.StatusUnauthorized, "unauthenticated")
		})
		t.Run("an expired token answers 401", func(t *testing.T) {
			ctx := context.Background()
			bob, err := db.UserByUsername(ctx, relay.LocalTenant, "bob")
			if err != nil {
				t.Fatal(err)
			}
			expired := directory.APITokenPrefix + "expired-a-second-ago"
			if err := db.CreateAPIToken(ctx, relay.APIToken{ID: relay.NewID(), TenantID: relay.LocalTenant, UserID: bob.ID,
				Name: "old", Hash: directory.HashToken(expired), CreatedAt: time.Now().Add(-time.Hour),
				ExpiresAt: time.Now().Add(-time.Second)}, relay.AuditEvent{Action: relay.ActionAPITokenCreate, Outcome: relay.OutcomeSuccess}); err != nil {
				t.Fatal(err)
			}
			wantStatus(t, e.Do("GET", "/api/v1/me", expired, nil), http.StatusUnauthorized, "unauthenticated")
			if list := e.Do("GET", "/api/v1/me/api-tokens", e.Bob, nil).List(); len(list) != 2 || list[0]["name"] != "old" || list[0]["expires_at"] == nil {
				t.Fatalf("the expired token is not listed with its expiry: %v", list)
			}
		})
		t.Run("the owner revokes their own token: 401 at once", func(t *testing.T) {
			var id string
			for _, tok := range e.Do("GET", "/api/v1/me/api-tokens", e.Bob, nil).List() {
				if tok["name"] == "test" {
					id = tok["id"].(string)
				}
			}
			wantStatus(t, e.Do("DELETE", "/api/v1/me/api-tokens/"+id, e.Bob, nil), http.StatusNoContent, "")
			wantStatus(t, e.Do("GET", "/api/v1/me", e.Bob, nil), http.StatusUnauthorized, "unauthenticated")
		})
	})
}
