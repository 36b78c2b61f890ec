package app_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/relay"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// Bot2Token is the new server's integration credential.
const (
	Bot2Token = "ghp_CANARYbot2TOKEN000000000000000000004"
	Bot2Login = "relay-bot-2"
)

// otherServer is a second git host an administrator points an integration
// at. It accepts bob's token too, as a hostile server would, and records
// every request that carried one of bob's secrets in any header or body.
type otherServer struct {
	Sim *hostsim.Sim
	URL string

	mu      sync.Mutex
	secrets []string
	leaks   []string
}

func newOtherServer(t *testing.T, f apptest.Fixture) *otherServer {
	t.Helper()
	o := &otherServer{Sim: hostsim.New()}
	t.Cleanup(o.Sim.Close)
	for _, v := range f.Credential(apptest.BobToken) {
		if v != "" {
			o.secrets = append(o.secrets, v)
		}
	}
	o.Sim.AddToken(hostsim.Token{Value: Bot2Token, Login: Bot2Login, Name: "Relay Bot 2", Scopes: f.FullScopes})
	o.Sim.AddToken(f.Token(apptest.BobToken))
	o.Sim.AddRepo(hostsim.Repo{Owner: "acme", Name: "widgets", Private: true, Writers: []string{Bot2Login, apptest.BobLogin}})
	inner := f.Serve(o.Sim)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		o.inspect(r, body)
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	o.URL = srv.URL
	return o
}

// inspect records the request when a header (Basic credentials decoded
// too) or the body holds one of bob's secrets.
func (o *otherServer) inspect(r *http.Request, body []byte) {
	var seen []string
	for _, vs := range r.Header {
		for _, v := range vs {
			seen = append(seen, v)
			if b, ok := strings.CutPrefix(v, "Basic "); ok {
				if dec, err := base64.StdEncoding.DecodeString(b); err == nil {
					seen = append(seen, string(dec))
				}
			}
		}
	}
	seen = append(seen, string(body), r.URL.String())
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range seen {
		for _, secret := range o.secrets {
			if strings.Contains(s, secret) {
				o.leaks = append(o.leaks, r.Method+" "+r.URL.Path)
			}
		}
	}
}

func (o *otherServer) wantNoLeak(t *testing.T) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.leaks) > 0 {
		t.Fatalf("bob's token was sent to the new server in %d requests: %v", len(o.leaks), o.leaks)
	}
}

// moveBody is the PATCH that points an integration at the host at url,
// with the new server's integration credential.
func moveBody(f apptest.Fixture, url string) map[string]any {
	body := f.Integration(url)
	body["credential"] = f.Credential(Bot2Token)
	return body
}

func myToken(t *testing.T, e *apptest.Env, apiToken, integrationID string) map[string]any {
	t.Helper()
	r := e.Do("GET", "/api/v1/me/tokens", apiToken, nil)
	wantStatus(t, r, http.StatusOK, "")
	for _, v := range r.List() {
		if v["integration_id"] == integrationID {
			return v
		}
	}
	t.Fatalf("no token entry for %s in %s", integrationID, r.Body)
	return nil
}

// repoID learns the repository's id on the integration's current host.
func repoID(t *testing.T, e *apptest.Env, integrationID string) string {
	t.Helper()
	repos := e.Do("GET", "/api/v1/integrations/"+integrationID+"/repositories?q=widgets", e.Admin, nil).List()
	if len(repos) != 1 {
		t.Fatalf("repositories matching widgets: %v", repos)
	}
	return repos[0]["id"].(string)
}

