package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/gitrelay/gitrelay/internal/jira/jiratest"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
	"github.com/gitrelay/gitrelay/internal/web"
)

// The JSON API and the Forge remote are two doors to the same actions: for
// the same user and request they answer the same status and the same bytes,
// results and errors alike, so the Forge panel and API clients cannot
// drift apart.
func TestTheAPIAndTheForgeRemoteAnswerAlike(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newJiraSessions(t, db)

		alice := e.browser()
		alicePage := alice.signIn("acc-alice", "/issues/ABC-1")
		created := alice.api("POST", "/api/v1/integrations", alice.csrf(alicePage), map[string]any{
			"kind": "github-enterprise", "name": "Site A GHE", "base_url": e.hostURL,
			"credential": map[string]string{"token": sessBotToken}})
		if created.Status != http.StatusCreated {
			t.Fatalf("adding an integration: got %d %s, want 201", created.Status, created.Body)
		}
		id := decode[map[string]any](t, created)["id"].(string)

		// bob, through the pages' API session and through the Forge panel.
		bob := e.browser()
		bobCSRF := bob.csrf(bob.signIn("acc-bob", "/issues/ABC-1"))
		bobForgeToken := e.fake.AddUser(sessCloudA, jiratest.User{AccountID: "acc-bob", DisplayName: "Bob Builder", DevTools: []string{"ABC"}})
		// Both doors are asked under one request id, which every error
		// answer quotes.
		const requestID = "edges-alike-1"
		forge := func(method, path string, body []byte) visit {
			t.Helper()
			req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Request-ID", requestID)
			req.Header.Set("Authorization", "Bearer "+e.fake.FIT(jiratest.Claims{InstallationID: sessInstallA, CloudID: sessCloudA,
				SiteURL: sessSiteA, AccountID: "acc-bob"}))
			req.Header.Set("x-forge-oauth-user", bobForgeToken)
			req.Header.Set("x-forge-oauth-system", e.fake.SystemToken(sessCloudA))
			req.Header.Set("Content-Type", "application/json")
			return bob.do(req)
		}
		api := func(method, path string, body []byte) visit {
			t.Helper()
			req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Request-ID", requestID)
			req.Header.Set(web.CSRFHeader, bobCSRF)
			req.Header.Set("Content-Type", "application/json")
			return bob.do(req)
		}
		repos := decode[[]map[string]any](t, bob.api("GET", "/api/v1/integrations/"+id+"/repositories", "", nil))
		if len(repos) != 1 {
			t.Fatalf("repositories: %v", repos)
		}
		createBranch, _ := json.Marshal(map[string]any{"integration_id": id, "repository_id": repos[0]["id"], "name": "ABC-1-alike"})

		first := api("POST", "/api/v1/issues/ABC-1/branches", createBranch)
		if first.Status != http.StatusCreated {
			t.Fatalf("creating the branch: got %d %s, want 201", first.Status, first.Body)
		}

		tests := []struct {
			name       string
			method     string
			apiPath    string
			forgePath  string
			body       []byte
			wantStatus int
			check      func(t *testing.T, body map[string]any)
		}{
			{"a repeated branch creation is the same success, naming who asked", "POST",
				"/api/v1/issues/ABC-1/branches", "/forge/issues/ABC-1/branches", createBranch, http.StatusCreated,
				func(t *testing.T, b map[string]any) {
					if b["already_existed"] != true || b["created_by"] != "acc-bob" || b["name"] != "ABC-1-alike" {
						t.Errorf("answer %v, want already_existed true, created_by acc-bob", b)
					}
				}},
			{"the development panel", "GET",
				"/api/v1/issues/ABC-1/development", "/forge/issues/ABC-1/development", nil, http.StatusOK,
				func(t *testing.T, b map[string]any) {
					bs, _ := b["branches"].([]any)
					if len(bs) == 0 || bs[0].(map[string]any)["created_by"] != "acc-bob" {
						t.Errorf("panel %v, want the branch with created_by", b)
					}
				}},
			{"an unknown field", "POST",
				"/api/v1/issues/ABC-1/branches", "/forge/issues/ABC-1/branches", []byte(`{"integration_id":"x","colour":"red"}`),
				http.StatusUnprocessableEntity, nil},
			{"a body that is not an object", "POST",
				"/api/v1/issues/ABC-1/branches", "/forge/issues/ABC-1/branches", []byte(`[1,2]`),
				http.StatusUnprocessableEntity, nil},
			{"two objects", "POST",
				"/api/v1/issues/ABC-1/branches", "/forge/issues/ABC-1/branches", append(append([]byte{}, createBranch...), createBranch...),
				http.StatusUnprocessableEntity, nil},
			{"a path that names no issue", "GET",
				"/api/v1/issues/not-a-key/development", "/forge/issues/not-a-key/development", nil, http.StatusNotFound, nil},
			{"a branch name without the issue key", "POST",
				"/api/v1/issues/ABC-1/branches", "/forge/issues/ABC-1/branches",
				[]byte(`{"integration_id":"` + id + `","repository_id":"` + repos[0]["id"].(string) + `","name":"no-issue-key"}`),
				http.StatusUnprocessableEntity, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := api(tt.method, tt.apiPath, tt.body)
				f := forge(tt.method, tt.forgePath, tt.body)
				if a.Status != tt.wantStatus || f.Status != tt.wantStatus {
					t.Fatalf("API %d %s, Forge %d %s; want %d from both", a.Status, a.Body, f.Status, f.Body, tt.wantStatus)
				}
				if a.Body != f.Body {
					t.Errorf("the edges answer differently:\nAPI:   %s\nForge: %s", a.Body, f.Body)
				}
				body := decode[map[string]any](t, a)
				if tt.wantStatus >= 400 {
					er, _ := body["error"].(map[string]any)
					if er == nil || er["code"] == "" || er["message"] == "" || er["request_id"] != requestID {
						t.Errorf("error answer %s lacks error.code, error.message or error.request_id", a.Body)
					}
				}
				if tt.check != nil {
					tt.check(t, body)
				}
			})
		}
		e.noSecrets()
	})
}
