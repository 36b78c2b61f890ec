package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/gitrelay/gitrelay/internal/app/apptest"
	"github.com/gitrelay/gitrelay/internal/host/hostsim"
	"github.com/gitrelay/gitrelay/internal/store"
	"github.com/gitrelay/gitrelay/internal/store/storetest"
)

// hookFormats are the webhook formats of the host kinds that send them.
var hookFormats = map[string]hostsim.HookFormat{
	"github": hostsim.HookGitHub, "github-enterprise": hostsim.HookGitHub,
	"gitlab": hostsim.HookGitLab, "gitlab-self-managed": hostsim.HookGitLab,
	"gitea": hostsim.HookGitea, "azure-devops": hostsim.HookAzure, "vsts": hostsim.HookAzure, "tfs": hostsim.HookAzure,
}

// A push on the host reaches gitrelay as a webhook signed in the host's own
// scheme and queues a read of the repository; a delivery forged without
// the secret, or signed with a rotated one, is refused and counted.
func TestWebhooksFromTheHostQueueReadsAndForgedOnesAreRefused(t *testing.T) {
	for _, f := range apptest.Fixtures() {
		format, ok := hookFormats[string(f.Kind)]
		if !ok {
			continue
		}
		t.Run(f.Label(), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e := apptest.New(t, db, apptest.Options{Fixture: &f})
				id := e.Integration(false, nil)
				ctx := context.Background()

				if r := e.Do("GET", "/api/v1/integrations/"+id+"/webhook", e.Bob, nil); r.Status != http.StatusForbidden || strings.Contains(string(r.Body), "secret\"") {
					t.Fatalf("a user reading the webhook: %d %s, want 403 without the secret", r.Status, r.Body)
				}
				r := e.Do("GET", "/api/v1/integrations/"+id+"/webhook", e.Admin, nil)
				hook := r.JSON()
				secret, _ := hook["secret"].(string)
				if r.Status != http.StatusOK || secret == "" || !strings.HasSuffix(hook["url"].(string), "/hooks/"+id) || hook["last_delivery_at"] != nil {
					t.Fatalf("the administrator reading the webhook: %d %v", r.Status, hook)
				}
				if r.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("the webhook answer may be cached: Cache-Control %q", r.Header.Get("Cache-Control"))
				}

				e.Sim.AddHook(apptest.Repo, hostsim.Hook{URL: e.URL + "/hooks/" + id, Secret: secret, Format: format, Client: e.Client})
				e.Sim.AddBranch(apptest.Repo, "ABC-1-webhooks", "")
				got := e.Sim.Deliveries()
				if len(got) != 1 || got[0].Status != http.StatusAccepted {
					t.Fatalf("the host's deliveries = %+v, want one accepted (202)", got)
				}
				// A branch created through gitrelay is a push too: the
				// host delivers it while gitrelay's action waits for the
				// host's answer.
				if r := e.CreateBranch(e.Admin, id, "ABC-1-through-gitrelay"); r.Status != http.StatusCreated {
					t.Fatalf("creating a branch with the webhook in place: %d %s", r.Status, r.Body)
				}
				if got := e.Sim.Deliveries(); len(got) != 2 || got[1].Status != http.StatusAccepted {
					t.Fatalf("the host's deliveries = %+v, want a second one accepted", got)
				}
				changes, err := db.RepositoryChanges(ctx, 10)
				if err != nil || len(changes) != 1 || changes[0].IntegrationID != id || changes[0].Event != "push" ||
					!strings.EqualFold(changes[0].Repository, apptest.Repo) {
					t.Fatalf("queued reads = %+v, %v; want a push of %s", changes, err, apptest.Repo)
				}

				// A forger who knows the URL but not the secret.
				forged := hostsim.Hook{URL: e.URL + "/hooks/" + id, Secret: "guessed", Format: format}
				req, err := hostsim.HookRequest(ctx, forged, hostsim.Repo{ID: 1, Owner: "acme", Name: "widgets"}, hostsim.PushEvent(apptest.Repo, "main", "", "abc"))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := e.Client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("a forged delivery answered %d, want 403", resp.StatusCode)
				}

				r = e.Do("POST", "/api/v1/integrations/"+id+"/webhook/rotate", e.Admin, nil)
				if r.Status != http.StatusOK || r.JSON()["secret"] == secret {
					t.Fatalf("rotating: %d, a new secret: %v", r.Status, r.JSON()["secret"] != secret)
				}
				e.Sim.Commit(apptest.Repo, "ABC-1-webhooks") // still signed with the old secret
				if got := e.Sim.Deliveries(); got[len(got)-1].Status != http.StatusForbidden {
					t.Fatalf("a delivery with the rotated-out secret answered %d, want 403", got[len(got)-1].Status)
				}

				hook = e.Do("GET", "/api/v1/integrations/"+id+"/webhook", e.Admin, nil).JSON()
				if hook["deliveries"] != float64(2) || hook["refused"] != float64(2) || hook["last_delivery_at"] == nil {
					t.Fatalf("the webhook's counters = %v, want 2 deliveries and 2 refused", hook)
				}
				if strings.Contains(e.Logs.String(), secret) {
					t.Fatalf("the log shows the webhook secret")
				}
				metrics := e.Do("GET", "/metrics", "", nil)
				for _, line := range []string{
					`gitrelay_webhook_deliveries_total{kind="` + string(f.Kind) + `",outcome="queued"} 2`,
					`gitrelay_webhook_deliveries_total{kind="` + string(f.Kind) + `",outcome="forged"} 2`,
				} {
					if !strings.Contains(string(metrics.Body), line) {
						t.Errorf("the metrics do not say %s", line)
					}
				}
			})
		})
	}
}

// CodeCommit sends no webhooks gitrelay can verify, and an integration that
// does not exist has no webhook.
func TestWebhooksOfHostsWithoutThemAndOfUnknownIntegrations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := apptest.CodeCommit()
		e := apptest.New(t, db, apptest.Options{Fixture: &f})
		id := e.Integration(false, nil)
		if r := e.Do("GET", "/api/v1/integrations/"+id+"/webhook", e.Admin, nil); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("the webhook of a CodeCommit integration: %d %s, want 422", r.Status, r.Body)
		}
		if r := e.Do("POST", "/api/v1/integrations/nope/webhook/rotate", e.Admin, nil); r.Status != http.StatusNotFound {
			t.Errorf("rotating the webhook of no integration: %d %s, want 404", r.Status, r.Body)
		}
		resp, err := e.Client.Post(e.URL+"/hooks/"+id, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a delivery for an integration without a webhook answered %d, want 401", resp.StatusCode)
		}
	})
}