// An administrator points an integration at another server (base URL,
// CodeCommit endpoints, Azure DevOps organization, or another kind of
// host): every user's PAT for it is deleted in the same change, audited as
// token.dropped naming the user, who sees the token missing with the
// reason; bob's next Create branch acts as the new integration account and
// never sends bob's token to the new server.
func TestMovingAnIntegrationToAnotherHostDropsEveryPAT(t *testing.T) {
	cases := []struct {
		name     string
		from, to apptest.Fixture
	}{
		{"github enterprise base URL", apptest.GitHubEnterprise(), apptest.GitHubEnterprise()},
		{"gitlab base URL", apptest.GitLabSelfManaged(), apptest.GitLabSelfManaged()},
		{"gitea base URL", apptest.Gitea(), apptest.Gitea()},
		{"azure devops organization", apptest.AzureDevOps(), apptest.AzureDevOps()},
		{"codecommit endpoint options", apptest.CodeCommit(), apptest.CodeCommit()},
		{"kind of host", apptest.GitHubEnterprise(), apptest.Gitea()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e := apptest.New(t, db, apptest.Options{Fixture: &tc.from})
				id := e.Integration(false, nil)
				wantStatus(t, e.SaveToken(e.Bob, id, apptest.BobToken), http.StatusOK, "")
				if v := myToken(t, e, e.Bob, id); v["status"] != "valid" {
					t.Fatalf("bob's token before the move: %v", v)
				}

				other := newOtherServer(t, tc.to)
				r := e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, moveBody(tc.to, other.URL))
				wantStatus(t, r, http.StatusOK, "")
				if !strings.Contains(r.JSON()["warnings"].([]any)[0].(string), "1 personal access tokens saved for the previous host were deleted") {
					t.Errorf("the administrator is not told that tokens were deleted: %s", r.Body)
				}

				toks, err := db.UserTokens(t.Context(), relay.LocalTenant, bobID(t, e))
				if err != nil || len(toks) != 0 {
					t.Fatalf("bob's tokens after the move: %v %v", toks, err)
				}
				rows := auditRows(t, e, "action=token.dropped")
				if len(rows) != 1 || rows[0]["user"] != "bob" || rows[0]["integration_id"] != id ||
					rows[0]["login"] != apptest.BobLogin || !strings.Contains(rows[0]["detail"].(string), "admin changed the host") {
					t.Fatalf("token.dropped audit rows: %v", rows)
				}

				v := myToken(t, e, e.Bob, id)
				reason, _ := v["status_reason"].(string)
				if v["status"] != "missing" || !strings.Contains(reason, "now points at another server") || !strings.Contains(reason, other.URL) {
					t.Fatalf("bob's token after the move: %v", v)
				}

				e.RepoID = repoID(t, e, id)
				r = e.CreateBranch(e.Bob, id, "ABC-1-after-move")
				wantStatus(t, r, http.StatusCreated, "")
				if acted := r.JSON()["acted_as"].(map[string]any); acted["via"] != "integration" || acted["login"] != Bot2Login {
					t.Fatalf("acted_as = %v, want the new integration account", acted)
				}
				if n := writesBy(other.Sim.Writes(), apptest.BobLogin); n != 0 {
					t.Fatalf("bob's token wrote %d times on the new server", n)
				}
				other.wantNoLeak(t)

				// Saving a new token, validated against the new server, clears
				// the reason.
				wantStatus(t, e.SaveToken(e.Bob, id, apptest.BobToken), http.StatusOK, "")
				if v := myToken(t, e, e.Bob, id); v["status"] != "valid" || v["status_reason"] != nil {
					t.Fatalf("bob's token saved again: %v", v)
				}
			})
		})
	}
}

// Changes that keep the host the integration talks to keep users' PATs.
func TestChangesThatKeepTheHostKeepPATs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		id := e.Integration(false, nil)
		wantStatus(t, e.SaveToken(e.Bob, id, apptest.BobToken), http.StatusOK, "")
		for _, patch := range []map[string]any{
			{"name": "Renamed"},
			{"require_user_pat": true},
			{"require_user_pat": false},
			{"projects": []string{"ABC"}},
			{"projects": nil},
			{"enabled": true},
			// The same server written differently, with a new credential.
			{"base_url": e.HostURL + "/api/v3/", "credential": e.Fixture.Credential(apptest.BotToken)},
		} {
			wantStatus(t, e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, patch), http.StatusOK, "")
		}
		if rows := auditRows(t, e, "action=token.dropped"); len(rows) != 0 {
			t.Fatalf("token.dropped audit rows: %v", rows)
		}
		if v := myToken(t, e, e.Bob, id); v["status"] != "valid" {
			t.Fatalf("bob's token: %v", v)
		}
		r := e.CreateBranch(e.Bob, id, "ABC-1-kept")
		wantStatus(t, r, http.StatusCreated, "")
		if acted := r.JSON()["acted_as"].(map[string]any); acted["via"] != "user_token" || acted["login"] != apptest.BobLogin {
			t.Fatalf("acted_as = %v, want bob's token", acted)
		}
	})
}

// A sealed PAT is bound to the origin it was validated against: a row put
// back after the integration moved, its origin rewritten to the new
// host's, does not open, so gitrelay treats the token as missing and never
// sends it anywhere.
func TestTokenRowWithRewrittenOriginDoesNotOpen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := apptest.New(t, db)
		ctx := t.Context()
		id := e.Integration(false, nil)
		wantStatus(t, e.SaveToken(e.Bob, id, apptest.BobToken), http.StatusOK, "")
		saved, err := db.UserToken(ctx, relay.LocalTenant, bobID(t, e), id)
		if err != nil {
			t.Fatal(err)
		}

		other := newOtherServer(t, e.Fixture)
		wantStatus(t, e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, moveBody(e.Fixture, other.URL)), http.StatusOK, "")
		in, err := db.Integration(ctx, relay.LocalTenant, id)
		if err != nil {
			t.Fatal(err)
		}
		saved.Origin = e.App.Hosts.Origin(in.HostConfig())
		if err := db.PutUserToken(ctx, saved, relay.AuditEvent{TenantID: relay.LocalTenant, Action: "test.tamper", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}

		// A saved token that cannot be used refuses the action: neither is
		// it sent, nor does the integration account act in bob's stead.
		before := len(e.Writes())
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-tampered"), http.StatusPreconditionRequired, "user_token_required")
		if n := len(e.Writes()) - before; n != 0 {
			t.Fatalf("%d host writes for a refused action", n)
		}
		wantStatus(t, e.Do("PATCH", "/api/v1/integrations/"+id, e.Admin, map[string]any{"require_user_pat": true}), http.StatusOK, "")
		wantStatus(t, e.CreateBranch(e.Bob, id, "ABC-1-tampered-required"), http.StatusPreconditionRequired, "user_token_required")
		other.wantNoLeak(t)
		if !strings.Contains(e.Logs.String(), "does not open for the integration's host") {
			t.Errorf("the log does not say why the token was not used")
		}
	})
}
